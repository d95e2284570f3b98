/* The hosts table and its labels: each host's identity, policy, latest
 * scan, desired value and credentials. */
#include "store_hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "hosts.h"

const struct server_db_migration server_store_hosts_migrations[] = {
	{ 1, "CREATE TABLE hosts ("
	     "  id INTEGER PRIMARY KEY,"
	     "  name TEXT NOT NULL UNIQUE,"
	     "  kernel TEXT, agent_version TEXT,"
	     "  interval_ms INTEGER NOT NULL DEFAULT 0,"
	     "  counting INTEGER NOT NULL DEFAULT 0,"
	     "  first_seen_ms INTEGER NOT NULL DEFAULT 0,"
	     "  last_seen_ms INTEGER NOT NULL DEFAULT 0,"
	     "  last_seq INTEGER NOT NULL DEFAULT 0,"
	     "  sample_time_ms INTEGER, aio_nr INTEGER, aio_nr_min INTEGER,"
	     "  aio_nr_max INTEGER, aio_max_nr INTEGER);"
	     "CREATE TABLE host_labels ("
	     "  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	     "  key TEXT NOT NULL, value TEXT NOT NULL,"
	     "  PRIMARY KEY (host_id, key)) WITHOUT ROWID;" },
	/* the latest scans, spool drops */
	{ 2, "ALTER TABLE hosts ADD COLUMN detail BLOB;"
	     "ALTER TABLE hosts ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0;" },
	/* each agent's own policy and file, desired values */
	{ 3, "ALTER TABLE hosts ADD COLUMN limit_min INTEGER;"
	     "ALTER TABLE hosts ADD COLUMN limit_max INTEGER;"
	     "ALTER TABLE hosts ADD COLUMN limit_margin INTEGER;"
	     "ALTER TABLE hosts ADD COLUMN sysctl_file TEXT;"
	     "ALTER TABLE hosts ADD COLUMN boot_time_ms INTEGER;"
	     "ALTER TABLE hosts ADD COLUMN desired INTEGER;"
	     "ALTER TABLE hosts ADD COLUMN desired_rollout INTEGER;"
	     "ALTER TABLE hosts ADD COLUMN desired_ms INTEGER;" },
	/* host secrets */
	{ 4, "ALTER TABLE hosts ADD COLUMN secret_hash TEXT;"
	     "ALTER TABLE hosts ADD COLUMN revoked_ms INTEGER;" },
	/* removed hosts: a row kept for the rollout steps that name it */
	{ 12, "ALTER TABLE hosts ADD COLUMN removed_ms INTEGER NOT NULL DEFAULT 0;" },
	{ 0, NULL },
};

/* PostgreSQL: the schema SQLite had at version 14, in its types */
const struct server_db_migration server_store_hosts_pg_migrations[] = {
	{ 14, "CREATE TABLE hosts ("
	      "  id bigint PRIMARY KEY,"
	      "  name text NOT NULL UNIQUE,"
	      "  kernel text, agent_version text,"
	      "  interval_ms bigint NOT NULL DEFAULT 0,"
	      "  counting bigint NOT NULL DEFAULT 0,"
	      "  first_seen_ms bigint NOT NULL DEFAULT 0,"
	      "  last_seen_ms bigint NOT NULL DEFAULT 0,"
	      "  last_seq bigint NOT NULL DEFAULT 0,"
	      "  sample_time_ms bigint, aio_nr bigint, aio_nr_min bigint,"
	      "  aio_nr_max bigint, aio_max_nr bigint,"
	      "  detail bytea, dropped bigint NOT NULL DEFAULT 0,"
	      "  limit_min bigint, limit_max bigint, limit_margin bigint, sysctl_file text,"
	      "  boot_time_ms bigint, desired bigint, desired_rollout bigint, desired_ms bigint,"
	      "  secret_hash text, revoked_ms bigint,"
	      "  removed_ms bigint NOT NULL DEFAULT 0);"
	      "CREATE TABLE host_labels ("
	      "  host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	      "  key text NOT NULL, value text NOT NULL,"
	      "  PRIMARY KEY (host_id, key));" },
	{ 0, NULL },
};

static const char host_upsert_sql[] =
        "INSERT INTO hosts (id, name, kernel, agent_version, interval_ms, counting,"
        " first_seen_ms, last_seen_ms, limit_min, limit_max, limit_margin, sysctl_file,"
        " boot_time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        " ON CONFLICT (id) DO UPDATE SET kernel = ?3, agent_version = ?4,"
        " interval_ms = ?5, counting = ?6, last_seen_ms = greatest(hosts.last_seen_ms, ?8),"
        " limit_min = ?9, limit_max = ?10, limit_margin = ?11, sysctl_file = ?12,"
        " boot_time_ms = ?13";
static const char labels_clear_sql[] = "DELETE FROM host_labels WHERE host_id = ?1";
static const char label_insert_sql[] =
        "INSERT INTO host_labels (host_id, key, value) VALUES (?1, ?2, ?3)";
static const char host_detail_sql[] = "UPDATE hosts SET detail = ?2 WHERE id = ?1";
static const char host_dropped_sql[] =
        "UPDATE hosts SET dropped = greatest(dropped, ?2) WHERE id = ?1";
static const char desired_sql[] =
        "UPDATE hosts SET desired = ?2, desired_rollout = ?3, desired_ms = ?4 WHERE id = ?1";

int server_store_hosts_read(struct server_sql *conn,
                            void (*fn)(const struct server_store_host_row *row, void *arg),
                            void *arg)
{
	/* with history's series row: the newest report, read where it is
	 * kept */
	static const char sql[] =
	        "SELECT h.id, h.name, h.kernel, h.agent_version, h.interval_ms, h.counting,"
	        " h.first_seen_ms, h.last_seen_ms, h.limit_min, h.limit_max, h.limit_margin,"
	        " h.sysctl_file, h.boot_time_ms, h.desired, h.desired_rollout, h.desired_ms,"
	        " h.secret_hash, h.revoked_ms, s.seq_last, s.time_ms, s.aio_nr, s.aio_nr_min,"
	        " s.aio_nr_max, s.aio_max_nr, coalesce(length(h.detail), 0), h.removed_ms"
	        " FROM hosts h LEFT JOIN series s ON s.host_id = h.id ORDER BY h.id";
	struct server_sql_stmt *st;
	int rc;

	if ((rc = server_sql_prepare(conn, sql, false, &st)) != SQLITE_OK)
		return server_db_failed(conn, rc, "reading hosts");
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_store_host_row r = {
			.id = server_sql_column_int64(st, 0),
			.name = server_sql_column_text(st, 1),
			.kernel = server_sql_column_text(st, 2),
			.agent_version = server_sql_column_text(st, 3),
			.interval_ms = (uint32_t)server_sql_column_int64(st, 4),
			.counting = (int)server_sql_column_int64(st, 5),
			.first_seen_ms = (uint64_t)server_sql_column_int64(st, 6),
			.last_seen_ms = (uint64_t)server_sql_column_int64(st, 7),
			.limit_min = (uint64_t)server_sql_column_int64(st, 8),
			.limit_max = (uint64_t)server_sql_column_int64(st, 9),
			.limit_margin = (uint64_t)server_sql_column_int64(st, 10),
			.sysctl_file = server_sql_column_text(st, 11),
			.boot_time_ms = (uint64_t)server_sql_column_int64(st, 12),
			.has_desired = server_sql_column_type(st, 13) != SQLITE_NULL,
			.desired = (uint64_t)server_sql_column_int64(st, 13),
			.desired_rollout = (uint64_t)server_sql_column_int64(st, 14),
			.desired_ms = (uint64_t)server_sql_column_int64(st, 15),
			.secret_hash = server_sql_column_text(st, 16),
			.revoked_ms = (uint64_t)server_sql_column_int64(st, 17),
			.has_report = server_sql_column_type(st, 18) != SQLITE_NULL,
			.last_seq = (uint64_t)server_sql_column_int64(st, 18),
			.detail_len = (uint64_t)server_sql_column_int64(st, 24),
			.removed_ms = (uint64_t)server_sql_column_int64(st, 25),
		};

		aioctl__v1__sample__init(&r.sample);
		r.sample.time_ms = (uint64_t)server_sql_column_int64(st, 19);
		r.sample.aio_nr = (uint64_t)server_sql_column_int64(st, 20);
		r.sample.aio_nr_min = (uint64_t)server_sql_column_int64(st, 21);
		r.sample.aio_nr_max = (uint64_t)server_sql_column_int64(st, 22);
		r.sample.aio_max_nr = (uint64_t)server_sql_column_int64(st, 23);
		if (r.name)
			fn(&r, arg);
	}
	server_sql_finalize(st);
	return rc == SQLITE_DONE ? 0 : server_db_failed(conn, rc, "reading hosts");
}

int server_store_hosts_read_detail(struct server_sql *conn, int64_t id,
                                   Aioctl__V1__HostDetail **ret)
{
	struct server_sql_stmt *st;
	int rc;

	*ret = NULL;
	if ((rc = server_sql_prepare(conn, "SELECT detail FROM hosts WHERE id = ?1", false, &st)) !=
	    SQLITE_OK)
		return server_db_failed(conn, rc, "reading a host's scans");
	server_sql_bind_int64(st, 1, id);
	if ((rc = server_sql_step(st)) == SQLITE_ROW &&
	    server_sql_column_type(st, 0) == SQLITE_BLOB)
		*ret = aioctl__v1__host_detail__unpack(NULL, server_sql_column_bytes(st, 0),
		                                       server_sql_column_blob(st, 0));
	server_sql_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

int server_store_hosts_read_labels(struct server_sql *conn,
                                   void (*fn)(int64_t id, const char *key, const char *value,
                                              void *arg),
                                   void *arg)
{
	struct server_sql_stmt *st;
	int rc;

	if ((rc = server_sql_prepare(
	             conn, "SELECT host_id, key, value FROM host_labels ORDER BY host_id, key",
	             false, &st)) != SQLITE_OK)
		return server_db_failed(conn, rc, "reading labels");
	while ((rc = server_sql_step(st)) == SQLITE_ROW)
		fn(server_sql_column_int64(st, 0), server_sql_column_text(st, 1),
		   server_sql_column_text(st, 2), arg);
	server_sql_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int server_store_hosts_load(struct server_db *db, struct server_hosts *reg)
{
	struct server_sql *conn = server_db_conn(db);
	struct server_sql_stmt *st;
	int rc;

	if ((rc = server_sql_prepare(
	             conn,
	             "SELECT id, name, kernel, agent_version, interval_ms, counting,"
	             " first_seen_ms, last_seen_ms, last_seq, sample_time_ms, aio_nr,"
	             " aio_nr_min, aio_nr_max, aio_max_nr, detail, dropped, limit_min,"
	             " limit_max, limit_margin, sysctl_file, boot_time_ms, desired,"
	             " desired_rollout, desired_ms, secret_hash, revoked_ms"
	             " FROM hosts WHERE removed_ms = 0 ORDER BY id",
	             false, &st)) != SQLITE_OK)
		return server_db_failed(conn, rc, "loading hosts");
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_host *h = server_hosts_add(reg, server_sql_column_text(st, 1),
		                                         server_sql_column_int64(st, 0));

		if (!h) {
			server_sql_finalize(st);
			return -ENOMEM;
		}
		server_hosts_set_string(&h->kernel, server_sql_column_text(st, 2));
		server_hosts_set_string(&h->agent_version, server_sql_column_text(st, 3));
		h->interval_ms = (uint32_t)server_sql_column_int64(st, 4);
		h->counting = server_sql_column_int64(st, 5);
		h->first_seen_ms = (uint64_t)server_sql_column_int64(st, 6);
		h->last_seen_ms = (uint64_t)server_sql_column_int64(st, 7);
		h->last_seq = (uint64_t)server_sql_column_int64(st, 8);
		if (server_sql_column_type(st, 9) != SQLITE_NULL) {
			h->has_sample = true;
			h->sample.time_ms = (uint64_t)server_sql_column_int64(st, 9);
			h->sample.aio_nr = (uint64_t)server_sql_column_int64(st, 10);
			h->sample.aio_nr_min = (uint64_t)server_sql_column_int64(st, 11);
			h->sample.aio_nr_max = (uint64_t)server_sql_column_int64(st, 12);
			h->sample.aio_max_nr = (uint64_t)server_sql_column_int64(st, 13);
		}
		if (server_sql_column_type(st, 14) == SQLITE_BLOB)
			server_host_set_detail(h, aioctl__v1__host_detail__unpack(
			                                  NULL, server_sql_column_bytes(st, 14),
			                                  server_sql_column_blob(st, 14)));
		h->dropped = (uint64_t)server_sql_column_int64(st, 15);
		h->limit_min = (uint64_t)server_sql_column_int64(st, 16);
		h->limit_max = (uint64_t)server_sql_column_int64(st, 17);
		h->limit_margin = (uint64_t)server_sql_column_int64(st, 18);
		server_hosts_set_string(&h->sysctl_file, server_sql_column_text(st, 19));
		h->boot_time_ms = (uint64_t)server_sql_column_int64(st, 20);
		h->has_desired = server_sql_column_type(st, 21) != SQLITE_NULL;
		h->desired = (uint64_t)server_sql_column_int64(st, 21);
		h->desired_rollout = (uint64_t)server_sql_column_int64(st, 22);
		h->desired_ms = (uint64_t)server_sql_column_int64(st, 23);
		if (server_sql_column_text(st, 24))
			snprintf(h->secret_hash, sizeof(h->secret_hash), "%s",
			         server_sql_column_text(st, 24));
		h->revoked_ms = (uint64_t)server_sql_column_int64(st, 25);
	}
	if (rc != SQLITE_DONE) {
		rc = server_db_failed(conn, rc, "loading hosts");
		server_sql_finalize(st);
		return rc;
	}
	server_sql_finalize(st);
	/* a removed host's id is never given again */
	if ((rc = server_sql_prepare(conn, "SELECT coalesce(max(id), 0) FROM hosts", false, &st)) !=
	    SQLITE_OK)
		return server_db_failed(conn, rc, "loading hosts");
	if (server_sql_step(st) == SQLITE_ROW)
		server_hosts_ids_from(reg, server_sql_column_int64(st, 0) + 1);
	server_sql_finalize(st);

	if ((rc = server_sql_prepare(
	             conn, "SELECT host_id, key, value FROM host_labels ORDER BY host_id, key",
	             false, &st)) != SQLITE_OK)
		return server_db_failed(conn, rc, "loading host labels");
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_host *h = server_hosts_find_id(reg, server_sql_column_int64(st, 0));

		if (!h)
			continue;
		if (server_hosts_add_label(h, server_sql_column_text(st, 1),
		                           server_sql_column_text(st, 2)) < 0) {
			server_sql_finalize(st);
			return -ENOMEM;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = server_db_failed(conn, rc, "loading host labels");
		server_sql_finalize(st);
		return rc;
	}
	server_sql_finalize(st);
	return 0;
}

int server_store_hosts_apply(struct server_db *db, const struct server_db_write *w)
{
	struct server_sql_stmt *st = server_db_stmt(db, host_upsert_sql);
	struct server_sql_stmt *clear = server_db_stmt(db, labels_clear_sql);
	struct server_sql_stmt *label = server_db_stmt(db, label_insert_sql);
	int rc;

	if (!st || !clear || !label)
		return SQLITE_ERROR;
	server_sql_bind_int64(st, 1, w->host_id);
	server_sql_bind_text(st, 2, w->name);
	server_sql_bind_text(st, 3, w->kernel);
	server_sql_bind_text(st, 4, w->agent_version);
	server_sql_bind_int64(st, 5, w->interval_ms);
	server_sql_bind_int64(st, 6, w->counting);
	server_sql_bind_int64(st, 7, (int64_t)w->first_seen_ms);
	server_sql_bind_int64(st, 8, (int64_t)w->last_seen_ms);
	server_sql_bind_int64(st, 9, (int64_t)w->limit_min);
	server_sql_bind_int64(st, 10, (int64_t)w->limit_max);
	server_sql_bind_int64(st, 11, (int64_t)w->limit_margin);
	server_sql_bind_text(st, 12, w->sysctl_file);
	server_sql_bind_int64(st, 13, (int64_t)w->boot_time_ms);
	if ((rc = server_db_step(st)) != SQLITE_OK)
		return rc;
	server_sql_bind_int64(clear, 1, w->host_id);
	if ((rc = server_db_step(clear)) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < w->n_labels; i++) {
		server_sql_bind_int64(label, 1, w->host_id);
		server_sql_bind_text(label, 2, w->labels[i].key);
		server_sql_bind_text(label, 3, w->labels[i].value);
		if ((rc = server_db_step(label)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

int server_store_hosts_detail(struct server_db *db, int64_t host_id, const uint8_t *blob,
                              size_t len)
{
	struct server_sql_stmt *st = server_db_stmt(db, host_detail_sql);

	if (!st)
		return SQLITE_ERROR;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_blob(st, 2, blob, (int)len);
	return server_db_step(st);
}

int server_store_hosts_dropped(struct server_db *db, int64_t host_id, uint64_t dropped)
{
	struct server_sql_stmt *st = server_db_stmt(db, host_dropped_sql);

	if (!st)
		return SQLITE_ERROR;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, (int64_t)dropped);
	return server_db_step(st);
}

int server_store_hosts_desired_apply(struct server_sql *conn, const struct server_store_desired *v,
                                     size_t n)
{
	struct server_sql_stmt *st;
	int rc;

	if (!n)
		return SQLITE_OK;
	if ((rc = server_sql_prepare(conn, desired_sql, false, &st)) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		server_sql_bind_int64(st, 1, v[i].host_id);
		server_sql_bind_int64(st, 2, (int64_t)v[i].value);
		server_sql_bind_int64(st, 3, (int64_t)v[i].rollout_id);
		server_sql_bind_int64(st, 4, (int64_t)v[i].when_ms);
		rc = server_db_step(st);
	}
	server_sql_finalize(st);
	return rc;
}

int server_store_hosts_secret(struct server_db *db, const char *host, const char *hash,
                              void (*then)(void *arg, int err), void *arg)
{
	return server_db_exec(db, then, arg,
	                      "UPDATE hosts SET secret_hash = ?, revoked_ms = NULL WHERE name = ?",
	                      "tt", hash, host);
}

const char *const server_store_hosts_forget_sql[] = {
	"DELETE FROM host_labels WHERE host_id = ?1",
	/* the row stays for the rollout steps that name it, under a name no
	 * host can have, so the name can enroll again as a new host */
	"UPDATE hosts SET removed_ms = ?3, name = 'removed:' || id || ':' || name,"
	" secret_hash = NULL, detail = NULL WHERE id = ?1",
	NULL,
};

int server_store_hosts_revoke(struct server_db *db, const char *host, uint64_t when_ms,
                              const char *who, void (*then)(void *arg, int err), void *arg)
{
	return server_audit_exec(db, who, "host.revoke", host, "revoked", then, arg,
	                         "UPDATE hosts SET revoked_ms = ? WHERE name = ?", "it",
	                         (int64_t)when_ms, host);
}
