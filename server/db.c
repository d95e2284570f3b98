#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "log.h"

/* Statements kept prepared on the write connection. */
#define STMT_CACHE 64

struct server_db {
	struct server_sql *conn; /* the database thread's, once started */
	struct {
		const char *sql;
		struct server_sql_stmt *st;
	} stmt[STMT_CACHE];
	struct server_sql_stmt *begin, *commit, *rollback;
	server_db_apply_fn apply; /* the owners' typed writes */
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
	uint64_t txn;          /* transactions begun (database thread) */
	void *history_scratch; /* server_db_history_scratch */
	bool filling;          /* the thread waits for a batch to fill */
	uint64_t raw_keepalive_ms;
	/* checkpoints run on their own thread and connection, so the
	 * writer never copies the WAL back itself */
	pthread_t ckpt_thread;
	bool ckpt_started, ckpt_due;
	uint64_t failed_batches, next_fail_log_ms; /* database thread */
	_Atomic uint64_t batch_since_ms;           /* the batch in hand's start (mono), or 0 */
	pthread_cond_t ckpt_wake;
	sqlite3 *ckpt_conn;
};

/* WAL pages after which the checkpoint thread copies them back. */
#define CHECKPOINT_PAGES 8000

int server_db_run(struct server_sql *conn, const char *sql, char *err, size_t errlen)
{
	if (server_sql_exec(conn, sql) != SQLITE_OK) {
		if (err)
			snprintf(err, errlen, "%s", server_sql_errmsg(conn));
		return -EIO;
	}
	return 0;
}

int server_db_schema_version(const struct server_db_migration *const *schema, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		for (const struct server_db_migration *m = schema[i]; m->sql; m++)
			v = m->version > v ? m->version : v;
	return v;
}

/* Runs every owner's part of version v, in the owners' order. */
static int migrate_one(struct server_sql *conn, const struct server_db_migration *const *schema,
                       size_t n, int v, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		for (const struct server_db_migration *m = schema[i]; m->sql; m++)
			if (m->version == v && server_db_run(conn, m->sql, err, errlen) < 0)
				return -EIO;
	return 0;
}

/* The version the database is at: SQLite's user_version, PostgreSQL's
 * aio_schema row (made here; the caller holds the migration lock). */
static int schema_at(struct server_sql *conn, int *version, char *err, size_t errlen)
{
	bool pg = server_sql_kind(conn) == SERVER_SQL_POSTGRESQL;
	struct server_sql_stmt *st;
	int rc;

	*version = 0;
	if (pg && server_db_run(conn,
	                        "CREATE TABLE IF NOT EXISTS aio_schema (version integer NOT NULL);"
	                        "INSERT INTO aio_schema SELECT 0"
	                        " WHERE NOT EXISTS (SELECT 1 FROM aio_schema)",
	                        err, errlen) < 0)
		return -EIO;
	if ((rc = server_sql_prepare(conn,
	                             pg ? "SELECT version FROM aio_schema" : "PRAGMA user_version",
	                             false, &st)) != SQLITE_OK) {
		snprintf(err, errlen, "%s", server_sql_errmsg(conn));
		return -EIO;
	}
	if ((rc = server_sql_step(st)) == SQLITE_ROW)
		*version = (int)server_sql_column_int64(st, 0);
	server_sql_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", server_sql_errmsg(conn));
		return -EIO;
	}
	return 0;
}

/* The key of the advisory lock migrations run under on PostgreSQL. */
#define MIGRATION_LOCK "7340195"

/* Each version in a transaction of its own on SQLite (which has one
 * writer); on PostgreSQL all of them in one, under an advisory lock, so of
 * servers starting together one migrates and the others find it done. */
static int migrate(struct server_sql *conn, const struct server_db_migration *const *schema,
                   size_t n, char *err, size_t errlen)
{
	bool pg = server_sql_kind(conn) == SERVER_SQL_POSTGRESQL;
	int version = 0, latest = server_db_schema_version(schema, n);

	if (pg && (server_db_run(conn, "BEGIN", err, errlen) < 0 ||
	           server_db_run(conn, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", err,
	                         errlen) < 0))
		goto fail;
	if (schema_at(conn, &version, err, errlen) < 0)
		goto fail;
	if (version > latest) {
		snprintf(err, errlen, "database schema version %d is newer than this server (%d)",
		         version, latest);
		if (pg)
			server_db_run(conn, "ROLLBACK", NULL, 0);
		return -EPROTO;
	}
	for (int v = version + 1; v <= latest; v++) {
		char sql[64];

		if (!pg && server_db_run(conn, "BEGIN", err, errlen) < 0)
			return -EIO;
		snprintf(sql, sizeof(sql),
		         pg ? "UPDATE aio_schema SET version = %d" : "PRAGMA user_version = %d", v);
		if (migrate_one(conn, schema, n, v, err, errlen) < 0 ||
		    server_db_run(conn, sql, err, errlen) < 0)
			goto fail;
		if (!pg && server_db_run(conn, "COMMIT", err, errlen) < 0)
			return -EIO;
		if (!pg)
			log_info("database: schema migrated to version %d", v);
	}
	if (pg && server_db_run(conn, "COMMIT", err, errlen) < 0)
		goto fail;
	if (pg && version < latest)
		log_info("database: schema migrated from version %d to %d", version, latest);
	return 0;

fail:
	if (server_sql_in_txn(conn))
		server_db_run(conn, "ROLLBACK", NULL, 0);
	return -EIO;
}

struct server_sql_stmt *server_db_stmt(struct server_db *db, const char *sql)
{
	size_t i;

	for (i = 0; i < STMT_CACHE && db->stmt[i].sql; i++)
		if (db->stmt[i].sql == sql)
			return db->stmt[i].st;
	if (i == STMT_CACHE)
		return NULL; /* more statements than kept: raise STMT_CACHE */
	if (server_sql_prepare(db->conn, sql, true, &db->stmt[i].st) != SQLITE_OK) {
		log_err("database: %s", server_sql_errmsg(db->conn));
		db->stmt[i].st = NULL;
		return NULL;
	}
	db->stmt[i].sql = sql;
	return db->stmt[i].st;
}

int server_db_step(struct server_sql_stmt *st)
{
	int rc = server_sql_step(st);

	server_sql_reset(st);
	server_sql_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

uint64_t server_db_txn(struct server_db *db)
{
	return db->txn;
}

void **server_db_history_scratch(struct server_db *db)
{
	return &db->history_scratch;
}

uint64_t server_db_batch_age_ms(struct server_db *db)
{
	uint64_t since = atomic_load(&db->batch_since_ms);

	return since ? aio_mono_ms() - since : 0;
}

uint64_t server_db_keepalive(struct server_db *db)
{
	return db->raw_keepalive_ms;
}

/* The database holds token and secret hashes: it and its -wal and -shm
 * files are the server's alone (SQLite gives the last two the database's
 * mode). Made 0600 before SQLite creates it, and made so if an older
 * version left it 0644. */
static int private_files(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char p[4200];
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -errno;
	close(fd);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (chmod(p, 0600) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int server_db_create(const char *path, const struct server_db_migration *const *schema,
                     size_t n_schema, const struct server_db_migration *const *pg_schema,
                     size_t n_pg_schema, server_db_apply_fn apply, struct server_db **ret_db,
                     char *err, size_t errlen)
{
	struct server_db *db = calloc(1, sizeof(*db));
	bool pg = server_sql_is_postgresql(path);
	int r = -EIO;

	if (!db)
		return -ENOMEM;
	db->path = strdup(path);
	db->tail = &db->head;
	db->done_tail = &db->done_head;
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->wake, NULL);
	pthread_cond_init(&db->done_wake, NULL);
	pthread_cond_init(&db->ckpt_wake, NULL);
	if (pg) {
		if ((r = server_sql_open_postgresql(path, &db->conn, err, errlen)) < 0)
			goto out_free;
	} else {
		if ((r = private_files(path)) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			goto out_free;
		}
		if ((r = server_sql_open_sqlite(
		             path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
		             &db->conn, err, errlen)) < 0)
			goto out_free;
		r = -EIO;
		if (server_db_run(db->conn,
		                  "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		                  "PRAGMA foreign_keys = ON;",
		                  err, errlen) < 0)
			goto out_free;
	}
	if ((r = migrate(db->conn, pg ? pg_schema : schema, pg ? n_pg_schema : n_schema, err,
	                 errlen)) < 0)
		goto out_free;
	db->apply = apply;
	if (!(db->begin = server_db_stmt(db, pg ? "BEGIN" : "BEGIN IMMEDIATE")) ||
	    !(db->commit = server_db_stmt(db, "COMMIT")) ||
	    !(db->rollback = server_db_stmt(db, "ROLLBACK"))) {
		snprintf(err, errlen, "%s: %s", path, server_sql_errmsg(db->conn));
		r = -EIO;
		goto out_free;
	}
	*ret_db = db;
	return 0;

out_free:
	server_db_close(db);
	return r;
}

int server_db_exists(const char *path, char *err, size_t errlen)
{
	struct server_sql *c;
	struct server_sql_stmt *st;
	struct stat sb;
	int rc, r = -EIO;

	if (!server_sql_is_postgresql(path))
		return stat(path, &sb) == 0 && sb.st_size > 0;
	if ((r = server_sql_open_postgresql(path, &c, err, errlen)) < 0)
		return r;
	r = -EIO;
	if (server_sql_prepare(c, "SELECT to_regclass('aio_schema') IS NOT NULL", false, &st) ==
	            SQLITE_OK &&
	    (rc = server_sql_step(st)) == SQLITE_ROW)
		r = server_sql_column_int64(st, 0) != 0;
	else
		snprintf(err, errlen, "PostgreSQL: %s", server_sql_errmsg(c));
	server_sql_finalize(st);
	server_sql_close(c);
	return r;
}

const char *server_db_path(struct server_db *db)
{
	return db->path;
}

void server_db_set_keepalive(struct server_db *db, uint64_t raw_keepalive_ms)
{
	db->raw_keepalive_ms = raw_keepalive_ms;
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

const char *server_db_cause(struct server_sql *conn, int rc, char *buf, size_t len)
{
	const char *msg = conn ? server_sql_errmsg(conn) : NULL;
	int sys = conn ? server_sql_system_errno(conn) : 0;
	size_t n;

	if (conn && server_sql_kind(conn) == SERVER_SQL_POSTGRESQL) {
		snprintf(buf, len, "PostgreSQL%s: %s",
		         server_sql_broken(conn) ? " unreachable" : "", msg);
		return buf;
	}
	if (rc == SQLITE_OK && conn)
		rc = sqlite3_extended_errcode(server_sql_sqlite(conn));
	n = (size_t)snprintf(buf, len, "%s", sqlite3_errstr(rc));
	if (msg && n < len && strcmp(msg, sqlite3_errstr(rc)) && strcmp(msg, "not an error"))
		n += (size_t)snprintf(buf + n, len - n, ": %s", msg);
	if (sys && n < len && (rc & 0xff) != SQLITE_CONSTRAINT)
		snprintf(buf + n, len - n, " (%s)", strerror(sys));
	return buf;
}

int server_db_failed(struct server_sql *conn, int rc, const char *what)
{
	char cause[512];

	log_err("database: %s: %s", what, server_db_cause(conn, rc, cause, sizeof(cause)));
	return rc_errno(rc) ? rc_errno(rc) : -EIO;
}

/* A batch that fails is logged when failures start, then at most once in
 * 10 s with their count, and when batches are stored again: a full disk
 * does not write a line per batch. */
static void note_commit(struct server_db *db, int rc)
{
	uint64_t now = aio_mono_ms();
	char cause[512];

	if (rc == SQLITE_OK) {
		if (db->failed_batches)
			log_info("database: batches stored again, after %" PRIu64 " that failed",
			         db->failed_batches);
		db->failed_batches = 0;
		return;
	}
	if (db->failed_batches++ && now < db->next_fail_log_ms)
		return;
	log_err("database: %s not stored: %s", db->failed_batches == 1 ? "a batch" : "batches",
	        server_db_cause(db->conn, rc, cause, sizeof(cause)));
	if (db->failed_batches > 1)
		log_err("database: %" PRIu64 " batches failed so far; senders keep their data and "
		        "retry (logged once in 10 s)",
		        db->failed_batches);
	db->next_fail_log_ms = now + 10000;
}

/* One transaction for the whole batch; on failure every write in it fails
 * and its sender keeps the data to send again. */
static int commit_batch(struct server_db *db, struct server_db_write *batch)
{
	int rc;

	/* PostgreSQL went away: try again for this batch; its statements
	 * prepare again on the new connection */
	if (server_sql_broken(db->conn) && server_sql_reconnect(db->conn) == 0)
		log_info("database: connected to PostgreSQL again");
	rc = server_db_step(db->begin);

	db->txn++;
	for (struct server_db_write *w = batch; w && rc == SQLITE_OK; w = w->next)
		rc = w->type == SERVER_DB_WRITE_FN ? w->fn(db->conn, w->arg) : db->apply(db, w);
	if (rc == SQLITE_OK)
		rc = server_db_step(db->commit);
	note_commit(db, rc);
	if (rc != SQLITE_OK && server_sql_in_txn(db->conn))
		server_db_step(db->rollback);
	return rc_errno(rc);
}

static void *db_thread(void *arg)
{
	struct server_db *db = arg;
	bool busy = false;

	for (;;) {
		struct server_db_write *batch, *w, **tail;
		bool joined = false;
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
		/* take up to batch_max writes off the queue, and never a part
		 * of writes submitted together */
		batch = db->head;
		tail = &db->head;
		while (*tail && (n < db->batch_max || (n && joined))) {
			joined = (*tail)->joined;
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
		atomic_store(&db->batch_since_ms, aio_mono_ms());
		err = commit_batch(db, batch);
		atomic_store(&db->batch_since_ms, 0);
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
	if (!server_sql_sqlite(db->conn))
		return 0; /* PostgreSQL checkpoints itself */
	if (sqlite3_open_v2(db->path, &db->ckpt_conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_busy_timeout(db->ckpt_conn, 5000);
	if (pthread_create(&db->ckpt_thread, NULL, ckpt_thread, db) != 0)
		return -EAGAIN;
	db->ckpt_started = true;
	sqlite3_wal_autocheckpoint(server_sql_sqlite(db->conn), 0);
	sqlite3_wal_hook(server_sql_sqlite(db->conn), wal_hook, db);
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

struct server_sql *server_db_conn(struct server_db *db)
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

int server_db_submit_many(struct server_db *db, struct server_db_write *first, size_t n)
{
	struct server_db_write *last = first;
	int r = 0;

	for (size_t i = 1; i < n; i++) {
		last->joined = true;
		last = last->next;
	}
	last->next = NULL;
	last->joined = false;
	pthread_mutex_lock(&db->lock);
	if (db->stopping)
		r = -ESHUTDOWN;
	else if (db->queued + n > db->queue_max)
		r = -EAGAIN;
	else {
		*db->tail = first;
		db->tail = &last->next;
		db->queued += n;
		/* while a batch fills, wake the thread only when it is full */
		if (!db->filling || db->queued >= db->batch_max)
			pthread_cond_signal(&db->wake);
	}
	pthread_mutex_unlock(&db->lock);
	return r;
}

int server_db_submit(struct server_db *db, struct server_db_write *w)
{
	w->next = NULL;
	return server_db_submit_many(db, w, 1);
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
	/* run after the statement, in its transaction; freed by also_free */
	int (*also)(struct server_sql *conn, void *arg);
	void *also_arg;
	void (*also_free)(void *arg);
};

static int exec_apply(struct server_sql *conn, void *arg)
{
	struct exec_write *x = arg;
	struct server_sql_stmt *st;
	int rc;

	if ((rc = server_sql_prepare(conn, x->sql, false, &st)) != SQLITE_OK)
		return rc;
	for (int i = 0; x->types[i]; i++) {
		if (x->types[i] == 'i')
			server_sql_bind_int64(st, i + 1, x->ints[i]);
		else if (x->types[i] == 'd')
			server_sql_bind_double(st, i + 1, x->reals[i]);
		else
			server_sql_bind_text(st, i + 1, x->texts[i]);
	}
	rc = server_sql_step(st);
	server_sql_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return rc;
	return x->also ? x->also(conn, x->also_arg) : SQLITE_OK;
}

static void exec_free(struct exec_write *x)
{
	if (x->also_free)
		x->also_free(x->also_arg);
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

int server_db_vexec(struct server_db *db, int (*also)(struct server_sql *conn, void *arg),
                    void *also_arg, void (*also_free)(void *arg), void (*then)(void *arg, int err),
                    void *arg, const char *sql, const char *types, va_list ap)
{
	struct exec_write *x = calloc(1, sizeof(*x));
	int r;

	if (!x || strlen(types) > EXEC_ARGS_MAX || !(x->sql = strdup(sql))) {
		free(x);
		if (also_free)
			also_free(also_arg);
		return -ENOMEM;
	}
	snprintf(x->types, sizeof(x->types), "%s", types);
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
	x->w.type = SERVER_DB_WRITE_FN;
	x->w.fn = exec_apply;
	x->w.arg = x;
	x->w.done = exec_done;
	x->then = then;
	x->then_arg = arg;
	x->also = also;
	x->also_arg = also_arg;
	x->also_free = also_free;
	if ((r = server_db_submit(db, &x->w)) < 0)
		exec_free(x);
	return r;
}

int server_db_exec(struct server_db *db, void (*then)(void *arg, int err), void *arg,
                   const char *sql, const char *types, ...)
{
	va_list ap;
	int r;

	va_start(ap, types);
	r = server_db_vexec(db, NULL, NULL, NULL, then, arg, sql, types, ap);
	va_end(ap);
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
	for (int i = 0; i < STMT_CACHE; i++)
		server_sql_finalize(db->stmt[i].st);
	server_sql_close(db->conn);
	pthread_cond_destroy(&db->wake);
	pthread_cond_destroy(&db->done_wake);
	pthread_cond_destroy(&db->ckpt_wake);
	pthread_mutex_destroy(&db->lock);
	free(db->history_scratch);
	free(db->path);
	free(db);
}
