/* A store of its own for a server unit suite: a temporary directory with
 * server.db, opened, migrated and started, and removed afterwards. */
#pragma once

#include "db.h"
#include "hosts.h"
#include "query.h"

struct fixture {
	char dir[64], path[128];
	struct server_db *db;
	struct server_hosts reg;
};

/* Makes the directory and opens the store with its hosts loaded. */
void fixture_open(struct fixture *f);
/* Commits what is queued and closes the store (the directory stays). */
void fixture_close(struct fixture *f);
/* Opens the store again, as a restarted server does. */
void fixture_reopen(struct fixture *f);
/* A reader on the store, as the query thread has. */
struct server_reader *fixture_reader(struct fixture *f);
/* Closes what is open and removes the directory. */
void fixture_done(struct fixture *f);
