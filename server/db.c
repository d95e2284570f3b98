#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "clock.h"
#include "history.h"
#include "log.h"
#include "rawblock.h"

/* a raw block holds at most this span of a host's samples */
#define RAW_BLOCK_SPAN_MS (3600 * 1000)

/* Schema migrations, applied in order; user_version counts those done.
 * Never edit a shipped step: append a new one. */
static const char *const migrations[] = {
	/* 1: hosts and raw samples */
	"CREATE TABLE hosts ("
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
	"  PRIMARY KEY (host_id, key)) WITHOUT ROWID;"
	"CREATE TABLE samples ("
	"  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  time_ms INTEGER NOT NULL,"
	"  aio_nr INTEGER NOT NULL, aio_nr_min INTEGER NOT NULL,"
	"  aio_nr_max INTEGER NOT NULL, aio_max_nr INTEGER NOT NULL,"
	"  PRIMARY KEY (host_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX samples_by_time ON samples (host_id, time_ms);",
	/* 2: AIO error events, the latest scans, spool drops */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  time_ms INTEGER NOT NULL, kind INTEGER NOT NULL, source TEXT NOT NULL,"
	"  vm TEXT, disk TEXT, line TEXT, key TEXT NOT NULL,"
	"  UNIQUE (host_id, key));"
	"CREATE INDEX events_by_time ON events (time_ms);"
	"CREATE INDEX events_by_host ON events (host_id, time_ms);"
	"ALTER TABLE hosts ADD COLUMN detail BLOB;"
	"ALTER TABLE hosts ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0;",
	/* 3: rollouts, their steps, desired values, the audit log */
	"ALTER TABLE hosts ADD COLUMN limit_min INTEGER;"
	"ALTER TABLE hosts ADD COLUMN limit_max INTEGER;"
	"ALTER TABLE hosts ADD COLUMN limit_margin INTEGER;"
	"ALTER TABLE hosts ADD COLUMN sysctl_file TEXT;"
	"ALTER TABLE hosts ADD COLUMN boot_time_ms INTEGER;"
	"ALTER TABLE hosts ADD COLUMN desired INTEGER;"
	"ALTER TABLE hosts ADD COLUMN desired_rollout INTEGER;"
	"ALTER TABLE hosts ADD COLUMN desired_ms INTEGER;"
	"CREATE TABLE rollouts ("
	"  id INTEGER PRIMARY KEY, state TEXT NOT NULL, options BLOB NOT NULL,"
	"  created_by TEXT NOT NULL, created_ms INTEGER NOT NULL, finished_ms INTEGER,"
	"  offline_deadline_ms INTEGER NOT NULL, wave INTEGER NOT NULL, waves INTEGER NOT NULL,"
	"  failures_accepted INTEGER NOT NULL DEFAULT 0, message TEXT,"
	"  skipped TEXT, refused TEXT);"
	"CREATE TABLE rollout_steps ("
	"  id INTEGER PRIMARY KEY,"
	"  rollout_id INTEGER NOT NULL REFERENCES rollouts(id),"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id),"
	"  wave INTEGER NOT NULL, target INTEGER NOT NULL, state TEXT NOT NULL,"
	"  rollback TEXT NOT NULL DEFAULT '',"
	"  runtime_before INTEGER, runtime_after INTEGER,"
	"  persisted_before INTEGER, persisted_after INTEGER, message TEXT,"
	"  started_ms INTEGER, acked_ms INTEGER, soak_until_ms INTEGER, finished_ms INTEGER,"
	"  offline_since_ms INTEGER);"
	"CREATE INDEX steps_by_rollout ON rollout_steps (rollout_id);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, who TEXT NOT NULL,"
	"  action TEXT NOT NULL, target TEXT, result TEXT);"
	"CREATE INDEX audit_by_time ON audit (time_ms);"
	/* append-only: nothing may change or remove an entry */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/* 4: credentials: people's tokens, enrollment tokens, host secrets */
	"CREATE TABLE tokens ("
	"  name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,"
	"  created_ms INTEGER NOT NULL, revoked_ms INTEGER);"
	"CREATE TABLE enrollments ("
	"  hash TEXT PRIMARY KEY, host TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL, used_ms INTEGER);"
	"ALTER TABLE hosts ADD COLUMN secret_hash TEXT;"
	"ALTER TABLE hosts ADD COLUMN revoked_ms INTEGER;",
	/* 5: every report wrote a second b-tree for this index; (host, seq)
	 * already keeps each host's samples in time order */
	"DROP INDEX samples_by_time;",
	/* 6: history tiers. samples becomes the raw tier, stored on change
	 * plus a keep-alive; series holds each host's acknowledged reports,
	 * latest values and open rollup buckets (one small row per host, so
	 * a report rewrites a dense page, not one per tier); closed buckets
	 * go to the rollup tables; the _all views add the open ones. */
	"CREATE TABLE series ("
	"  host_id INTEGER PRIMARY KEY,"
	"  seq_first INTEGER NOT NULL, seq_last INTEGER NOT NULL, reports INTEGER NOT NULL,"
	"  time_ms INTEGER NOT NULL, aio_nr INTEGER NOT NULL, aio_nr_min INTEGER NOT NULL,"
	"  aio_nr_max INTEGER NOT NULL, aio_max_nr INTEGER NOT NULL, raw_ms INTEGER NOT NULL,"
	"  m5_start INTEGER NOT NULL, m5_count INTEGER NOT NULL, m5_min INTEGER NOT NULL,"
	"  m5_max INTEGER NOT NULL, m5_sum INTEGER NOT NULL,"
	"  h1_start INTEGER NOT NULL, h1_count INTEGER NOT NULL, h1_min INTEGER NOT NULL,"
	"  h1_max INTEGER NOT NULL, h1_sum INTEGER NOT NULL);"
	"CREATE TABLE rollup_5m ("
	"  host_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, count INTEGER NOT NULL,"
	"  min INTEGER NOT NULL, max INTEGER NOT NULL, sum INTEGER NOT NULL,"
	"  last INTEGER NOT NULL, last_ms INTEGER NOT NULL, lim INTEGER NOT NULL,"
	"  PRIMARY KEY (host_id, start_ms)) WITHOUT ROWID;"
	"CREATE TABLE rollup_1h ("
	"  host_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, count INTEGER NOT NULL,"
	"  min INTEGER NOT NULL, max INTEGER NOT NULL, sum INTEGER NOT NULL,"
	"  last INTEGER NOT NULL, last_ms INTEGER NOT NULL, lim INTEGER NOT NULL,"
	"  PRIMARY KEY (host_id, start_ms)) WITHOUT ROWID;"
	"CREATE VIEW rollup_5m_all AS"
	"  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim FROM rollup_5m"
	"  UNION ALL SELECT host_id, m5_start, m5_count, m5_min, m5_max, m5_sum, aio_nr,"
	"  time_ms, aio_max_nr FROM series WHERE m5_count > 0;"
	"CREATE VIEW rollup_1h_all AS"
	"  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim FROM rollup_1h"
	"  UNION ALL SELECT host_id, h1_start, h1_count, h1_min, h1_max, h1_sum, aio_nr,"
	"  time_ms, aio_max_nr FROM series WHERE h1_count > 0;"
	"CREATE TABLE vm_usage ("
	"  host_id INTEGER NOT NULL, name TEXT NOT NULL, time_ms INTEGER NOT NULL,"
	"  contexts INTEGER NOT NULL, events INTEGER,"
	"  PRIMARY KEY (host_id, name, time_ms)) WITHOUT ROWID;"
	/* what earlier versions stored, rolled up */
	"INSERT INTO series SELECT s.host_id, m.lo, m.hi, m.n, s.time_ms, s.aio_nr,"
	"  s.aio_nr_min, s.aio_nr_max, s.aio_max_nr, s.time_ms, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0"
	"  FROM samples s JOIN (SELECT host_id, min(seq) lo, max(seq) hi, count(*) n"
	"  FROM samples GROUP BY host_id) m ON m.host_id = s.host_id AND s.seq = m.hi;"
	/* a bucket's last is its newest sample by time, as live */
	"INSERT INTO rollup_5m SELECT host_id, b, count(*), min(aio_nr_min), max(aio_nr_max),"
	"  sum(aio_nr), max(iif(rn = 1, aio_nr, NULL)), max(time_ms),"
	"  max(iif(rn = 1, aio_max_nr, NULL)) FROM (SELECT *, time_ms / 300000 * 300000 AS b,"
	"  row_number() OVER (PARTITION BY host_id, time_ms / 300000"
	"  ORDER BY time_ms DESC, seq DESC) AS rn FROM samples) GROUP BY host_id, b;"
	"INSERT INTO rollup_1h SELECT host_id, b, count(*), min(aio_nr_min), max(aio_nr_max),"
	"  sum(aio_nr), max(iif(rn = 1, aio_nr, NULL)), max(time_ms),"
	"  max(iif(rn = 1, aio_max_nr, NULL)) FROM (SELECT *, time_ms / 3600000 * 3600000 AS b,"
	"  row_number() OVER (PARTITION BY host_id, time_ms / 3600000"
	"  ORDER BY time_ms DESC, seq DESC) AS rn FROM samples) GROUP BY host_id, b;",
	/* 7: alerts, from start to clear */
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,"
	"  started_ms INTEGER NOT NULL, cleared_ms INTEGER, value REAL, threshold REAL,"
	"  message TEXT);"
	"CREATE INDEX alerts_active ON alerts (kind, subject) WHERE cleared_ms IS NULL;"
	"CREATE INDEX alerts_by_cleared ON alerts (cleared_ms);",
	/* 8: raw samples packed in blocks (rawblock.h), at most one per host
	 * and hour; the open block lives in series. Rows already in samples
	 * stay there and are read first, until retention removes them. */
	"CREATE TABLE raw ("
	"  host_id INTEGER NOT NULL, first_seq INTEGER NOT NULL, first_ms INTEGER NOT NULL,"
	"  last_ms INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,"
	"  PRIMARY KEY (host_id, first_seq)) WITHOUT ROWID;"
	"ALTER TABLE series ADD COLUMN raw_seq INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE series ADD COLUMN raw_first_seq INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE series ADD COLUMN raw_first_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE series ADD COLUMN raw_n INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE series ADD COLUMN raw_open BLOB;",
	/* 9: one failure is one event: the lines that tell of it (journal
	 * entries, the QEMU log) share an incident; the first stored keeps
	 * its source, the others are listed in sources (one per line) */
	"ALTER TABLE events ADD COLUMN incident TEXT;"
	"ALTER TABLE events ADD COLUMN sources TEXT;"
	"CREATE UNIQUE INDEX events_by_incident ON events (host_id, incident)"
	"  WHERE incident IS NOT NULL;",
	/* 10: each bucket's peak utilisation, from every report with the limit
	 * it was taken under (parts per million), so a bucket that spans a
	 * limit change keeps its real peak; older buckets get max / lim */
	"ALTER TABLE rollup_5m ADD COLUMN umax INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE rollup_1h ADD COLUMN umax INTEGER NOT NULL DEFAULT 0;"
	"UPDATE rollup_5m SET umax = iif(lim > 0, max * 1000000 / lim, 0);"
	"UPDATE rollup_1h SET umax = iif(lim > 0, max * 1000000 / lim, 0);"
	"ALTER TABLE series ADD COLUMN m5_umax INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE series ADD COLUMN h1_umax INTEGER NOT NULL DEFAULT 0;"
	"UPDATE series SET m5_umax = iif(aio_max_nr > 0, m5_max * 1000000 / aio_max_nr, 0),"
	"  h1_umax = iif(aio_max_nr > 0, h1_max * 1000000 / aio_max_nr, 0);"
	"DROP VIEW rollup_5m_all;"
	"DROP VIEW rollup_1h_all;"
	"CREATE VIEW rollup_5m_all AS"
	"  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim, umax FROM rollup_5m"
	"  UNION ALL SELECT host_id, m5_start, m5_count, m5_min, m5_max, m5_sum, aio_nr,"
	"  time_ms, aio_max_nr, m5_umax FROM series WHERE m5_count > 0;"
	"CREATE VIEW rollup_1h_all AS"
	"  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim, umax FROM rollup_1h"
	"  UNION ALL SELECT host_id, h1_start, h1_count, h1_min, h1_max, h1_sum, aio_nr,"
	"  time_ms, aio_max_nr, h1_umax FROM series WHERE h1_count > 0;",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt_id {
	ST_HOST_UPSERT,
	ST_LABELS_CLEAR,
	ST_LABEL_INSERT,
	ST_RAW_INSERT,
	ST_SERIES_GET,
	ST_SERIES_PUT,
	ST_ROLLUP_5M,
	ST_ROLLUP_1H,
	ST_VM_LAST,
	ST_VM_INSERT,
	ST_EVENT_INSERT,
	ST_EVENT_BY_KEY,
	ST_EVENT_BY_INCIDENT,
	ST_EVENT_MERGE,
	ST_HOST_DETAIL,
	ST_HOST_DROPPED,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT,
};

/* A closed bucket; it merges with one stored already (a report whose time
 * went back, or a rollup made from an older schema's samples). */
#define ROLLUP_CLOSE(table)                                                      \
	"INSERT INTO " table " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)" \
	" ON CONFLICT DO UPDATE SET count = count + excluded.count,"             \
	" umax = max(umax, excluded.umax),"                                      \
	" min = min(min, excluded.min), max = max(max, excluded.max),"           \
	" sum = sum + excluded.sum,"                                             \
	" last = iif(excluded.last_ms >= last_ms, excluded.last, last),"         \
	" lim = iif(excluded.last_ms >= last_ms, excluded.lim, lim),"            \
	" last_ms = max(last_ms, excluded.last_ms)"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_HOST_UPSERT] =
	        "INSERT INTO hosts (id, name, kernel, agent_version, interval_ms, counting,"
	        " first_seen_ms, last_seen_ms, limit_min, limit_max, limit_margin, sysctl_file,"
	        " boot_time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	        " ON CONFLICT (id) DO UPDATE SET kernel = ?3, agent_version = ?4,"
	        " interval_ms = ?5, counting = ?6, last_seen_ms = max(last_seen_ms, ?8),"
	        " limit_min = ?9, limit_max = ?10, limit_margin = ?11, sysctl_file = ?12,"
	        " boot_time_ms = ?13",
	[ST_LABELS_CLEAR] = "DELETE FROM host_labels WHERE host_id = ?1",
	[ST_LABEL_INSERT] = "INSERT INTO host_labels (host_id, key, value) VALUES (?1, ?2, ?3)",
	[ST_RAW_INSERT] = "INSERT OR REPLACE INTO raw VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_SERIES_GET] = "SELECT seq_first, seq_last, reports, time_ms, aio_nr, aio_nr_min,"
	                  " aio_nr_max, aio_max_nr, raw_ms, m5_start, m5_count, m5_min, m5_max,"
	                  " m5_sum, h1_start, h1_count, h1_min, h1_max, h1_sum, raw_seq,"
	                  " raw_first_seq, raw_first_ms, raw_n, raw_open, m5_umax, h1_umax"
	                  " FROM series WHERE host_id = ?1",
	[ST_SERIES_PUT] = "INSERT OR REPLACE INTO series VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
	                  " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,"
	                  " ?23, ?24, ?25, ?26, ?27)",
	[ST_ROLLUP_5M] = ROLLUP_CLOSE("rollup_5m"),
	[ST_ROLLUP_1H] = ROLLUP_CLOSE("rollup_1h"),
	[ST_VM_LAST] = "SELECT contexts, events FROM vm_usage WHERE host_id = ?1 AND name = ?2"
	               " ORDER BY time_ms DESC LIMIT 1",
	[ST_VM_INSERT] = "INSERT OR IGNORE INTO vm_usage VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_EVENT_INSERT] =
	        "INSERT OR IGNORE INTO events (host_id, time_ms, kind, source, vm,"
	        " disk, line, key, incident) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_EVENT_BY_KEY] = "SELECT 1 FROM events WHERE host_id = ?1 AND key = ?2",
	[ST_EVENT_BY_INCIDENT] = "SELECT id, source, sources FROM events"
	                         " WHERE host_id = ?1 AND incident = ?2",
	[ST_EVENT_MERGE] = "UPDATE events SET vm = coalesce(vm, ?2), disk = coalesce(disk, ?3),"
	                   " sources = coalesce(?4, sources) WHERE id = ?1",
	[ST_HOST_DETAIL] = "UPDATE hosts SET detail = ?2 WHERE id = ?1",
	[ST_HOST_DROPPED] = "UPDATE hosts SET dropped = max(dropped, ?2) WHERE id = ?1",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

struct server_db {
	sqlite3 *conn; /* the database thread's, once started */
	sqlite3_stmt *stmt[ST_COUNT];
	char *path;

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct server_db_write *head, **tail;
	size_t queued, queue_max, batch_max;
	bool stopping;
	/* committed writes whose done callbacks are still to run */
	pthread_t done_thread;
	pthread_cond_t done_wake;
	struct server_db_write *done_head, **done_tail;
	bool committer_done;
	uint64_t batch_wait_us;
	bool filling; /* the thread waits for a batch to fill */
	uint64_t raw_keepalive_ms;
	/* checkpoints run on their own thread and connection, so the
	 * writer never copies the WAL back itself */
	pthread_t ckpt_thread;
	bool ckpt_started, ckpt_due;
	pthread_cond_t ckpt_wake;
	sqlite3 *ckpt_conn;
};

/* WAL pages after which the checkpoint thread copies them back. */
#define CHECKPOINT_PAGES 8000

static int exec(sqlite3 *conn, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(conn, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(conn));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int migrate(sqlite3 *conn, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = 0;

	if (sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > N_MIGRATIONS) {
		snprintf(err, errlen, "database schema version %d is newer than this server (%d)",
		         version, N_MIGRATIONS);
		return -EPROTO;
	}
	for (int v = version; v < N_MIGRATIONS; v++) {
		char sql[64];

		if (exec(conn, "BEGIN", err, errlen) < 0)
			return -EIO;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(conn, migrations[v], err, errlen) < 0 ||
		    exec(conn, sql, err, errlen) < 0) {
			exec(conn, "ROLLBACK", NULL, 0);
			return -EIO;
		}
		if (exec(conn, "COMMIT", err, errlen) < 0)
			return -EIO;
		log_info("database: schema migrated to version %d", v + 1);
	}
	return 0;
}

int server_db_schema_version(void)
{
	return N_MIGRATIONS;
}

int server_db_open(const char *path, struct server_db **ret_db, char *err, size_t errlen)
{
	struct server_db *db = calloc(1, sizeof(*db));
	int rc, r = -EIO;

	if (!db)
		return -ENOMEM;
	db->path = strdup(path);
	db->tail = &db->head;
	db->done_tail = &db->done_head;
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->wake, NULL);
	pthread_cond_init(&db->done_wake, NULL);
	pthread_cond_init(&db->ckpt_wake, NULL);
	rc = sqlite3_open_v2(path, &db->conn,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
		goto out_free;
	}
	sqlite3_busy_timeout(db->conn, 5000);
	if (exec(db->conn,
	         "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	         "PRAGMA foreign_keys = ON;",
	         err, errlen) < 0)
		goto out_free;
	if ((r = migrate(db->conn, err, errlen)) < 0)
		goto out_free;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &db->stmt[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db->conn));
			r = -EIO;
			goto out_free;
		}
	}
	*ret_db = db;
	return 0;

out_free:
	server_db_close(db);
	return r;
}

void server_db_set_keepalive(struct server_db *db, uint64_t raw_keepalive_ms)
{
	db->raw_keepalive_ms = raw_keepalive_ms;
}

/* Each host's newest report: its latest values and last seq. */
static int load_latest(struct server_db *db, struct server_hosts *reg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->conn,
	                       "SELECT host_id, seq_last, time_ms, aio_nr, aio_nr_min, aio_nr_max,"
	                       " aio_max_nr FROM series",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct server_host *h = server_hosts_find_id(reg, sqlite3_column_int64(st, 0));
		uint64_t t = (uint64_t)sqlite3_column_int64(st, 2);

		if (!h)
			continue;
		h->last_seq = (uint64_t)sqlite3_column_int64(st, 1);
		h->has_sample = true;
		h->sample.time_ms = t;
		h->sample.aio_nr = (uint64_t)sqlite3_column_int64(st, 3);
		h->sample.aio_nr_min = (uint64_t)sqlite3_column_int64(st, 4);
		h->sample.aio_nr_max = (uint64_t)sqlite3_column_int64(st, 5);
		h->sample.aio_max_nr = (uint64_t)sqlite3_column_int64(st, 6);
		if (t > h->last_seen_ms)
			h->last_seen_ms = t;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The last day's events back into memory, oldest first, so each host's
 * rings end with its newest. */
static int load_recent_events(struct server_db *db, struct server_hosts *reg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->conn,
	                       "SELECT h.name, e.time_ms, e.kind, e.source, e.vm, e.disk, e.line,"
	                       " e.key, e.incident, e.sources FROM events e"
	                       " JOIN hosts h ON h.id = e.host_id"
	                       " WHERE e.time_ms >= ?1 ORDER BY e.time_ms, e.id",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)(aio_now_ms() - SERVER_DAY_MS));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct server_host *h =
		        server_hosts_find(reg, (const char *)sqlite3_column_text(st, 0));
		Aioctl__V1__AioEvent ev = AIOCTL__V1__AIO_EVENT__INIT;

		if (!h)
			continue;
		ev.time_ms = (uint64_t)sqlite3_column_int64(st, 1);
		ev.kind = (Aioctl__V1__EventKind)sqlite3_column_int(st, 2);
		ev.source = (char *)sqlite3_column_text(st, 3);
		ev.vm = (char *)sqlite3_column_text(st, 4);
		ev.disk = (char *)sqlite3_column_text(st, 5);
		ev.line = (char *)sqlite3_column_text(st, 6);
		ev.key = (char *)sqlite3_column_text(st, 7);
		ev.incident = (char *)sqlite3_column_text(st, 8);
		server_event_sources_parse(&ev, (const char *)sqlite3_column_text(st, 9));
		server_host_add_event(h, &ev);
		server_event_sources_free(&ev);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int server_db_load_hosts(struct server_db *db, struct server_hosts *reg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->conn,
	                       "SELECT id, name, kernel, agent_version, interval_ms, counting,"
	                       " first_seen_ms, last_seen_ms, last_seq, sample_time_ms, aio_nr,"
	                       " aio_nr_min, aio_nr_max, aio_max_nr, detail, dropped, limit_min,"
	                       " limit_max, limit_margin, sysctl_file, boot_time_ms, desired,"
	                       " desired_rollout, desired_ms, secret_hash, revoked_ms"
	                       " FROM hosts ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct server_host *h = server_hosts_add(
		        reg, (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 0));

		if (!h) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		server_hosts_set_string(&h->kernel, (const char *)sqlite3_column_text(st, 2));
		server_hosts_set_string(&h->agent_version,
		                        (const char *)sqlite3_column_text(st, 3));
		h->interval_ms = (uint32_t)sqlite3_column_int64(st, 4);
		h->counting = sqlite3_column_int(st, 5);
		h->first_seen_ms = (uint64_t)sqlite3_column_int64(st, 6);
		h->last_seen_ms = (uint64_t)sqlite3_column_int64(st, 7);
		h->last_seq = (uint64_t)sqlite3_column_int64(st, 8);
		if (sqlite3_column_type(st, 9) != SQLITE_NULL) {
			h->has_sample = true;
			h->sample.time_ms = (uint64_t)sqlite3_column_int64(st, 9);
			h->sample.aio_nr = (uint64_t)sqlite3_column_int64(st, 10);
			h->sample.aio_nr_min = (uint64_t)sqlite3_column_int64(st, 11);
			h->sample.aio_nr_max = (uint64_t)sqlite3_column_int64(st, 12);
			h->sample.aio_max_nr = (uint64_t)sqlite3_column_int64(st, 13);
		}
		if (sqlite3_column_type(st, 14) == SQLITE_BLOB)
			server_host_set_detail(h,
			                       aioctl__v1__host_detail__unpack(
			                               NULL, (size_t)sqlite3_column_bytes(st, 14),
			                               sqlite3_column_blob(st, 14)));
		h->dropped = (uint64_t)sqlite3_column_int64(st, 15);
		h->limit_min = (uint64_t)sqlite3_column_int64(st, 16);
		h->limit_max = (uint64_t)sqlite3_column_int64(st, 17);
		h->limit_margin = (uint64_t)sqlite3_column_int64(st, 18);
		server_hosts_set_string(&h->sysctl_file, (const char *)sqlite3_column_text(st, 19));
		h->boot_time_ms = (uint64_t)sqlite3_column_int64(st, 20);
		h->has_desired = sqlite3_column_type(st, 21) != SQLITE_NULL;
		h->desired = (uint64_t)sqlite3_column_int64(st, 21);
		h->desired_rollout = (uint64_t)sqlite3_column_int64(st, 22);
		h->desired_ms = (uint64_t)sqlite3_column_int64(st, 23);
		if (sqlite3_column_text(st, 24))
			snprintf(h->secret_hash, sizeof(h->secret_hash), "%s",
			         (const char *)sqlite3_column_text(st, 24));
		h->revoked_ms = (uint64_t)sqlite3_column_int64(st, 25);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;

	if (sqlite3_prepare_v2(db->conn,
	                       "SELECT h.name, l.key, l.value FROM host_labels l"
	                       " JOIN hosts h ON h.id = l.host_id ORDER BY l.host_id, l.key",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct server_host *h =
		        server_hosts_find(reg, (const char *)sqlite3_column_text(st, 0));

		if (!h)
			continue;
		if (server_hosts_add_label(h, (const char *)sqlite3_column_text(st, 1),
		                           (const char *)sqlite3_column_text(st, 2)) < 0) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	if ((rc = load_latest(db, reg)) < 0)
		return rc;
	return load_recent_events(db, reg);
}

int server_db_write_host_fill(struct server_db_write *w, const struct server_host *h)
{
	w->type = SERVER_DB_WRITE_HOST;
	w->host_id = h->id;
	w->interval_ms = h->interval_ms;
	w->counting = h->counting;
	w->first_seen_ms = h->first_seen_ms;
	w->limit_min = h->limit_min;
	w->limit_max = h->limit_max;
	w->limit_margin = h->limit_margin;
	w->boot_time_ms = h->boot_time_ms;
	if (server_hosts_set_string(&w->sysctl_file, h->sysctl_file) < 0)
		return -ENOMEM;
	w->last_seen_ms = h->last_seen_ms;
	if (server_hosts_set_string(&w->name, h->name) < 0 ||
	    server_hosts_set_string(&w->kernel, h->kernel) < 0 ||
	    server_hosts_set_string(&w->agent_version, h->agent_version) < 0)
		return -ENOMEM;
	w->labels = calloc(h->n_labels ? h->n_labels : 1, sizeof(*w->labels));
	if (!w->labels)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_labels; i++) {
		w->n_labels++;
		if (server_hosts_set_string(&w->labels[i].key, h->labels[i].key) < 0 ||
		    server_hosts_set_string(&w->labels[i].value, h->labels[i].value) < 0)
			return -ENOMEM;
	}
	return 0;
}

void server_db_write_free(struct server_db_write *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_labels; i++) {
		free(w->labels[i].key);
		free(w->labels[i].value);
	}
	free(w->labels);
	free(w->name);
	free(w->kernel);
	free(w->agent_version);
	free(w->sysctl_file);
	if (w->report)
		aioctl__v1__report_request__free_unpacked(w->report, NULL);
	free(w->event_new);
	free(w->detail_blob);
	free(w);
}

static int step_reset(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int apply_host(struct server_db *db, struct server_db_write *w)
{
	sqlite3_stmt *st = db->stmt[ST_HOST_UPSERT];
	int rc;

	sqlite3_bind_int64(st, 1, w->host_id);
	bind_text(st, 2, w->name);
	bind_text(st, 3, w->kernel);
	bind_text(st, 4, w->agent_version);
	sqlite3_bind_int64(st, 5, w->interval_ms);
	sqlite3_bind_int(st, 6, w->counting);
	sqlite3_bind_int64(st, 7, (int64_t)w->first_seen_ms);
	sqlite3_bind_int64(st, 8, (int64_t)w->last_seen_ms);
	sqlite3_bind_int64(st, 9, (int64_t)w->limit_min);
	sqlite3_bind_int64(st, 10, (int64_t)w->limit_max);
	sqlite3_bind_int64(st, 11, (int64_t)w->limit_margin);
	bind_text(st, 12, w->sysctl_file);
	sqlite3_bind_int64(st, 13, (int64_t)w->boot_time_ms);
	if ((rc = step_reset(st)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(db->stmt[ST_LABELS_CLEAR], 1, w->host_id);
	if ((rc = step_reset(db->stmt[ST_LABELS_CLEAR])) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < w->n_labels; i++) {
		st = db->stmt[ST_LABEL_INSERT];
		sqlite3_bind_int64(st, 1, w->host_id);
		bind_text(st, 2, w->labels[i].key);
		bind_text(st, 3, w->labels[i].value);
		if ((rc = step_reset(st)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* sources with source added (one per line), or NULL when it is there
 * already or the list is full. Caller frees. */
static char *sources_with(const char *first, const char *sources, const char *source)
{
	size_t n = 1, len = strlen(source);
	char *out;

	if (strcmp(first, source) == 0)
		return NULL;
	for (const char *p = sources; p && *p; n++) {
		size_t l = strcspn(p, "\n");

		if (l == len && memcmp(p, source, len) == 0)
			return NULL;
		p += l + (p[l] == '\n');
	}
	if (n >= AIO_EVENT_SOURCES_MAX)
		return NULL;
	if (!sources || !*sources)
		return strdup(source);
	if (asprintf(&out, "%s\n%s", sources, source) < 0)
		return NULL;
	return out;
}

/* Merges e into the stored event of its incident; *ret_found says whether
 * there is one. */
static int merge_event(struct server_db *db, int64_t host_id, const Aioctl__V1__AioEvent *e,
                       bool *ret_found)
{
	sqlite3_stmt *st = db->stmt[ST_EVENT_BY_INCIDENT], *up = db->stmt[ST_EVENT_MERGE];
	char *sources = NULL;
	int64_t id;
	int rc;

	sqlite3_bind_int64(st, 1, host_id);
	bind_text(st, 2, e->incident);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		*ret_found = false;
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	id = sqlite3_column_int64(st, 0);
	sources = sources_with((const char *)sqlite3_column_text(st, 1),
	                       (const char *)sqlite3_column_text(st, 2), e->source);
	sqlite3_reset(st);
	*ret_found = true;
	sqlite3_bind_int64(up, 1, id);
	bind_text(up, 2, e->vm);
	bind_text(up, 3, e->disk);
	bind_text(up, 4, sources); /* NULL: the list stays as it is */
	rc = step_reset(up);
	free(sources);
	return rc;
}

/* Stores the report's events; each event's key makes a replay harmless,
 * and lines of one incident become one event. Marks in w->event_new the
 * ones stored for the first time (SERVER_EVENT_NEW) or merged into an
 * earlier one (SERVER_EVENT_MERGED). */
static int apply_events(struct server_db *db, struct server_db_write *w)
{
	const Aioctl__V1__ReportRequest *r = w->report;
	sqlite3_stmt *st = db->stmt[ST_EVENT_INSERT], *key = db->stmt[ST_EVENT_BY_KEY];
	int rc;

	if (!r->n_events)
		return SQLITE_OK;
	if (!w->event_new && !(w->event_new = calloc(r->n_events, sizeof(*w->event_new))))
		return SQLITE_NOMEM;
	for (size_t i = 0; i < r->n_events; i++) {
		const Aioctl__V1__AioEvent *e = r->events[i];
		bool found = false;

		w->event_new[i] = SERVER_EVENT_OLD;
		if (e->incident) {
			sqlite3_bind_int64(key, 1, w->host_id);
			bind_text(key, 2, e->key);
			rc = sqlite3_step(key);
			sqlite3_reset(key);
			if (rc == SQLITE_ROW)
				continue; /* this very line again: a replay */
			if (rc != SQLITE_DONE)
				return rc;
			if ((rc = merge_event(db, w->host_id, e, &found)) != SQLITE_OK)
				return rc;
			if (found) {
				w->event_new[i] = SERVER_EVENT_MERGED;
				continue;
			}
		}
		sqlite3_bind_int64(st, 1, w->host_id);
		sqlite3_bind_int64(st, 2, (int64_t)e->time_ms);
		sqlite3_bind_int(st, 3, (int)e->kind);
		bind_text(st, 4, e->source);
		bind_text(st, 5, e->vm);
		bind_text(st, 6, e->disk);
		bind_text(st, 7, e->line);
		bind_text(st, 8, e->key);
		bind_text(st, 9, e->incident);
		if ((rc = step_reset(st)) != SQLITE_OK)
			return rc;
		if (sqlite3_changes(db->conn) > 0)
			w->event_new[i] = SERVER_EVENT_NEW;
	}
	return SQLITE_OK;
}

/* A VM's usage is stored when it differs from the last row stored for it:
 * VMs keep their AIO contexts for their lifetime. */
static int apply_users(struct server_db *db, struct server_db_write *w)
{
	const Aioctl__V1__ReportRequest *r = w->report;
	int rc;

	for (size_t i = 0; i < r->n_users; i++) {
		const Aioctl__V1__AioUser *u = r->users[i];
		sqlite3_stmt *st = db->stmt[ST_VM_LAST];
		bool same = false;

		sqlite3_bind_int64(st, 1, w->host_id);
		bind_text(st, 2, u->name);
		if (sqlite3_step(st) == SQLITE_ROW)
			same = (uint32_t)sqlite3_column_int64(st, 0) == u->contexts &&
			       (sqlite3_column_type(st, 1) == SQLITE_NULL) == !u->has_events &&
			       (uint64_t)sqlite3_column_int64(st, 1) == u->events;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (same)
			continue;
		st = db->stmt[ST_VM_INSERT];
		sqlite3_bind_int64(st, 1, w->host_id);
		bind_text(st, 2, u->name);
		sqlite3_bind_int64(st, 3, (int64_t)w->sample.time_ms);
		sqlite3_bind_int64(st, 4, u->contexts);
		if (u->has_events)
			sqlite3_bind_int64(st, 5, (int64_t)u->events);
		if ((rc = step_reset(st)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static const int64_t tier_ms[SERVER_DB_TIERS] = { 5 * 60 * 1000, 60 * 60 * 1000 };

static void bucket_add(struct server_db_bucket *b, int64_t start, const Aioctl__V1__Sample *s)
{
	if (!b->count) {
		b->start = start;
		b->min = (int64_t)s->aio_nr_min;
		b->max = (int64_t)s->aio_nr_max;
	}
	b->count++;
	b->min = (int64_t)s->aio_nr_min < b->min ? (int64_t)s->aio_nr_min : b->min;
	b->max = (int64_t)s->aio_nr_max > b->max ? (int64_t)s->aio_nr_max : b->max;
	b->sum += (int64_t)s->aio_nr;
	if (server_history_util_ppm(s->aio_nr_max, s->aio_max_nr) > b->umax)
		b->umax = server_history_util_ppm(s->aio_nr_max, s->aio_max_nr);
}

/* Closes an open bucket into its rollup table; its last report is the
 * host's latest (every report goes into every open bucket). */
static int bucket_close(struct server_db *db, int tier, int64_t host_id,
                        const struct server_db_series *sr)
{
	const struct server_db_bucket *b = &sr->open[tier];
	sqlite3_stmt *st = db->stmt[tier ? ST_ROLLUP_1H : ST_ROLLUP_5M];

	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, b->start);
	sqlite3_bind_int64(st, 3, b->count);
	sqlite3_bind_int64(st, 4, b->min);
	sqlite3_bind_int64(st, 5, b->max);
	sqlite3_bind_int64(st, 6, b->sum);
	sqlite3_bind_int64(st, 7, sr->aio_nr);
	sqlite3_bind_int64(st, 8, sr->time_ms);
	sqlite3_bind_int64(st, 9, sr->aio_max_nr);
	sqlite3_bind_int64(st, 10, b->umax);
	return step_reset(st);
}

static int series_get(struct server_db *db, int64_t host_id, struct server_db_series *sr)
{
	sqlite3_stmt *st = db->stmt[ST_SERIES_GET];
	int rc;

	memset(sr, 0, sizeof(*sr));
	sqlite3_bind_int64(st, 1, host_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t *f[] = { &sr->seq_first,     &sr->seq_last,      &sr->reports,
			         &sr->time_ms,       &sr->aio_nr,        &sr->aio_nr_min,
			         &sr->aio_nr_max,    &sr->aio_max_nr,    &sr->raw_ms,
			         &sr->open[0].start, &sr->open[0].count, &sr->open[0].min,
			         &sr->open[0].max,   &sr->open[0].sum,   &sr->open[1].start,
			         &sr->open[1].count, &sr->open[1].min,   &sr->open[1].max,
			         &sr->open[1].sum };

		int64_t *g[] = { &sr->raw_seq, &sr->raw_first_seq, &sr->raw_first_ms, &sr->raw_n };
		int nf = (int)(sizeof(f) / sizeof(f[0])), bytes;

		for (int i = 0; i < nf; i++)
			*f[i] = sqlite3_column_int64(st, i);
		for (int i = 0; i < 4; i++)
			*g[i] = sqlite3_column_int64(st, nf + i);
		sr->open[0].umax = sqlite3_column_int64(st, nf + 5);
		sr->open[1].umax = sqlite3_column_int64(st, nf + 6);
		bytes = sqlite3_column_bytes(st, nf + 4);
		if (bytes > 0 && bytes <= SERVER_RAW_BLOCK_MAX) {
			memcpy(sr->raw_open, sqlite3_column_blob(st, nf + 4), (size_t)bytes);
			sr->raw_len = (size_t)bytes;
		} else {
			sr->raw_n = 0; /* none, or not ours: start a new block */
		}
		sr->found = true;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int series_put(struct server_db *db, int64_t host_id, const struct server_db_series *sr)
{
	sqlite3_stmt *st = db->stmt[ST_SERIES_PUT];
	const int64_t v[] = { host_id,           sr->seq_first,     sr->seq_last,
		              sr->reports,       sr->time_ms,       sr->aio_nr,
		              sr->aio_nr_min,    sr->aio_nr_max,    sr->aio_max_nr,
		              sr->raw_ms,        sr->open[0].start, sr->open[0].count,
		              sr->open[0].min,   sr->open[0].max,   sr->open[0].sum,
		              sr->open[1].start, sr->open[1].count, sr->open[1].min,
		              sr->open[1].max,   sr->open[1].sum };

	int n = (int)(sizeof(v) / sizeof(v[0]));

	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 1, v[i]);
	sqlite3_bind_int64(st, n + 1, sr->raw_seq);
	sqlite3_bind_int64(st, n + 2, sr->raw_first_seq);
	sqlite3_bind_int64(st, n + 3, sr->raw_first_ms);
	sqlite3_bind_int64(st, n + 4, sr->raw_n);
	if (sr->raw_len)
		sqlite3_bind_blob(st, n + 5, sr->raw_open, (int)sr->raw_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, n + 5);
	sqlite3_bind_int64(st, n + 6, sr->open[0].umax);
	sqlite3_bind_int64(st, n + 7, sr->open[1].umax);
	return step_reset(st);
}

/* The open block into raw, and a new one begins. */
static int raw_flush(struct server_db *db, int64_t host_id, struct server_db_series *sr)
{
	sqlite3_stmt *st = db->stmt[ST_RAW_INSERT];
	int rc;

	if (!sr->raw_n)
		return SQLITE_OK;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, sr->raw_first_seq);
	sqlite3_bind_int64(st, 3, sr->raw_first_ms);
	sqlite3_bind_int64(st, 4, sr->raw_ms);
	sqlite3_bind_int64(st, 5, sr->raw_n);
	sqlite3_bind_blob(st, 6, sr->raw_open, (int)sr->raw_len, SQLITE_STATIC);
	if ((rc = step_reset(st)) != SQLITE_OK)
		return rc;
	sr->raw_n = 0;
	sr->raw_len = 0;
	return SQLITE_OK;
}

/* Appends a raw record to the open block: one block per host and hour,
 * and no larger than SERVER_RAW_BLOCK_MAX. The previous record is the
 * last report (equal reports are not kept, so its values are the last
 * record's), at raw_seq and raw_ms. */
static int raw_append(struct server_db *db, int64_t host_id, struct server_db_series *sr,
                      const struct server_raw *r)
{
	struct server_raw prev = { (uint64_t)sr->raw_seq,    (uint64_t)sr->raw_ms,
		                   (uint64_t)sr->aio_nr,     (uint64_t)sr->aio_nr_min,
		                   (uint64_t)sr->aio_nr_max, (uint64_t)sr->aio_max_nr };
	uint8_t rec[SERVER_RAW_RECORD_MAX];
	size_t len;
	int rc;

	if (sr->raw_n &&
	    ((int64_t)r->time_ms / RAW_BLOCK_SPAN_MS != sr->raw_first_ms / RAW_BLOCK_SPAN_MS ||
	     sr->raw_len + SERVER_RAW_RECORD_MAX > SERVER_RAW_BLOCK_MAX) &&
	    (rc = raw_flush(db, host_id, sr)) != SQLITE_OK)
		return rc;
	if (!sr->raw_n) {
		memset(&prev, 0, sizeof(prev));
		sr->raw_first_seq = (int64_t)r->seq;
		sr->raw_first_ms = (int64_t)r->time_ms;
	}
	len = server_raw_encode(&prev, r, rec);
	memcpy(sr->raw_open + sr->raw_len, rec, len);
	sr->raw_len += len;
	sr->raw_n++;
	sr->raw_seq = (int64_t)r->seq;
	sr->raw_ms = (int64_t)r->time_ms;
	return SQLITE_OK;
}

/* One acknowledged report into the history: a seq at or below the host's
 * last is a replay. The raw tier keeps a report only when its values
 * differ from the last one's, or a keep-alive is due; every report goes
 * into the open 5-minute and hourly buckets, and a report in a later
 * bucket closes the open one first. */
static int apply_history(struct server_db *db, struct server_db_write *w)
{
	const Aioctl__V1__Sample *s = &w->sample;
	int64_t t = (int64_t)s->time_ms;
	struct server_db_series sr;
	bool raw;
	int rc;

	if ((rc = series_get(db, w->host_id, &sr)) != SQLITE_OK)
		return rc;
	if (sr.found && (int64_t)w->seq <= sr.seq_last) {
		w->duplicate = true;
		return SQLITE_OK;
	}
	raw = !sr.found || !sr.raw_n || (int64_t)s->aio_nr != sr.aio_nr ||
	      (int64_t)s->aio_nr_min != sr.aio_nr_min || (int64_t)s->aio_nr_max != sr.aio_nr_max ||
	      (int64_t)s->aio_max_nr != sr.aio_max_nr || t < sr.raw_ms ||
	      t - sr.raw_ms >= (int64_t)db->raw_keepalive_ms;
	for (int k = 0; k < SERVER_DB_TIERS; k++) {
		int64_t start = t / tier_ms[k] * tier_ms[k];

		if (sr.open[k].count && sr.open[k].start != start) {
			if ((rc = bucket_close(db, k, w->host_id, &sr)) != SQLITE_OK)
				return rc;
			memset(&sr.open[k], 0, sizeof(sr.open[k]));
		}
		bucket_add(&sr.open[k], start, s);
	}
	if (raw) {
		struct server_raw r = { w->seq,        s->time_ms,    s->aio_nr,
			                s->aio_nr_min, s->aio_nr_max, s->aio_max_nr };

		/* before the latest values move on: they are the previous record */
		if ((rc = raw_append(db, w->host_id, &sr, &r)) != SQLITE_OK)
			return rc;
	}
	if (!sr.found)
		sr.seq_first = (int64_t)w->seq;
	sr.seq_last = (int64_t)w->seq;
	sr.reports++;
	sr.time_ms = t;
	sr.aio_nr = (int64_t)s->aio_nr;
	sr.aio_nr_min = (int64_t)s->aio_nr_min;
	sr.aio_nr_max = (int64_t)s->aio_nr_max;
	sr.aio_max_nr = (int64_t)s->aio_max_nr;
	return series_put(db, w->host_id, &sr);
}

static int apply_sample(struct server_db *db, struct server_db_write *w)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = apply_history(db, w)) != SQLITE_OK || w->duplicate)
		return rc;
	if (w->report && (rc = apply_events(db, w)) != SQLITE_OK)
		return rc;
	if (w->report && w->report->n_users && (rc = apply_users(db, w)) != SQLITE_OK)
		return rc;
	if (w->detail_blob) {
		st = db->stmt[ST_HOST_DETAIL];
		sqlite3_bind_int64(st, 1, w->host_id);
		sqlite3_bind_blob(st, 2, w->detail_blob, (int)w->detail_len, SQLITE_STATIC);
		if ((rc = step_reset(st)) != SQLITE_OK)
			return rc;
	}
	if (w->report && w->report->has_dropped) {
		st = db->stmt[ST_HOST_DROPPED];
		sqlite3_bind_int64(st, 1, w->host_id);
		sqlite3_bind_int64(st, 2, (int64_t)w->report->dropped);
		rc = step_reset(st);
	}
	return rc;
}

static int rc_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	default:
		return -EIO;
	}
}

/* One transaction for the whole batch; on failure every write in it fails
 * and its sender keeps the data to send again. */
static int commit_batch(struct server_db *db, struct server_db_write *batch)
{
	int rc = step_reset(db->stmt[ST_BEGIN]);

	for (struct server_db_write *w = batch; w && rc == SQLITE_OK; w = w->next)
		rc = w->type == SERVER_DB_WRITE_HOST ? apply_host(db, w)
		     : w->type == SERVER_DB_WRITE_FN ? w->fn(db->conn, w->arg)
		                                     : apply_sample(db, w);
	if (rc == SQLITE_OK)
		rc = step_reset(db->stmt[ST_COMMIT]);
	if (rc != SQLITE_OK) {
		log_err("database: batch not stored: %s", sqlite3_errmsg(db->conn));
		if (!sqlite3_get_autocommit(db->conn))
			step_reset(db->stmt[ST_ROLLBACK]);
	}
	return rc_errno(rc);
}

static void *db_thread(void *arg)
{
	struct server_db *db = arg;
	bool busy = false;

	for (;;) {
		struct server_db_write *batch, *w, **tail;
		size_t n = 0;
		int err;

		pthread_mutex_lock(&db->lock);
		while (!db->head && !db->stopping)
			pthread_cond_wait(&db->wake, &db->lock);
		if (!db->head) {
			pthread_mutex_unlock(&db->lock);
			break;
		}
		/* under load, let a batch fill for a moment: a commit costs far
		 * more than one more row in it */
		if (db->batch_wait_us && busy && db->queued < db->batch_max && !db->stopping) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)db->batch_wait_us * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			db->filling = true;
			while (db->queued < db->batch_max && !db->stopping &&
			       pthread_cond_timedwait(&db->wake, &db->lock, &ts) == 0)
				;
			db->filling = false;
		}
		/* take up to batch_max writes off the queue */
		batch = db->head;
		tail = &db->head;
		while (*tail && n < db->batch_max) {
			tail = &(*tail)->next;
			n++;
		}
		db->head = *tail;
		*tail = NULL;
		if (!db->head)
			db->tail = &db->head;
		db->queued -= n;
		pthread_mutex_unlock(&db->lock);

		busy = n > 1;
		err = commit_batch(db, batch);
		/* replies go out from another thread: this one commits the next
		 * batch meanwhile */
		for (w = batch; w; w = w->next)
			w->err = err;
		pthread_mutex_lock(&db->lock);
		*db->done_tail = batch;
		db->done_tail = tail;
		pthread_cond_signal(&db->done_wake);
		pthread_mutex_unlock(&db->lock);
	}
	pthread_mutex_lock(&db->lock);
	db->committer_done = true;
	pthread_cond_signal(&db->done_wake);
	pthread_mutex_unlock(&db->lock);
	return NULL;
}

/* After each commit of the writer: wakes the checkpoint thread once the
 * WAL holds enough pages. A checkpoint alongside a busy writer never
 * catches up with it, and the WAL starts over only once all of it is
 * copied: at twice the pages the writer copies the rest itself, little
 * once the thread has done the bulk. */
static int wal_hook(void *arg, sqlite3 *conn, const char *name, int pages)
{
	struct server_db *db = arg;

	if (pages >= 2 * CHECKPOINT_PAGES) {
		sqlite3_wal_checkpoint_v2(conn, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (pages >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&db->lock);
		db->ckpt_due = true;
		pthread_cond_signal(&db->ckpt_wake);
		pthread_mutex_unlock(&db->lock);
	}
	return SQLITE_OK;
}

/* PASSIVE: copies back what no reader still needs, alongside the writer;
 * the writer starts the WAL over once all of it is copied. */
static void *ckpt_thread(void *arg)
{
	struct server_db *db = arg;

	for (;;) {
		bool stop;

		pthread_mutex_lock(&db->lock);
		while (!db->ckpt_due && !db->committer_done)
			pthread_cond_wait(&db->ckpt_wake, &db->lock);
		stop = db->committer_done;
		db->ckpt_due = false;
		pthread_mutex_unlock(&db->lock);
		if (stop)
			break;
		if (sqlite3_wal_checkpoint_v2(db->ckpt_conn, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
		                              NULL) != SQLITE_OK)
			log_warn("database: checkpoint: %s", sqlite3_errmsg(db->ckpt_conn));
	}
	return NULL;
}

static int ckpt_start(struct server_db *db)
{
	if (sqlite3_open_v2(db->path, &db->ckpt_conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_busy_timeout(db->ckpt_conn, 5000);
	if (pthread_create(&db->ckpt_thread, NULL, ckpt_thread, db) != 0)
		return -EAGAIN;
	db->ckpt_started = true;
	sqlite3_wal_autocheckpoint(db->conn, 0);
	sqlite3_wal_hook(db->conn, wal_hook, db);
	return 0;
}

static void *done_thread(void *arg)
{
	struct server_db *db = arg;

	for (;;) {
		struct server_db_write *w, *next;
		bool last;

		pthread_mutex_lock(&db->lock);
		while (!db->done_head && !db->committer_done)
			pthread_cond_wait(&db->done_wake, &db->lock);
		w = db->done_head;
		db->done_head = NULL;
		db->done_tail = &db->done_head;
		last = db->committer_done;
		pthread_mutex_unlock(&db->lock);
		for (; w; w = next) {
			next = w->next;
			if (w->done)
				w->done(w, w->err);
			else
				server_db_write_free(w);
		}
		if (last) {
			pthread_mutex_lock(&db->lock);
			last = !db->done_head;
			pthread_mutex_unlock(&db->lock);
			if (last)
				break;
		}
	}
	return NULL;
}

size_t server_db_queued(struct server_db *db)
{
	size_t n;

	pthread_mutex_lock(&db->lock);
	n = db->queued;
	pthread_mutex_unlock(&db->lock);
	return n;
}

sqlite3 *server_db_conn(struct server_db *db)
{
	return db->conn;
}

int server_db_start(struct server_db *db, size_t queue_max, size_t batch_max,
                    uint64_t batch_wait_us)
{
	db->queue_max = queue_max;
	db->batch_wait_us = batch_wait_us;
	db->batch_max = batch_max ? batch_max : 1;
	if (pthread_create(&db->done_thread, NULL, done_thread, db) != 0)
		return -EAGAIN;
	if (pthread_create(&db->thread, NULL, db_thread, db) != 0) {
		pthread_mutex_lock(&db->lock);
		db->committer_done = true;
		pthread_cond_signal(&db->done_wake);
		pthread_mutex_unlock(&db->lock);
		pthread_join(db->done_thread, NULL);
		return -EAGAIN;
	}
	db->started = true;
	/* without it, the writer checkpoints itself as SQLite does */
	if (ckpt_start(db) < 0)
		log_warn("database: no checkpoint thread: the writer checkpoints");
	return 0;
}

int server_db_submit(struct server_db *db, struct server_db_write *w)
{
	int r = 0;

	w->next = NULL;
	pthread_mutex_lock(&db->lock);
	if (db->stopping)
		r = -ESHUTDOWN;
	else if (db->queued >= db->queue_max)
		r = -EAGAIN;
	else {
		*db->tail = w;
		db->tail = &w->next;
		db->queued++;
		/* while a batch fills, wake the thread only when it is full */
		if (!db->filling || db->queued >= db->batch_max)
			pthread_cond_signal(&db->wake);
	}
	pthread_mutex_unlock(&db->lock);
	return r;
}

#define EXEC_ARGS_MAX 8

struct exec_write {
	struct server_db_write w; /* first */
	char *sql;
	char types[EXEC_ARGS_MAX + 1];
	int64_t ints[EXEC_ARGS_MAX];
	double reals[EXEC_ARGS_MAX];
	char *texts[EXEC_ARGS_MAX];
	void (*then)(void *arg, int err);
	void *then_arg;
};

static int exec_apply(sqlite3 *conn, void *arg)
{
	struct exec_write *x = arg;
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(conn, x->sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	for (int i = 0; x->types[i]; i++) {
		if (x->types[i] == 'i')
			sqlite3_bind_int64(st, i + 1, x->ints[i]);
		else if (x->types[i] == 'd')
			sqlite3_bind_double(st, i + 1, x->reals[i]);
		else
			bind_text(st, i + 1, x->texts[i]);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void exec_free(struct exec_write *x)
{
	for (int i = 0; i < EXEC_ARGS_MAX; i++)
		free(x->texts[i]);
	free(x->sql);
	free(x);
}

static void exec_done(struct server_db_write *w, int err)
{
	struct exec_write *x = (struct exec_write *)w;

	if (x->then)
		x->then(x->then_arg, err);
	exec_free(x);
}

int server_db_exec(struct server_db *db, void (*then)(void *arg, int err), void *arg,
                   const char *sql, const char *types, ...)
{
	struct exec_write *x = calloc(1, sizeof(*x));
	va_list ap;
	int r;

	if (!x || strlen(types) > EXEC_ARGS_MAX || !(x->sql = strdup(sql))) {
		free(x);
		return -ENOMEM;
	}
	snprintf(x->types, sizeof(x->types), "%s", types);
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 'i') {
			x->ints[i] = va_arg(ap, int64_t);
		} else if (types[i] == 'd') {
			x->reals[i] = va_arg(ap, double);
		} else {
			const char *t = va_arg(ap, const char *);

			x->texts[i] = t ? strdup(t) : NULL;
		}
	}
	va_end(ap);
	x->w.type = SERVER_DB_WRITE_FN;
	x->w.fn = exec_apply;
	x->w.arg = x;
	x->w.done = exec_done;
	x->then = then;
	x->then_arg = arg;
	if ((r = server_db_submit(db, &x->w)) < 0)
		exec_free(x);
	return r;
}

void server_db_close(struct server_db *db)
{
	if (!db)
		return;
	if (db->started) {
		pthread_mutex_lock(&db->lock);
		db->stopping = true;
		pthread_cond_signal(&db->wake);
		pthread_mutex_unlock(&db->lock);
		pthread_join(db->thread, NULL);
		pthread_join(db->done_thread, NULL);
	}
	if (db->ckpt_started) {
		pthread_mutex_lock(&db->lock);
		pthread_cond_signal(&db->ckpt_wake); /* committer_done is set */
		pthread_mutex_unlock(&db->lock);
		pthread_join(db->ckpt_thread, NULL);
	}
	sqlite3_close(db->ckpt_conn);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->stmt[i]);
	if (db->conn)
		sqlite3_close(db->conn);
	pthread_cond_destroy(&db->wake);
	pthread_cond_destroy(&db->done_wake);
	pthread_cond_destroy(&db->ckpt_wake);
	pthread_mutex_destroy(&db->lock);
	free(db->path);
	free(db);
}
