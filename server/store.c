#include "store.h"

#include <sqlite3.h>

#include "audit.h"
#include "history.h"
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

int server_store_schema_version(void)
{
	return server_db_schema_version(server_store_schema, server_store_n_schema);
}

int server_store_open(const char *path, struct server_db **ret_db, char *err, size_t errlen)
{
	return server_db_create(path, server_store_schema, server_store_n_schema,
	                        server_store_apply, ret_db, err, errlen);
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
