#include "audit.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "log.h"

const struct server_db_migration server_audit_migrations[] = {
	{ 3, "CREATE TABLE audit ("
	     "  id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, who TEXT NOT NULL,"
	     "  action TEXT NOT NULL, target TEXT, result TEXT);"
	     "CREATE INDEX audit_by_time ON audit (time_ms);"
	     /* append-only: nothing may change or remove an entry */
	     "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	     "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	     "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	     "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;" },
	/* retention: an entry may leave once it is a day old, never sooner */
	{ 11, "DROP TRIGGER audit_no_delete;"
	      "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	      "  WHEN old.time_ms > CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 86400000"
	      "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;" },
	{ 0, NULL },
};

const char server_audit_prune_sql[] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit"
                                      " WHERE time_ms < ?2 AND ?1 = ?1 ORDER BY id LIMIT ?3)";

static const char *const insert_sql = "INSERT INTO audit (time_ms, who, action, target, result)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5)";

static void logged(void *arg, int err)
{
	if (err)
		log_warn_errno(err, "audit entry not stored");
}

int server_audit_log(struct server_db *db, const char *who, const char *action, const char *target,
                     const char *result)
{
	int r = server_db_exec(db, logged, NULL, insert_sql, "itttt", (int64_t)aio_now_ms(), who,
	                       action, target, result);

	if (r < 0)
		log_warn_errno(r, "audit entry not stored: %s %s %s", who, action,
		               target ? target : "");
	return r;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int server_audit_entry_set(struct server_audit_entry *e, uint64_t now_ms, const char *who,
                           const char *action, const char *target, const char *result)
{
	e->time_ms = now_ms;
	e->who = strdup(who ? who : "");
	e->action = strdup(action ? action : "");
	e->target = dup_or_null(target);
	e->result = dup_or_null(result);
	if (!e->who || !e->action || (target && !e->target) || (result && !e->result)) {
		server_audit_entry_done(e);
		return -ENOMEM;
	}
	return 0;
}

void server_audit_entry_done(struct server_audit_entry *e)
{
	free(e->who);
	free(e->action);
	free(e->target);
	free(e->result);
	memset(e, 0, sizeof(*e));
}

void server_audit_list_free(struct server_audit_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		server_audit_entry_done(&v[i]);
	free(v);
}

int server_audit_apply(sqlite3 *conn, const struct server_audit_entry *v, size_t n)
{
	sqlite3_stmt *st;
	int rc;

	if (!n)
		return SQLITE_OK;
	if ((rc = sqlite3_prepare_v2(conn, insert_sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		sqlite3_bind_int64(st, 1, (int64_t)v[i].time_ms);
		sqlite3_bind_text(st, 2, v[i].who, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v[i].action, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, v[i].target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, v[i].result, -1, SQLITE_STATIC);
		rc = server_db_step(st);
	}
	sqlite3_finalize(st);
	return rc;
}

int server_audit_read(struct server_reader *rd, uint64_t since_ms, uint32_t limit,
                      struct server_audit_entry **ret_v, size_t *ret_n, bool *ret_truncated)
{
	static const char sql[] = "SELECT time_ms, who, action, target, result FROM audit"
	                          " WHERE time_ms >= ?1 ORDER BY id DESC LIMIT ?2";
	struct server_audit_entry *v = calloc(limit + 1, sizeof(*v));
	sqlite3_stmt *st = server_reader_stmt(rd, sql);
	bool truncated = false;
	size_t n = 0;
	int rc;

	if (!v || !st) {
		free(v);
		return v ? -EIO : -ENOMEM;
	}
	sqlite3_bind_int64(st, 1, (int64_t)since_ms);
	sqlite3_bind_int64(st, 2, (int64_t)limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit) {
			truncated = true;
			break;
		}
		if (server_audit_entry_set(&v[n], (uint64_t)sqlite3_column_int64(st, 0),
		                           (const char *)sqlite3_column_text(st, 1),
		                           (const char *)sqlite3_column_text(st, 2),
		                           (const char *)sqlite3_column_text(st, 3),
		                           (const char *)sqlite3_column_text(st, 4)) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		server_audit_list_free(v, n);
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	*ret_v = v;
	*ret_n = n;
	*ret_truncated = truncated;
	return 0;
}

static int apply_one(sqlite3 *conn, void *arg)
{
	return server_audit_apply(conn, arg, 1);
}

static void free_one(void *arg)
{
	if (arg)
		server_audit_entry_done(arg);
	free(arg);
}

int server_audit_exec(struct server_db *db, const char *who, const char *action, const char *target,
                      const char *result, void (*then)(void *arg, int err), void *arg,
                      const char *sql, const char *types, ...)
{
	struct server_audit_entry *e = calloc(1, sizeof(*e));
	va_list ap;
	int r;

	if (!e || server_audit_entry_set(e, aio_now_ms(), who, action, target, result) < 0) {
		free(e);
		return -ENOMEM;
	}
	va_start(ap, types);
	r = server_db_vexec(db, apply_one, e, free_one, then, arg, sql, types, ap);
	va_end(ap);
	return r;
}
