#include "store_alerts.h"

#include <errno.h>
#include <sqlite3.h>

#include "log.h"

const struct server_db_migration server_store_alerts_migrations[] = {
	{ 7, "CREATE TABLE alerts ("
	     "  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,"
	     "  started_ms INTEGER NOT NULL, cleared_ms INTEGER, value REAL, threshold REAL,"
	     "  message TEXT);"
	     "CREATE INDEX alerts_active ON alerts (kind, subject) WHERE cleared_ms IS NULL;"
	     "CREATE INDEX alerts_by_cleared ON alerts (cleared_ms);" },
	{ 0, NULL },
};

static const char *text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* Columns: kind, subject, started_ms, cleared_ms, value, threshold,
 * message. */
static int rows(sqlite3_stmt *st, int (*row)(const struct server_store_alert *a, void *arg),
                void *arg)
{
	int rc, r = 0;

	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct server_store_alert a = {
			.kind = text(st, 0),
			.subject = text(st, 1),
			.started_ms = (uint64_t)sqlite3_column_int64(st, 2),
			.cleared_ms = (uint64_t)sqlite3_column_int64(st, 3),
			.value = sqlite3_column_double(st, 4),
			.threshold = sqlite3_column_double(st, 5),
			.message = text(st, 6),
		};

		r = row(&a, arg);
	}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int server_store_alerts_load(struct server_db *db, size_t recent_max,
                             int (*row)(const struct server_store_alert *a, void *arg), void *arg)
{
	sqlite3 *conn = server_db_conn(db);
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(
	            conn,
	            "SELECT * FROM (SELECT kind, subject, started_ms, cleared_ms, value,"
	            " threshold, message, id FROM alerts WHERE cleared_ms IS NOT NULL"
	            " ORDER BY cleared_ms DESC, id DESC LIMIT ?1) ORDER BY cleared_ms, id",
	            -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)recent_max);
	if ((r = rows(st, row, arg)) < 0)
		return r;
	if (sqlite3_prepare_v2(conn,
	                       "SELECT kind, subject, started_ms, cleared_ms, value, threshold,"
	                       " message FROM alerts WHERE cleared_ms IS NULL ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	return rows(st, row, arg);
}

static void stored(void *arg, int err)
{
	if (err)
		log_warn_errno(err, "alerts: not stored");
}

int server_store_alerts_start(struct server_db *db, const struct server_store_alert *a)
{
	return server_db_exec(db, stored, NULL,
	                      "INSERT INTO alerts (kind, subject, started_ms, value, threshold,"
	                      " message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                      "ttiddt", a->kind, a->subject, (int64_t)a->started_ms, a->value,
	                      a->threshold, a->message);
}

int server_store_alerts_clear(struct server_db *db, const struct server_store_alert *a)
{
	return server_db_exec(db, stored, NULL,
	                      "UPDATE alerts SET cleared_ms = ?3 WHERE kind = ?1 AND subject = ?2"
	                      " AND cleared_ms IS NULL",
	                      "tti", a->kind, a->subject, (int64_t)a->cleared_ms);
}

/* Retention: alerts cleared before ?2, at most ?3 (?1 unused). */
const char server_store_alerts_forget_sql[] = "DELETE FROM alerts WHERE subject = ?2";
const char server_store_alerts_prune_sql[] =
        "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
        " WHERE cleared_ms < ?2 AND ?1 = ?1 ORDER BY cleared_ms LIMIT ?3)";
