/* The server's database connection and statements, SQLite or PostgreSQL
 * (libpq) behind one set of calls, so each table owner writes its SQL once.
 * The calls mirror SQLite's and speak its result codes (SQLITE_OK, _ROW,
 * _DONE, _FULL, _BUSY, _CONSTRAINT ...) and column types whichever
 * database is behind them; on PostgreSQL, SQLSTATEs map to those codes.
 *
 * SQL the owners write runs on both: "?N" parameters (rewritten to "$N"
 * for PostgreSQL), upserts with a conflict target, greatest()/least() for
 * the two-argument max/min (registered for SQLite), the target table's
 * name on the existing row's columns in DO UPDATE. A parameter's type is
 * how it is bound: int64 (bigint), double, text, blob (bytea). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server_sql;
struct server_sql_stmt;

enum server_sql_kind { SERVER_SQL_SQLITE, SERVER_SQL_POSTGRESQL };

/* True for a database URL PostgreSQL's libpq takes (postgresql:// or
 * postgres://); anything else is an SQLite file. */
bool server_sql_is_postgresql(const char *db);
/* db as it may be shown or logged: a PostgreSQL URL without its password. */
void server_sql_display(const char *db, char *buf, size_t len);
/* Opens SQLite's file at path with sqlite3_open_v2 flags (its busy
 * timeout set): a negative errno with a message in err. */
int server_sql_open_sqlite(const char *path, int flags, struct server_sql **ret, char *err,
                           size_t errlen);
/* Connects to PostgreSQL at url (libpq's connection URL or keywords):
 * -ECONNREFUSED (unreachable), -EPROTONOSUPPORT (older than 13), with
 * PostgreSQL's words in err. */
int server_sql_open_postgresql(const char *url, struct server_sql **ret, char *err, size_t errlen);
void server_sql_close(struct server_sql *c);
enum server_sql_kind server_sql_kind(const struct server_sql *c);
/* SQLite's handle, for what only SQLite has (WAL, its functions); NULL on
 * PostgreSQL. */
sqlite3 *server_sql_sqlite(struct server_sql *c);
/* libpq's PGconn (void * so owners need not include libpq); NULL on
 * SQLite. */
void *server_sql_pg(struct server_sql *c);

/* Runs SQL text (several statements): a result code, the message kept for
 * server_sql_errmsg. */
int server_sql_exec(struct server_sql *c, const char *sql);
/* The last error's words ("not an error" when none). */
const char *server_sql_errmsg(struct server_sql *c);
/* The system's errno behind the last error, or 0. */
int server_sql_system_errno(struct server_sql *c);
/* Rows the last INSERT, UPDATE or DELETE changed. */
int64_t server_sql_changes(struct server_sql *c);
/* True inside a transaction. */
bool server_sql_in_txn(struct server_sql *c);
/* True once the connection is known broken (PostgreSQL went away). */
bool server_sql_broken(struct server_sql *c);
/* Reconnects a broken PostgreSQL connection: 0 or a negative errno. Its
 * statements prepare again on their next step. */
int server_sql_reconnect(struct server_sql *c);

/* persistent: kept and stepped many times (SQLite's _PERSISTENT hint). */
int server_sql_prepare(struct server_sql *c, const char *sql, bool persistent,
                       struct server_sql_stmt **ret);
/* SQLITE_ROW while rows come, then SQLITE_DONE; else an error code. */
int server_sql_step(struct server_sql_stmt *st);
void server_sql_reset(struct server_sql_stmt *st);
void server_sql_clear_bindings(struct server_sql_stmt *st);
void server_sql_finalize(struct server_sql_stmt *st);
/* Whether the statement has parameter ?n. */
bool server_sql_has_param(struct server_sql_stmt *st, int n);

/* Binds parameter i (from 1). Text and blobs must stay as they are until
 * the statement is stepped (SQLite reads them there, as the owners always
 * bound them); PostgreSQL's side copies them. */
void server_sql_bind_int64(struct server_sql_stmt *st, int i, int64_t v);
void server_sql_bind_double(struct server_sql_stmt *st, int i, double v);
/* s NULL binds NULL. */
void server_sql_bind_text(struct server_sql_stmt *st, int i, const char *s);
void server_sql_bind_blob(struct server_sql_stmt *st, int i, const void *p, size_t n);
void server_sql_bind_null(struct server_sql_stmt *st, int i);

/* The current row's column i (from 0). A column's type is SQLITE_NULL,
 * _INTEGER, _FLOAT, _TEXT or _BLOB; text and blobs stay valid until the
 * next step or reset. */
int server_sql_column_type(struct server_sql_stmt *st, int i);
int64_t server_sql_column_int64(struct server_sql_stmt *st, int i);
double server_sql_column_double(struct server_sql_stmt *st, int i);
const char *server_sql_column_text(struct server_sql_stmt *st, int i);
const void *server_sql_column_blob(struct server_sql_stmt *st, int i);
size_t server_sql_column_bytes(struct server_sql_stmt *st, int i);
