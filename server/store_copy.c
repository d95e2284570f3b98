/* aio-server --migrate-from: an SQLite database's every table copied into
 * an empty PostgreSQL one in one transaction, then checked row for row:
 * each table's rows, read back from PostgreSQL, hash to what was read
 * from SQLite. */
#include "store_copy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sql.h"
#include "store.h"

/* In the order their references need. */
static const char *const tables[] = {
	"hosts",     "host_labels", "samples",     "series", "rollup_5m", "rollup_1h",
	"rollup_1d", "raw",         "vm_usage",    "events", "rollouts",  "rollout_steps",
	"audit",     "tokens",      "enrollments", "alerts",
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

/* Tables whose ids PostgreSQL gives from a sequence of its own. */
static const char *const identities[] = { "events", "audit", "alerts" };

/* FNV-1a over a row's typed values, summed over the rows: the same rows in
 * any order give the same digest. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t row_hash(struct server_sql_stmt *st, int ncols)
{
	uint64_t h = 14695981039346656037ULL;

	for (int i = 0; i < ncols; i++) {
		int type = server_sql_column_type(st, i);
		char num[40];

		/* a column's type is what it holds: both databases say the same */
		switch (type) {
		case SQLITE_NULL:
			h = fnv(h, "N", 1);
			break;
		case SQLITE_INTEGER:
			snprintf(num, sizeof(num), "I%" PRId64, server_sql_column_int64(st, i));
			h = fnv(h, num, strlen(num));
			break;
		case SQLITE_FLOAT:
			snprintf(num, sizeof(num), "F%.17g", server_sql_column_double(st, i));
			h = fnv(h, num, strlen(num));
			break;
		default:
			h = fnv(h, "B", 1);
			h = fnv(h, server_sql_column_blob(st, i), server_sql_column_bytes(st, i));
			break;
		}
		h = fnv(h, "|", 1);
	}
	return h;
}

struct table_copy {
	uint64_t rows, digest;
};

/* The columns of table on SQLite, in their order: "a, b, c". */
static int columns(struct server_sql *from, const char *table, char *buf, size_t len, int *ret_n)
{
	struct server_sql_stmt *st;
	char sql[128];
	size_t n = 0;
	int rc;

	*ret_n = 0;
	buf[0] = '\0';
	snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s') ORDER BY cid", table);
	if ((rc = server_sql_prepare(from, sql, false, &st)) != SQLITE_OK)
		return -EIO;
	while ((rc = server_sql_step(st)) == SQLITE_ROW && n < len) {
		n += (size_t)snprintf(buf + n, len - n, "%s%s", *ret_n ? ", " : "",
		                      server_sql_column_text(st, 0));
		++*ret_n;
	}
	server_sql_finalize(st);
	return rc == SQLITE_DONE && n < len ? 0 : -EIO;
}

static int copy_table(struct server_sql *from, struct server_sql *to, const char *table,
                      struct table_copy *ret, char *err, size_t errlen)
{
	struct server_sql_stmt *rd = NULL, *wr = NULL;
	char cols[2048], sql[4096];
	size_t n;
	int ncols, rc;

	memset(ret, 0, sizeof(*ret));
	if (columns(from, table, cols, sizeof(cols), &ncols) < 0 || !ncols) {
		snprintf(err, errlen, "%s: cannot read its columns: %s", table,
		         server_sql_errmsg(from));
		return -EIO;
	}
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s", cols, table);
	if (server_sql_prepare(from, sql, false, &rd) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", table, server_sql_errmsg(from));
		return -EIO;
	}
	n = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s (%s) VALUES (", table, cols);
	for (int i = 0; i < ncols && n < sizeof(sql); i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?%d", i ? ", " : "", i + 1);
	snprintf(sql + n, sizeof(sql) - n, ")");
	if (server_sql_prepare(to, sql, true, &wr) != SQLITE_OK) {
		server_sql_finalize(rd);
		snprintf(err, errlen, "%s: %s", table, server_sql_errmsg(to));
		return -EIO;
	}
	while ((rc = server_sql_step(rd)) == SQLITE_ROW) {
		for (int i = 0; i < ncols; i++) {
			switch (server_sql_column_type(rd, i)) {
			case SQLITE_NULL:
				server_sql_bind_null(wr, i + 1);
				break;
			case SQLITE_INTEGER:
				server_sql_bind_int64(wr, i + 1, server_sql_column_int64(rd, i));
				break;
			case SQLITE_FLOAT:
				server_sql_bind_double(wr, i + 1, server_sql_column_double(rd, i));
				break;
			case SQLITE_TEXT:
				server_sql_bind_text(wr, i + 1, server_sql_column_text(rd, i));
				break;
			default:
				server_sql_bind_blob(wr, i + 1, server_sql_column_blob(rd, i),
				                     server_sql_column_bytes(rd, i));
			}
		}
		if ((rc = server_sql_step(wr)) != SQLITE_DONE) {
			snprintf(err, errlen, "%s, row %" PRIu64 ": %s", table, ret->rows + 1,
			         server_sql_errmsg(to));
			break;
		}
		server_sql_reset(wr);
		server_sql_clear_bindings(wr);
		ret->rows++;
		ret->digest += row_hash(rd, ncols);
		rc = SQLITE_ROW;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		snprintf(err, errlen, "%s: %s", table, server_sql_errmsg(from));
	server_sql_finalize(rd);
	server_sql_finalize(wr);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* table's rows as PostgreSQL holds them, hashed as they were copied. */
static int check_table(struct server_sql *from, struct server_sql *to, const char *table,
                       const struct table_copy *want, char *err, size_t errlen)
{
	struct table_copy got = { 0 };
	struct server_sql_stmt *st;
	char cols[2048], sql[4096];
	int ncols, rc;

	if (columns(from, table, cols, sizeof(cols), &ncols) < 0)
		return -EIO;
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s", cols, table);
	if (server_sql_prepare(to, sql, false, &st) != SQLITE_OK)
		return -EIO;
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		got.rows++;
		got.digest += row_hash(st, ncols);
	}
	server_sql_finalize(st);
	if (rc != SQLITE_DONE || got.rows != want->rows || got.digest != want->digest) {
		snprintf(err, errlen,
		         "%s: %" PRIu64 " rows in PostgreSQL, %" PRIu64
		         " in SQLite, or not the same rows",
		         table, got.rows, want->rows);
		return -EIO;
	}
	return 0;
}

/* The PostgreSQL database holds no fleet yet. */
static int empty(struct server_sql *to, char *err, size_t errlen)
{
	struct server_sql_stmt *st;
	int64_t n = -1;

	if (server_sql_prepare(to,
	                       "SELECT (SELECT count(*) FROM hosts) + (SELECT count(*)"
	                       " FROM rollouts) + (SELECT count(*) FROM audit)",
	                       false, &st) == SQLITE_OK &&
	    server_sql_step(st) == SQLITE_ROW)
		n = server_sql_column_int64(st, 0);
	server_sql_finalize(st);
	if (n != 0) {
		snprintf(err, errlen,
		         n < 0 ? "cannot tell whether the PostgreSQL database is empty"
		               : "the PostgreSQL database already holds a fleet: migrate into an "
		                 "empty one");
		return n < 0 ? -EIO : -EEXIST;
	}
	return 0;
}

int server_store_copy(const char *sqlite_path, const char *pg_url, char *err, size_t errlen)
{
	struct table_copy copied[N_TABLES];
	struct server_db *src = NULL, *dst = NULL;
	struct server_sql *from, *to;
	uint64_t total = 0;
	int r;

	if (!server_sql_is_postgresql(pg_url)) {
		snprintf(err, errlen,
		         "--migrate-from copies into PostgreSQL: set --db postgresql://...");
		return -EINVAL;
	}
	/* both at this version's schema: the SQLite file is migrated in place
	 * as a server of this version would on start */
	if ((r = server_store_open(sqlite_path, &src, err, errlen)) < 0)
		return r;
	if ((r = server_store_open(pg_url, &dst, err, errlen)) < 0)
		goto out;
	from = server_db_conn(src);
	to = server_db_conn(dst);
	if ((r = empty(to, err, errlen)) < 0)
		goto out;
	r = -EIO;
	if (server_sql_exec(to, "BEGIN") != SQLITE_OK) {
		snprintf(err, errlen, "PostgreSQL: %s", server_sql_errmsg(to));
		goto out;
	}
	for (size_t i = 0; i < N_TABLES; i++) {
		if (copy_table(from, to, tables[i], &copied[i], err, errlen) < 0)
			goto rollback;
		total += copied[i].rows;
	}
	/* the sequences go on after the ids copied */
	for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
		char sql[200];

		snprintf(sql, sizeof(sql),
		         "SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT "
		         "coalesce(max(id), 0)"
		         " + 1 FROM %s), false)",
		         identities[i], identities[i]);
		if (server_sql_exec(to, sql) != SQLITE_OK)
			goto pg_failed;
	}
	if (server_sql_exec(to, "SELECT setval('host_ids', (SELECT coalesce(max(id), 0) + 1"
	                        " FROM hosts), false)") != SQLITE_OK)
		goto pg_failed;
	for (size_t i = 0; i < N_TABLES; i++)
		if (check_table(from, to, tables[i], &copied[i], err, errlen) < 0)
			goto rollback;
	if (server_sql_exec(to, "COMMIT") != SQLITE_OK)
		goto pg_failed;
	for (size_t i = 0; i < N_TABLES; i++)
		log_info("migrate: %-13s %10" PRIu64 " rows, checked", tables[i], copied[i].rows);
	log_info("migrate: %" PRIu64 " rows from %s, every table checked row for row", total,
	         sqlite_path);
	r = 0;
	goto out;

pg_failed:
	snprintf(err, errlen, "PostgreSQL: %s", server_sql_errmsg(to));
rollback:
	server_sql_exec(to, "ROLLBACK");
out:
	server_db_close(src);
	server_db_close(dst);
	return r;
}
