#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>

#include "audit.h"
#include "history.h"
#include "log.h"
#include "rollout_store.h"
#include "store_alerts.h"
#include "store_events.h"
#include "store_hosts.h"
#include "store_tokens.h"

const struct server_db_migration *const server_store_schema[] = {
	server_store_hosts_migrations,   server_history_migrations, server_store_events_migrations,
	server_rollout_store_migrations, server_audit_migrations,   server_store_tokens_migrations,
	server_store_alerts_migrations,
};

const size_t server_store_n_schema = sizeof(server_store_schema) / sizeof(server_store_schema[0]);

static int schema_version(void)
{
	int v = 0;

	for (size_t i = 0; i < server_store_n_schema; i++)
		for (const struct server_db_migration *m = server_store_schema[i]; m->sql; m++)
			v = m->version > v ? m->version : v;
	return v;
}

/* Runs every owner's part of version v, in the owners' order. */
static int migrate_one(sqlite3 *conn, int v, char *err, size_t errlen)
{
	for (size_t i = 0; i < server_store_n_schema; i++)
		for (const struct server_db_migration *m = server_store_schema[i]; m->sql; m++)
			if (m->version == v && server_db_run(conn, m->sql, err, errlen) < 0)
				return -EIO;
	return 0;
}

static int migrate(sqlite3 *conn, char *err, size_t errlen)
{
	int version = 0, latest = schema_version();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > latest) {
		snprintf(err, errlen, "database schema version %d is newer than this server (%d)",
		         version, latest);
		return -EPROTO;
	}
	for (int v = version + 1; v <= latest; v++) {
		char sql[64];

		if (server_db_run(conn, "BEGIN", err, errlen) < 0)
			return -EIO;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
		if (migrate_one(conn, v, err, errlen) < 0 ||
		    server_db_run(conn, sql, err, errlen) < 0) {
			server_db_run(conn, "ROLLBACK", NULL, 0);
			return -EIO;
		}
		if (server_db_run(conn, "COMMIT", err, errlen) < 0)
			return -EIO;
		log_info("database: schema migrated to version %d", v);
	}
	return 0;
}

int server_store_schema_version(void)
{
	return schema_version();
}

int server_store_open(const char *path, struct server_db **ret_db, char *err, size_t errlen)
{
	return server_db_create(path, server_store_apply, migrate, ret_db, err, errlen);
}

/* A report: its history, events, per-VM usage and the host's scan. */
static int apply_report(struct server_db *db, struct server_db_write *w)
{
	int rc;

	if ((rc = server_history_apply(db, w)) != SQLITE_OK || w->duplicate)
		return rc;
	if (w->report && (rc = server_store_events_apply(db, w)) != SQLITE_OK)
		return rc;
	if (w->report && w->report->n_users &&
	    (rc = server_history_apply_users(db, w)) != SQLITE_OK)
		return rc;
	if (w->detail_blob && (rc = server_store_hosts_detail(db, w->host_id, w->detail_blob,
	                                                      w->detail_len)) != SQLITE_OK)
		return rc;
	if (w->report && w->report->has_dropped)
		rc = server_store_hosts_dropped(db, w->host_id, w->report->dropped);
	return rc;
}

int server_store_apply(struct server_db *db, struct server_db_write *w)
{
	return w->type == SERVER_DB_WRITE_HOST ? server_store_hosts_apply(db, w)
	                                       : apply_report(db, w);
}

int server_store_load_hosts(struct server_db *db, struct server_hosts *reg)
{
	int r;

	if ((r = server_store_hosts_load(db, reg)) < 0 ||
	    (r = server_history_load_latest(db, reg)) < 0)
		return r;
	return server_store_events_load(db, reg);
}
