#include "sql.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's type ids (pg_type.dat), for parameters and results. */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
};

/* The oldest PostgreSQL the schema is written for (13: the upserts,
 * generated identities and the functions it uses). */
#define PG_VERSION_MIN 130000

struct server_sql {
	enum server_sql_kind kind;
	sqlite3 *lite;
	PGconn *pg;
	char *url;
	uint64_t gen;     /* PostgreSQL: connections made, to re-prepare */
	unsigned next_id; /* PostgreSQL: prepared statements' names */
	int64_t changes;  /* PostgreSQL: the last command's rows */
	int sys_errno;    /* PostgreSQL: why the connection broke */
	bool broken;      /* PostgreSQL: the connection went away */
	char errmsg[512]; /* PostgreSQL: the last error */
};

struct param {
	Oid type;
	int format; /* 0 text, 1 binary */
	int len;
	bool null;
	char *val; /* num, or a copy */
	char num[32];
};

struct server_sql_stmt {
	struct server_sql *c;
	sqlite3_stmt *lite;
	/* PostgreSQL */
	char *text; /* the SQL with $N */
	bool persistent;
	char name[24];
	uint64_t prepared_gen; /* the connection it was prepared on, or 0 */
	int nparams;
	uint64_t used; /* the $N it names, N < 64 */
	struct param *params;
	PGresult *res;
	int row, nrows;
	bool ran;
	unsigned char **blobs; /* the current row's decoded bytea, per column */
	size_t *blob_len;
	int ncols;
};

bool server_sql_is_postgresql(const char *db)
{
	return db && (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11));
}

void server_sql_display(const char *db, char *buf, size_t len)
{
	const char *scheme_end, *at, *colon, *pw;
	size_t n;

	snprintf(buf, len, "%s", db);
	if (!server_sql_is_postgresql(db))
		return;
	/* user:password@ in the authority */
	scheme_end = strstr(db, "://") + 3;
	at = strchr(scheme_end, '@');
	colon = at ? memchr(scheme_end, ':', (size_t)(at - scheme_end)) : NULL;
	if (colon && (size_t)(colon - db) < len)
		snprintf(buf + (colon - db), len - (size_t)(colon - db), "%s", at);
	/* password=... among the parameters */
	if ((pw = strstr(buf, "password="))) {
		char *v = (char *)pw + 9;

		n = strcspn(v, "&");
		if (strlen(buf) + 3 < len) {
			memmove(v + 3, v + n, strlen(v + n) + 1);
			memcpy(v, "***", 3);
		} else {
			*v = '\0';
		}
	}
}

/* greatest() and least() as PostgreSQL has them: NULLs are skipped, NULL
 * only when every argument is. */
static void extreme(sqlite3_context *ctx, int argc, sqlite3_value **argv, int sign)
{
	sqlite3_value *best = NULL;

	for (int i = 0; i < argc; i++) {
		if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
			continue;
		if (!best ||
		    (sign > 0 ? sqlite3_value_double(argv[i]) > sqlite3_value_double(best)
		              : sqlite3_value_double(argv[i]) < sqlite3_value_double(best)))
			best = argv[i];
		else if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER &&
		         sqlite3_value_type(best) == SQLITE_INTEGER &&
		         (sign > 0 ? sqlite3_value_int64(argv[i]) > sqlite3_value_int64(best)
		                   : sqlite3_value_int64(argv[i]) < sqlite3_value_int64(best)))
			best = argv[i]; /* beyond a double's 53 bits */
	}
	if (best)
		sqlite3_result_value(ctx, best);
	else
		sqlite3_result_null(ctx);
}

static void greatest_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	extreme(ctx, argc, argv, 1);
}

static void least_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	extreme(ctx, argc, argv, -1);
}

int server_sql_open_sqlite(const char *path, int flags, struct server_sql **ret, char *err,
                           size_t errlen)
{
	struct server_sql *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->kind = SERVER_SQL_SQLITE;
	if ((rc = sqlite3_open_v2(path, &c->lite, flags, NULL)) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         c->lite ? sqlite3_errmsg(c->lite) : sqlite3_errstr(rc));
		server_sql_close(c);
		return -EIO;
	}
	sqlite3_busy_timeout(c->lite, 5000);
	sqlite3_create_function(c->lite, "greatest", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
	                        greatest_fn, NULL, NULL);
	sqlite3_create_function(c->lite, "least", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
	                        least_fn, NULL, NULL);
	*ret = c;
	return 0;
}

static void pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs (IF NOT EXISTS ...) are not the operator's news */
}

static void pg_note(struct server_sql *c, const char *msg)
{
	size_t n;

	snprintf(c->errmsg, sizeof(c->errmsg), "%s",
	         msg && *msg ? msg : "the connection to the server was lost");
	n = strlen(c->errmsg);
	while (n && (c->errmsg[n - 1] == '\n' || c->errmsg[n - 1] == ' '))
		c->errmsg[--n] = '\0';
}

static int pg_connect(struct server_sql *c, char *err, size_t errlen)
{
	PQfinish(c->pg);
	c->pg = PQconnectdb(c->url);
	if (!c->pg) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		pg_note(c, PQerrorMessage(c->pg));
		snprintf(err, errlen, "PostgreSQL unreachable: %s", c->errmsg);
		c->broken = true;
		return -ECONNREFUSED;
	}
	if (PQserverVersion(c->pg) < PG_VERSION_MIN) {
		snprintf(err, errlen, "PostgreSQL %d.%d is too old: aio-server needs %d or newer",
		         PQserverVersion(c->pg) / 10000, PQserverVersion(c->pg) % 10000,
		         PG_VERSION_MIN / 10000);
		c->broken = true;
		return -EPROTONOSUPPORT;
	}
	PQsetNoticeProcessor(c->pg, pg_notice, NULL);
	c->gen++;
	c->broken = false;
	return 0;
}

int server_sql_open_postgresql(const char *url, struct server_sql **ret, char *err, size_t errlen)
{
	struct server_sql *c = calloc(1, sizeof(*c));
	int r;

	if (!c || !(c->url = strdup(url))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->kind = SERVER_SQL_POSTGRESQL;
	if ((r = pg_connect(c, err, errlen)) < 0) {
		server_sql_close(c);
		return r;
	}
	if (server_sql_exec(c, "SET client_min_messages = warning") != SQLITE_OK) {
		snprintf(err, errlen, "PostgreSQL: %s", c->errmsg);
		server_sql_close(c);
		return -EIO;
	}
	*ret = c;
	return 0;
}

int server_sql_reconnect(struct server_sql *c)
{
	char err[512];
	int r;

	if (c->kind != SERVER_SQL_POSTGRESQL)
		return 0;
	if ((r = pg_connect(c, err, sizeof(err))) < 0)
		return r;
	return server_sql_exec(c, "SET client_min_messages = warning") == SQLITE_OK ? 0 : -EIO;
}

void server_sql_close(struct server_sql *c)
{
	if (!c)
		return;
	if (c->lite)
		sqlite3_close(c->lite);
	PQfinish(c->pg);
	free(c->url);
	free(c);
}

enum server_sql_kind server_sql_kind(const struct server_sql *c)
{
	return c->kind;
}

sqlite3 *server_sql_sqlite(struct server_sql *c)
{
	return c->lite;
}

void *server_sql_pg(struct server_sql *c)
{
	return c->pg;
}

/* SQLSTATE classes as SQLite's codes: what the callers already tell
 * apart (a full disk, a busy database, a constraint) and a broken
 * connection as an I/O error. */
static int pg_failed(struct server_sql *c, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	pg_note(c, res && PQresultErrorMessage(res)[0]
	                   ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
	                   : PQerrorMessage(c->pg));
	if (PQstatus(c->pg) != CONNECTION_OK || !state || !strncmp(state, "08", 2) ||
	    !strcmp(state, "57P01") || !strcmp(state, "57P02") || !strcmp(state, "57P03")) {
		c->broken = true;
		c->sys_errno = ECONNRESET;
		return SQLITE_IOERR;
	}
	if (!strncmp(state, "23", 2) || !strcmp(state, "P0001"))
		return SQLITE_CONSTRAINT;
	if (!strcmp(state, "53100"))
		return SQLITE_FULL;
	if (!strncmp(state, "53", 2))
		return SQLITE_NOMEM;
	if (!strncmp(state, "40", 2) || !strcmp(state, "55P03"))
		return SQLITE_BUSY;
	return SQLITE_ERROR;
}

int server_sql_exec(struct server_sql *c, const char *sql)
{
	PGresult *res;
	int rc = SQLITE_OK;

	if (c->kind == SERVER_SQL_SQLITE)
		return sqlite3_exec(c->lite, sql, NULL, NULL, NULL);
	if (!PQsendQuery(c->pg, sql))
		return pg_failed(c, NULL);
	/* every statement's result, the first error kept */
	while ((res = PQgetResult(c->pg))) {
		ExecStatusType s = PQresultStatus(res);

		if (rc == SQLITE_OK && s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
			rc = pg_failed(c, res);
		else if (rc == SQLITE_OK && s == PGRES_COMMAND_OK)
			c->changes = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	return rc;
}

const char *server_sql_errmsg(struct server_sql *c)
{
	if (c->kind == SERVER_SQL_SQLITE)
		return sqlite3_errmsg(c->lite);
	return c->errmsg[0] ? c->errmsg : "not an error";
}

int server_sql_system_errno(struct server_sql *c)
{
	return c->kind == SERVER_SQL_SQLITE ? sqlite3_system_errno(c->lite) : c->sys_errno;
}

int64_t server_sql_changes(struct server_sql *c)
{
	return c->kind == SERVER_SQL_SQLITE ? sqlite3_changes64(c->lite) : c->changes;
}

bool server_sql_in_txn(struct server_sql *c)
{
	if (c->kind == SERVER_SQL_SQLITE)
		return !sqlite3_get_autocommit(c->lite);
	return PQtransactionStatus(c->pg) == PQTRANS_INTRANS ||
	       PQtransactionStatus(c->pg) == PQTRANS_INERROR;
}

bool server_sql_broken(struct server_sql *c)
{
	return c->kind == SERVER_SQL_POSTGRESQL && (c->broken || PQstatus(c->pg) != CONNECTION_OK);
}

/* SQLite's ?N (and bare ?, numbered after the largest so far) as $N,
 * outside literals, quoted names and comments. */
static char *pg_text(const char *sql, int *nparams, uint64_t *used)
{
	size_t n = strlen(sql);
	char *out = malloc(n * 2 + 1), *o = out;
	int max = 0;

	if (!out)
		return NULL;
	for (const char *p = sql; *p;) {
		if (*p == '\'' || *p == '"') {
			char q = *p;

			*o++ = *p++;
			while (*p && *p != q)
				*o++ = *p++;
			if (*p)
				*o++ = *p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				*o++ = *p++;
		} else if (*p == '?') {
			int v = 0;

			p++;
			if (*p >= '0' && *p <= '9')
				while (*p >= '0' && *p <= '9')
					v = v * 10 + (*p++ - '0');
			else
				v = max + 1;
			max = v > max ? v : max;
			if (v < 64)
				*used |= UINT64_C(1) << v;
			o += sprintf(o, "$%d", v);
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	*nparams = max;
	return out;
}

int server_sql_prepare(struct server_sql *c, const char *sql, bool persistent,
                       struct server_sql_stmt **ret)
{
	struct server_sql_stmt *st = calloc(1, sizeof(*st));
	int rc;

	*ret = NULL;
	if (!st)
		return SQLITE_NOMEM;
	st->c = c;
	if (c->kind == SERVER_SQL_SQLITE) {
		rc = sqlite3_prepare_v3(c->lite, sql, -1,
		                        persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st->lite,
		                        NULL);
		if (rc != SQLITE_OK || !st->lite) {
			sqlite3_finalize(st->lite);
			free(st);
			return rc != SQLITE_OK ? rc : SQLITE_MISUSE;
		}
		*ret = st;
		return SQLITE_OK;
	}
	st->persistent = persistent;
	if (!(st->text = pg_text(sql, &st->nparams, &st->used)) ||
	    !(st->params = calloc((size_t)st->nparams + 1, sizeof(*st->params)))) {
		server_sql_finalize(st);
		return SQLITE_NOMEM;
	}
	for (int i = 0; i < st->nparams; i++)
		st->params[i].null = true;
	*ret = st;
	return SQLITE_OK;
}

static void pg_row_clear(struct server_sql_stmt *st)
{
	for (int i = 0; st->blobs && i < st->ncols; i++) {
		PQfreemem(st->blobs[i]);
		st->blobs[i] = NULL;
	}
}

static void pg_result_clear(struct server_sql_stmt *st)
{
	pg_row_clear(st);
	PQclear(st->res);
	st->res = NULL;
	st->ran = false;
	st->row = -1;
	st->nrows = 0;
}

static int pg_run(struct server_sql_stmt *st)
{
	struct server_sql *c = st->c;
	const char *vals[st->nparams + 1];
	int lens[st->nparams + 1], fmts[st->nparams + 1];
	Oid types[st->nparams + 1];
	ExecStatusType s;

	for (int i = 0; i < st->nparams; i++) {
		vals[i] = st->params[i].null ? NULL : st->params[i].val;
		lens[i] = st->params[i].len;
		fmts[i] = st->params[i].format;
		types[i] = st->params[i].type;
		/* a number the SQL skips has no context to take a type from */
		if (!types[i] && (i + 1 >= 64 || !(st->used & (UINT64_C(1) << (i + 1)))))
			types[i] = OID_TEXT;
	}
	if (server_sql_broken(c))
		return pg_failed(c, NULL);
	if (st->persistent && st->prepared_gen != c->gen) {
		PGresult *res;

		snprintf(st->name, sizeof(st->name), "aio%u", ++c->next_id);
		res = PQprepare(c->pg, st->name, st->text, st->nparams, types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			int rc = pg_failed(c, res);

			PQclear(res);
			return rc;
		}
		PQclear(res);
		st->prepared_gen = c->gen;
	}
	if (st->persistent)
		st->res = PQexecPrepared(c->pg, st->name, st->nparams, vals, lens, fmts, 0);
	else
		st->res = PQexecParams(c->pg, st->text, st->nparams, types, vals, lens, fmts, 0);
	s = PQresultStatus(st->res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		int rc = pg_failed(c, st->res);
		size_t n = strlen(c->errmsg);

		/* which statement: the start of its text */
		snprintf(c->errmsg + n, sizeof(c->errmsg) - n, " (in %.60s)", st->text);

		PQclear(st->res);
		st->res = NULL;
		return rc;
	}
	st->ran = true;
	st->row = -1;
	st->nrows = PQntuples(st->res);
	if (s == PGRES_COMMAND_OK)
		c->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
	if (PQnfields(st->res) > st->ncols) {
		unsigned char **b = realloc(st->blobs, (size_t)PQnfields(st->res) * sizeof(*b));
		size_t *l =
		        b ? realloc(st->blob_len, (size_t)PQnfields(st->res) * sizeof(*l)) : NULL;

		if (b)
			st->blobs = b;
		if (!b || !l)
			return SQLITE_NOMEM;
		st->blob_len = l;
		for (int i = st->ncols; i < PQnfields(st->res); i++)
			st->blobs[i] = NULL;
		st->ncols = PQnfields(st->res);
	}
	return SQLITE_OK;
}

int server_sql_step(struct server_sql_stmt *st)
{
	int rc;

	if (!st)
		return SQLITE_MISUSE;
	if (st->lite)
		return sqlite3_step(st->lite);
	if (!st->ran && (rc = pg_run(st)) != SQLITE_OK)
		return rc;
	pg_row_clear(st);
	if (st->row + 1 >= st->nrows) {
		st->row = st->nrows;
		return SQLITE_DONE;
	}
	st->row++;
	return SQLITE_ROW;
}

void server_sql_reset(struct server_sql_stmt *st)
{
	if (!st)
		return;
	if (st->lite)
		sqlite3_reset(st->lite);
	else
		pg_result_clear(st);
}

static struct param *param(struct server_sql_stmt *st, int i)
{
	struct param *p;

	if (i < 1 || i > st->nparams)
		return NULL;
	p = &st->params[i - 1];
	if (p->val != p->num)
		free(p->val);
	p->val = NULL;
	p->null = true;
	p->format = 0;
	p->len = 0;
	return p;
}

void server_sql_clear_bindings(struct server_sql_stmt *st)
{
	if (!st)
		return;
	if (st->lite) {
		sqlite3_clear_bindings(st->lite);
		return;
	}
	for (int i = 1; i <= st->nparams; i++)
		param(st, i);
}

void server_sql_finalize(struct server_sql_stmt *st)
{
	if (!st)
		return;
	if (st->lite) {
		sqlite3_finalize(st->lite);
	} else {
		pg_result_clear(st);
		server_sql_clear_bindings(st);
		if (st->prepared_gen && st->prepared_gen == st->c->gen &&
		    !server_sql_broken(st->c)) {
			char sql[48];

			snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
			PQclear(PQexec(st->c->pg, sql));
		}
	}
	free(st->blobs);
	free(st->blob_len);
	free(st->params);
	free(st->text);
	free(st);
}

bool server_sql_has_param(struct server_sql_stmt *st, int n)
{
	if (st->lite) {
		char name[16];

		snprintf(name, sizeof(name), "?%d", n);
		return sqlite3_bind_parameter_index(st->lite, name) > 0;
	}
	return n >= 1 && n < 64 && (st->used & (UINT64_C(1) << n));
}

void server_sql_bind_int64(struct server_sql_stmt *st, int i, int64_t v)
{
	struct param *p;

	if (st->lite) {
		sqlite3_bind_int64(st->lite, i, v);
	} else if ((p = param(st, i))) {
		p->len = snprintf(p->num, sizeof(p->num), "%" PRId64, v);
		p->val = p->num;
		p->type = OID_INT8;
		p->null = false;
	}
}

void server_sql_bind_double(struct server_sql_stmt *st, int i, double v)
{
	struct param *p;

	if (st->lite) {
		sqlite3_bind_double(st->lite, i, v);
	} else if ((p = param(st, i))) {
		p->len = snprintf(p->num, sizeof(p->num), "%.17g", v);
		p->val = p->num;
		p->type = OID_FLOAT8;
		p->null = false;
	}
}

static void bind_copy(struct server_sql_stmt *st, int i, const void *data, size_t n, Oid type,
                      int format)
{
	struct param *p = param(st, i);

	if (!p)
		return;
	p->type = type;
	if (!data)
		return;
	if (n < sizeof(p->num)) {
		p->val = p->num;
	} else if (!(p->val = malloc(n + 1))) {
		return; /* NULL it stays: the statement fails on its NOT NULL */
	}
	memcpy(p->val, data, n);
	p->val[n] = '\0';
	p->len = (int)n;
	p->format = format;
	p->null = false;
}

void server_sql_bind_text(struct server_sql_stmt *st, int i, const char *s)
{
	if (st->lite) {
		if (s)
			sqlite3_bind_text(st->lite, i, s, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st->lite, i);
		return;
	}
	bind_copy(st, i, s, s ? strlen(s) : 0, OID_TEXT, 0);
}

void server_sql_bind_blob(struct server_sql_stmt *st, int i, const void *data, size_t n)
{
	if (st->lite) {
		sqlite3_bind_blob64(st->lite, i, data ? data : "", n, SQLITE_STATIC);
		return;
	}
	bind_copy(st, i, data ? data : "", n, OID_BYTEA, 1);
}

void server_sql_bind_null(struct server_sql_stmt *st, int i)
{
	if (st->lite)
		sqlite3_bind_null(st->lite, i);
	else
		param(st, i);
}

static const char *pg_value(struct server_sql_stmt *st, int i)
{
	if (!st->res || st->row < 0 || st->row >= st->nrows || i < 0 || i >= st->ncols ||
	    PQgetisnull(st->res, st->row, i))
		return NULL;
	return PQgetvalue(st->res, st->row, i);
}

int server_sql_column_type(struct server_sql_stmt *st, int i)
{
	if (st->lite)
		return sqlite3_column_type(st->lite, i);
	if (!pg_value(st, i))
		return SQLITE_NULL;
	switch (PQftype(st->res, i)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return SQLITE_INTEGER;
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return SQLITE_FLOAT;
	case OID_BYTEA:
		return SQLITE_BLOB;
	default:
		return SQLITE_TEXT;
	}
}

int64_t server_sql_column_int64(struct server_sql_stmt *st, int i)
{
	const char *v;

	if (st->lite)
		return sqlite3_column_int64(st->lite, i);
	if (!(v = pg_value(st, i)))
		return 0;
	if (PQftype(st->res, i) == OID_BOOL)
		return *v == 't';
	if (PQftype(st->res, i) == OID_FLOAT4 || PQftype(st->res, i) == OID_FLOAT8)
		return (int64_t)strtod(v, NULL);
	return strtoll(v, NULL, 10);
}

double server_sql_column_double(struct server_sql_stmt *st, int i)
{
	const char *v;

	if (st->lite)
		return sqlite3_column_double(st->lite, i);
	return (v = pg_value(st, i)) ? strtod(v, NULL) : 0.0;
}

const char *server_sql_column_text(struct server_sql_stmt *st, int i)
{
	if (st->lite)
		return (const char *)sqlite3_column_text(st->lite, i);
	return pg_value(st, i);
}

/* bytea comes as text (\x and hex): decoded once per row. */
static const unsigned char *pg_blob(struct server_sql_stmt *st, int i, size_t *len)
{
	const char *v = pg_value(st, i);

	*len = 0;
	if (!v)
		return NULL;
	if (PQftype(st->res, i) != OID_BYTEA) {
		*len = (size_t)PQgetlength(st->res, st->row, i);
		return (const unsigned char *)v;
	}
	if (!st->blobs[i] &&
	    !(st->blobs[i] = PQunescapeBytea((const unsigned char *)v, &st->blob_len[i])))
		return NULL;
	*len = st->blob_len[i];
	return st->blobs[i];
}

const void *server_sql_column_blob(struct server_sql_stmt *st, int i)
{
	size_t n;

	if (st->lite)
		return sqlite3_column_blob(st->lite, i);
	return pg_blob(st, i, &n);
}

size_t server_sql_column_bytes(struct server_sql_stmt *st, int i)
{
	size_t n;

	if (st->lite)
		return (size_t)sqlite3_column_bytes(st->lite, i);
	pg_blob(st, i, &n);
	return n;
}
