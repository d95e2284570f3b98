#include "fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

static void open_store(struct fixture *f)
{
	char err[256];

	cr_assert_eq(server_store_open(f->path, &f->db, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(server_hosts_init(&f->reg), 0);
	cr_assert_eq(server_store_load_hosts(f->db, &f->reg), 0);
}

void fixture_open(struct fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/aioctl-unit-XXXXXX");
	cr_assert(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/server.db", f->dir);
	open_store(f);
}

void fixture_close(struct fixture *f)
{
	if (!f->db)
		return;
	server_db_close(f->db);
	f->db = NULL;
	server_hosts_done(&f->reg);
}

void fixture_reopen(struct fixture *f)
{
	fixture_close(f);
	open_store(f);
}

struct server_reader *fixture_reader(struct fixture *f)
{
	struct server_reader *rd;
	char err[256];

	cr_assert(rd = server_reader_open(f->path, err, sizeof(err)), "%s", err);
	return rd;
}

void fixture_done(struct fixture *f)
{
	char cmd[128];

	fixture_close(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	cr_assert_eq(system(cmd), 0);
}
