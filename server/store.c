#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "cluster.h"
#include "history.h"
#include "rollout_store.h"
#include "sql.h"
#include "store_alerts.h"
#include "store_events.h"
#include "store_hosts.h"
#include "store_tokens.h"

const struct server_db_migration *const server_store_schema[] = {
	server_store_hosts_migrations,   server_history_migrations, server_store_events_migrations,
	server_rollout_store_migrations, server_audit_migrations,   server_store_tokens_migrations,
	server_store_alerts_migrations,
};

const struct server_db_migration *const server_store_pg_schema[] = {
	server_store_hosts_pg_migrations,  server_history_pg_migrations,
	server_store_events_pg_migrations, server_rollout_store_pg_migrations,
	server_audit_pg_migrations,        server_store_tokens_pg_migrations,
	server_store_alerts_pg_migrations, server_cluster_pg_migrations,
};

const size_t server_store_n_pg_schema =
        sizeof(server_store_pg_schema) / sizeof(server_store_pg_schema[0]);

const size_t server_store_n_schema = sizeof(server_store_schema) / sizeof(server_store_schema[0]);

int server_store_schema_version(void)
{
	return server_db_schema_version(server_store_schema, server_store_n_schema);
}

int server_store_open(const char *path, struct server_db **ret_db, char *err, size_t errlen)
{
	server_history_sql_init();
	return server_db_create(path, server_store_schema, server_store_n_schema,
	                        server_store_pg_schema, server_store_n_pg_schema,
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

/* A host removed: every owner's rows for it and the audit entry, one
 * transaction. */
struct removal {
	struct server_db_write w; /* first */
	int64_t id;
	char *name;
	uint64_t when_ms;
	struct server_audit_entry audit;
	void (*then)(void *arg, int err);
	void *then_arg;
};

static int run_forget(struct server_sql *conn, const char *sql, const struct removal *r)
{
	struct server_sql_stmt *st;
	int rc;

	if ((rc = server_sql_prepare(conn, sql, false, &st)) != SQLITE_OK)
		return rc;
	/* each statement names the parameters it uses */
	if (server_sql_has_param(st, 1))
		server_sql_bind_int64(st, 1, r->id);
	if (server_sql_has_param(st, 2))
		server_sql_bind_text(st, 2, r->name);
	if (server_sql_has_param(st, 3))
		server_sql_bind_int64(st, 3, (int64_t)r->when_ms);
	rc = server_db_step(st);
	server_sql_finalize(st);
	return rc;
}

static int removal_apply(struct server_sql *conn, void *arg)
{
	const char *const *lists[] = { server_history_forget_sql, server_store_hosts_forget_sql };
	const char *single[] = { server_store_events_forget_sql, server_store_alerts_forget_sql };
	struct removal *r = arg;
	int rc = SQLITE_OK;

	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]) && rc == SQLITE_OK; i++)
		rc = run_forget(conn, single[i], r);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (const char *const *sql = lists[i]; *sql && rc == SQLITE_OK; sql++)
			rc = run_forget(conn, *sql, r);
	return rc == SQLITE_OK ? server_audit_apply(conn, &r->audit, 1) : rc;
}

static void removal_free(struct removal *r)
{
	server_audit_entry_done(&r->audit);
	free(r->name);
	free(r);
}

static void removal_done(struct server_db_write *w, int err)
{
	struct removal *r = (struct removal *)w;

	if (r->then)
		r->then(r->then_arg, err);
	removal_free(r);
}

int server_store_remove_host(struct server_db *db, int64_t id, const char *name, const char *who,
                             void (*then)(void *arg, int err), void *arg)
{
	struct removal *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->id = id;
	r->when_ms = aio_now_ms();
	r->then = then;
	r->then_arg = arg;
	if (!(r->name = strdup(name)) ||
	    server_audit_entry_set(&r->audit, r->when_ms, who, "host.remove", name,
	                           "removed: its history, events and alerts deleted") < 0) {
		removal_free(r);
		return -ENOMEM;
	}
	r->w.type = SERVER_DB_WRITE_FN;
	r->w.fn = removal_apply;
	r->w.arg = r;
	r->w.done = removal_done;
	if ((err = server_db_submit(db, &r->w)) < 0)
		removal_free(r);
	return err;
}
