/* Per-tier retention, pruned in small steps through the database queue by
 * a thread of its own, once per prune-interval. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "periodic.h"
#include "store_prune.h"

#include <stdatomic.h>

struct server_config;
struct server_db;
struct server_engine;

struct server_retention {
	struct aio_periodic thread; /* one pass per prune-interval */
	const struct server_config *conf;
	struct server_db *db;
	struct server_engine *engine; /* whether this server leads, or NULL */
	atomic_uint_fast64_t pruned_total, passes;
};

int server_retention_start(struct server_retention *rt, const struct server_config *conf,
                           struct server_db *db);
/* Stops between two steps; call before the database closes. */
void server_retention_stop(struct server_retention *rt);
/* One pass over every tier; blocks until done, or stop(arg) says so
 * between steps. 0, -ECANCELED, or the database's error. */
int server_retention_pass(struct server_retention *rt, bool (*stop)(void *arg), void *arg);
