/* The server's store: SQLite (WAL) or PostgreSQL, through sql.h. One
 * thread owns the write connection and
 * commits queued writes in batches (group commit); a write's done callback
 * runs on that thread after its batch committed or failed, so handlers
 * never wait for the disk and replies mean "stored". */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "hosts.h"
#include "rawblock.h"
#include "sql.h"

struct server_db;

enum { SERVER_EVENT_OLD, SERVER_EVENT_NEW, SERVER_EVENT_MERGED };

enum server_db_write_type {
	SERVER_DB_WRITE_HOST,   /* upsert identity and labels */
	SERVER_DB_WRITE_SAMPLE, /* one report interval, de-duplicated by seq */
	SERVER_DB_WRITE_FN,     /* fn(conn, arg) inside the batch's transaction */
};

struct server_db_write {
	struct server_db_write *next;
	bool joined; /* set by server_db_submit_many: next is in the same transaction */
	enum server_db_write_type type;
	int64_t host_id;
	/* SERVER_DB_WRITE_HOST: copies, freed with the write */
	char *name;
	char *kernel;
	char *agent_version;
	struct server_label *labels;
	size_t n_labels;
	uint32_t interval_ms;
	int counting;
	uint64_t first_seen_ms;
	uint64_t last_seen_ms;
	uint64_t limit_min, limit_max, limit_margin, boot_time_ms;
	char *sysctl_file;
	/* SERVER_DB_WRITE_SAMPLE */
	uint64_t seq;
	Aioctl__V1__Sample sample;
	Aioctl__V1__ReportRequest *report; /* owned: its events are stored */
	uint8_t *detail_blob;              /* owned: packed HostDetail, or NULL */
	size_t detail_len;
	bool duplicate; /* set by the db: seq was already stored */
	/* set by the db, per event: SERVER_EVENT_NEW when stored the first
	 * time, _MERGED when it joined its incident's stored event */
	unsigned char *event_new;
	int err; /* set by the db: the batch's result */
	/* SERVER_DB_WRITE_FN: returns an SQLite result code; arg is the
	 * caller's, freed by its done callback */
	int (*fn)(struct server_sql *conn, void *arg);
	/* err: 0, -ENOSPC (disk full), -EIO; owns and frees w */
	void (*done)(struct server_db_write *w, int err);
	void *arg;
};

/* One table owner's part of a schema version. Each owner lists its
 * steps in ascending versions, ended by { 0, NULL }; a version's parts run
 * in one transaction in the owners' order. Never edit a shipped step:
 * append a new one. SQLite and PostgreSQL have a list each: PostgreSQL's
 * starts at version 14 with the schema SQLite had reached by then. */
struct server_db_migration {
	int version;
	const char *sql;
};

/* Applies a typed write (not _FN) inside a batch: an SQLite result code. */
typedef int (*server_db_apply_fn)(struct server_db *db, struct server_db_write *w);
/* Opens the database at path (an SQLite file or a postgresql:// URL) and
 * migrates it to the newest version in schema, or in pg_schema for
 * PostgreSQL (the owners' steps, n_schema and n_pg_schema lists; each version in one
 * transaction, the owners' parts in their order; on PostgreSQL under an
 * advisory lock, so of several servers starting one migrates); apply
 * stores the typed writes. store.c gives them (server_store_open). */
int server_db_create(const char *path, const struct server_db_migration *const *schema,
                     size_t n_schema, const struct server_db_migration *const *pg_schema,
                     size_t n_pg_schema, server_db_apply_fn apply, struct server_db **ret_db,
                     char *err, size_t errlen);
/* 1 if the database at path holds a server's data, 0 if it is missing or
 * empty (an SQLite file of no bytes, a PostgreSQL database with no
 * schema), or a negative errno with a message in err. */
int server_db_exists(const char *path, char *err, size_t errlen);
/* The URL or path the database was opened with. */
const char *server_db_path(struct server_db *db);
/* The newest version in schema. */
int server_db_schema_version(const struct server_db_migration *const *schema, size_t n);
/* Runs SQL text on conn: 0, or -EIO with its message in err (which may be
 * NULL). */
int server_db_run(struct server_sql *conn, const char *sql, char *err, size_t errlen);
/* A report equal to the last one is kept raw only this long after the
 * last raw sample (0: every report is kept). */
void server_db_set_keepalive(struct server_db *db, uint64_t raw_keepalive_ms);
/* The write connection: for loading state before server_db_start, and for
 * the table owners on the database thread. */
struct server_sql *server_db_conn(struct server_db *db);
/* The write connection's statement for sql, prepared once (keyed by the
 * string's address: pass a static array); NULL if it does not prepare,
 * which server_sql_step treats as misuse. Database thread
 * (or before start) only. */
struct server_sql_stmt *server_db_stmt(struct server_db *db, const char *sql);
/* What went wrong, for a person: SQLite's words for rc, its message when
 * it says more, and the system's error ("database or disk is full: No
 * space left on device"), never "not an error". */
const char *server_db_cause(struct server_sql *conn, int rc, char *buf, size_t len);
/* Logs "database: what: cause" and returns rc as a negative errno
 * (-ENOSPC, -EBUSY, -EIO). */
int server_db_failed(struct server_sql *conn, int rc, const char *what);
/* Steps st and resets it: SQLITE_OK for a row or done, else its code. */
int server_db_step(struct server_sql_stmt *st);
uint64_t server_db_keepalive(struct server_db *db);
/* How long the database thread has been in its current batch; 0 when idle
 * (the watchdog's question). */
uint64_t server_db_batch_age_ms(struct server_db *db);

/* The database side of a reader (query.h), for the table owners: its
 * connection, and its statement for sql prepared once (keyed by address,
 * reset and unbound when handed out; NULL if it does not prepare). */
struct server_reader;
struct server_sql *server_reader_conn(struct server_reader *rd);
struct server_sql_stmt *server_reader_stmt(struct server_reader *rd, const char *sql);
/* batch_wait_us: under load, how long a batch may wait to fill. */
int server_db_start(struct server_db *db, size_t queue_max, size_t batch_max,
                    uint64_t batch_wait_us);
/* The transaction the database thread is in: a number that changes with
 * every batch (database thread only). */
uint64_t server_db_txn(struct server_db *db);
/* Scratch the history keeps across a transaction's writes (database
 * thread only): allocated by its user, freed with the database. */
void **server_db_history_scratch(struct server_db *db);
/* Queues w; -EAGAIN when the queue is full, -ESHUTDOWN when stopping. */
int server_db_submit(struct server_db *db, struct server_db_write *w);
/* Queues the n writes linked from first by next, all or none, to be
 * stored in one transaction (which may hold other writes too). */
int server_db_submit_many(struct server_db *db, struct server_db_write *first, size_t n);
/* Makes w (zeroed) a host write with copies of h's fields; the caller holds
 * the registry lock. On failure w still goes to server_db_write_free. */
int server_db_write_host_fill(struct server_db_write *w, const struct server_host *h);
/* Frees what w holds, then w itself. */
void server_db_write_free(struct server_db_write *w);
/* Queues one SQL statement with parameters typed by types ('i' int64_t,
 * 'd' double, 't' text or NULL); then(arg, err) runs after its batch committed or
 * failed (on the database thread). Returns -EAGAIN when the queue is
 * full, -ENOMEM. */
int server_db_exec(struct server_db *db, void (*then)(void *arg, int err), void *arg,
                   const char *sql, const char *types, ...);
/* server_db_exec with its arguments in ap, and also(conn, also_arg) run
 * after the statement in the same transaction (also_free(also_arg) when
 * done, or at once if it cannot be queued). */
int server_db_vexec(struct server_db *db, int (*also)(struct server_sql *conn, void *arg),
                    void *also_arg, void (*also_free)(void *arg), void (*then)(void *arg, int err),
                    void *arg, const char *sql, const char *types, va_list ap);
/* Writes waiting for the database thread. */
size_t server_db_queued(struct server_db *db);
/* Commits what is queued, stops the thread, closes the database. */
void server_db_close(struct server_db *db);
