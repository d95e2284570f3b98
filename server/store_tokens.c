#include "store_tokens.h"

#include <errno.h>

#include "audit.h"
#include "log.h"

const struct server_db_migration server_store_tokens_migrations[] = {
	{ 4, "CREATE TABLE tokens ("
	     "  name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,"
	     "  created_ms INTEGER NOT NULL, revoked_ms INTEGER);"
	     "CREATE TABLE enrollments ("
	     "  hash TEXT PRIMARY KEY, host TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	     "  expires_ms INTEGER NOT NULL, used_ms INTEGER);" },
	{ 0, NULL },
};

/* PostgreSQL: the schema SQLite had at version 14, in its types */
const struct server_db_migration server_store_tokens_pg_migrations[] = {
	{ 14, "CREATE TABLE tokens ("
	      "  name text PRIMARY KEY, role text NOT NULL, hash text NOT NULL UNIQUE,"
	      "  created_ms bigint NOT NULL, revoked_ms bigint);"
	      "CREATE TABLE enrollments ("
	      "  hash text PRIMARY KEY, host text NOT NULL, created_ms bigint NOT NULL,"
	      "  expires_ms bigint NOT NULL, used_ms bigint);" },
	{ 0, NULL },
};

static const char insert_sql[] =
        "INSERT INTO tokens (name, role, hash, created_ms) VALUES (?1, ?2, ?3, ?4)";

static const char *text(struct server_sql_stmt *st, int i)
{
	const char *t = server_sql_column_text(st, i);

	return t ? (const char *)t : "";
}

int server_store_tokens_load(struct server_db *db, uint64_t now_ms,
                             int (*token)(const struct server_store_token *t, void *arg),
                             int (*enrollment)(const struct server_store_enrollment *e, void *arg),
                             void *arg)
{
	return server_store_tokens_read(server_db_conn(db), now_ms, false, token, enrollment, arg);
}

int server_store_tokens_read(struct server_sql *conn, uint64_t now_ms, bool used,
                             int (*token)(const struct server_store_token *t, void *arg),
                             int (*enrollment)(const struct server_store_enrollment *e, void *arg),
                             void *arg)
{
	struct server_sql_stmt *st;
	int rc, r = 0;

	if ((rc = server_sql_prepare(conn,
	                             "SELECT name, role, hash, created_ms, revoked_ms FROM tokens",
	                             false, &st)) != SQLITE_OK)
		return server_db_failed(conn, rc, "loading tokens");
	while (r == 0 && (rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_store_token t = { text(st, 0), text(st, 1), text(st, 2),
			                        (uint64_t)server_sql_column_int64(st, 3),
			                        (uint64_t)server_sql_column_int64(st, 4) };

		r = token(&t, arg);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = server_db_failed(conn, rc, "loading tokens");
	server_sql_finalize(st); /* after the message: it resets it */
	if (r < 0)
		return r;
	if ((rc = server_sql_prepare(conn,
	                             used ? "SELECT hash, host, created_ms, expires_ms, used_ms"
	                                    " FROM enrollments WHERE expires_ms > ?1"
	                                  : "SELECT hash, host, created_ms, expires_ms, used_ms"
	                                    " FROM enrollments WHERE used_ms IS NULL AND"
	                                    " expires_ms > ?1",
	                             false, &st)) != SQLITE_OK)
		return server_db_failed(conn, rc, "loading enrollment tokens");
	server_sql_bind_int64(st, 1, (int64_t)now_ms);
	while (r == 0 && (rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_store_enrollment e = { text(st, 0), text(st, 1),
			                             (uint64_t)server_sql_column_int64(st, 2),
			                             (uint64_t)server_sql_column_int64(st, 3),
			                             (uint64_t)server_sql_column_int64(st, 4) };

		r = enrollment(&e, arg);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = server_db_failed(conn, rc, "loading enrollment tokens");
	server_sql_finalize(st);
	return r;
}

int server_store_tokens_insert(struct server_db *db, const struct server_store_token *t)
{
	struct server_sql_stmt *st;
	int rc;

	if (server_sql_prepare(server_db_conn(db), insert_sql, false, &st) != SQLITE_OK)
		return -EIO;
	server_sql_bind_text(st, 1, t->name);
	server_sql_bind_text(st, 2, t->role);
	server_sql_bind_text(st, 3, t->hash);
	server_sql_bind_int64(st, 4, (int64_t)t->created_ms);
	rc = server_sql_step(st);
	server_sql_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int server_store_tokens_add(struct server_db *db, const struct server_store_token *t,
                            const char *who, void (*then)(void *arg, int err), void *arg)
{
	return server_audit_exec(db, who, "token.create", t->name, t->role, then, arg, insert_sql,
	                         "ttti", t->name, t->role, t->hash, (int64_t)t->created_ms);
}

int server_store_tokens_revoke(struct server_db *db, const char *name, uint64_t when_ms,
                               const char *who, void (*then)(void *arg, int err), void *arg)
{
	return server_audit_exec(db, who, "token.revoke", name, "revoked", then, arg,
	                         "UPDATE tokens SET revoked_ms = ? WHERE name = ?", "it",
	                         (int64_t)when_ms, name);
}

int server_store_tokens_enroll_add(struct server_db *db, const struct server_store_enrollment *e,
                                   const char *who, void (*then)(void *arg, int err), void *arg)
{
	return server_audit_exec(
	        db, who, "enroll.create", *e->host ? e->host : "(any host)", "created", then, arg,
	        "INSERT INTO enrollments (hash, host, created_ms, expires_ms) VALUES (?,?,?,?)",
	        "ttii", e->hash, e->host, (int64_t)e->created_ms, (int64_t)e->expires_ms);
}

static void stored(void *arg, int err)
{
	if (err)
		log_err_errno(err, "credentials: %s not stored", (const char *)arg);
}

int server_store_tokens_enroll_used(struct server_db *db, const char *hash, uint64_t when_ms)
{
	return server_db_exec(db, stored, "an enrollment",
	                      "UPDATE enrollments SET used_ms = ? WHERE hash = ?", "it",
	                      (int64_t)when_ms, hash);
}
