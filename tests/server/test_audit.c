/* The audit log (server/audit.c): entries stored on their own or with the
 * engine's rows, read newest first within a bound, and never changed. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "fixture.h"
#include "rollout_store.h"
#include "store_prune.h"

static struct fixture f;

static void setup(void)
{
	fixture_open(&f);
	cr_assert_eq(server_db_start(f.db, 1000, 64, 0), 0);
}

static void teardown(void)
{
	fixture_done(&f);
}

TestSuite(audit, .init = setup, .fini = teardown, .timeout = 20);

static void read_all(uint32_t limit, struct server_audit_entry **v, size_t *n, bool *truncated)
{
	struct server_reader *rd = fixture_reader(&f);

	cr_assert_eq(server_audit_read(rd, 0, limit, v, n, truncated), 0);
	server_reader_close(rd);
}

Test(audit, entries_come_back_newest_first_within_the_limit)
{
	struct server_audit_entry *v;
	bool truncated;
	size_t n;

	cr_assert_eq(server_audit_log(f.db, "alice@127.0.0.1", "token.create", "bob", "viewer"), 0);
	cr_assert_eq(server_audit_log(f.db, "alice@127.0.0.1", "host.revoke", "hv1", NULL), 0);
	cr_assert_eq(server_audit_log(f.db, "host hv2@127.0.0.1", "host.enroll", "hv2", "enrolled"),
	             0);
	fixture_reopen(&f); /* commits them */
	read_all(10, &v, &n, &truncated);
	cr_assert_eq(n, 3);
	cr_assert_not(truncated);
	cr_assert_str_eq(v[0].action, "host.enroll");
	cr_assert_str_eq(v[1].action, "host.revoke");
	cr_assert_null(v[1].result);
	cr_assert_str_eq(v[2].who, "alice@127.0.0.1");
	cr_assert_str_eq(v[2].target, "bob");
	cr_assert_gt(v[0].time_ms, 0);
	server_audit_list_free(v, n);

	read_all(2, &v, &n, &truncated);
	cr_assert_eq(n, 2);
	cr_assert(truncated, "more than the limit says so");
	server_audit_list_free(v, n);
}

Test(audit, entries_go_with_the_engines_rows_in_one_write)
{
	struct server_save *sv = server_save_new(f.db);
	struct server_audit_entry *v;
	bool truncated;
	size_t n;

	cr_assert(sv);
	cr_assert_eq(server_save_audit(sv, "ops@127.0.0.1", "rollout.pause", NULL, "paused"), 0);
	cr_assert_eq(server_save_submit(sv, NULL, NULL, true), 0);
	fixture_reopen(&f);
	read_all(10, &v, &n, &truncated);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].action, "rollout.pause");
	server_audit_list_free(v, n);
}

Test(audit, the_log_is_append_only)
{
	sqlite3 *c;

	cr_assert_eq(server_audit_log(f.db, "alice", "token.create", "bob", "viewer"), 0);
	fixture_close(&f);
	cr_assert_eq(sqlite3_open(f.path, &c), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(c, "UPDATE audit SET who = 'mallory'", NULL, NULL, NULL),
	              SQLITE_OK);
	cr_assert_neq(sqlite3_exec(c, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_str_eq(sqlite3_errmsg(c), "the audit log is append-only");
	sqlite3_close(c);
}

/* Thousands of denied calls once wrote as many entries for ever: the log
 * now has a retention, and stays append-only within a day. */
Test(audit, retention_removes_old_entries_only)
{
	struct server_prune_stats stats = { 0 };
	uint64_t keep[PRUNE_KINDS] = { 0 }, now = aio_now_ms();
	struct server_audit_entry *v;
	char sql[256];
	bool truncated;
	sqlite3 *c;
	size_t n;

	cr_assert_eq(server_audit_log(f.db, "alice", "host.revoke", "hv1", "revoked"), 0);
	fixture_close(&f);
	cr_assert_eq(sqlite3_open(f.path, &c), SQLITE_OK);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO audit (time_ms, who, action) VALUES (%llu, 'alice', 'token.create')",
	         (unsigned long long)(now - 40 * AIO_DAY_MS));
	cr_assert_eq(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	fixture_reopen(&f);
	cr_assert_eq(server_db_start(f.db, 1000, 64, 0), 0);

	keep[PRUNE_AUDIT] = 30 * AIO_DAY_MS;
	cr_assert_eq(server_store_prune(f.db, keep, now, 100, NULL, NULL, &stats), 0);
	cr_expect_eq(stats.deleted[PRUNE_AUDIT], 1);
	read_all(10, &v, &n, &truncated);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(v[0].action, "host.revoke", "the recent entry stays");
	server_audit_list_free(v, n);

	/* and the database itself refuses to remove a young one */
	fixture_close(&f);
	cr_assert_eq(sqlite3_open(f.path, &c), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(c, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
	cr_expect_str_eq(sqlite3_errmsg(c), "the audit log is append-only");
	sqlite3_close(c);
}
