/* The tokens and enrollments tables' owner (SQLite): people's tokens and
 * one-time enrollment tokens, hashes only. */
#pragma once

#include <stdint.h>

#include "db.h"

struct server_store_token {
	const char *name, *role, *hash;
	uint64_t created_ms, revoked_ms;
};

struct server_store_enrollment {
	const char *hash, *host; /* host "" for any */
	uint64_t created_ms, expires_ms;
	uint64_t used_ms; /* 0 unless used */
};

extern const struct server_db_migration server_store_tokens_migrations[];
extern const struct server_db_migration server_store_tokens_pg_migrations[];
/* Before the database thread starts: calls token() for every token and
 * enrollment() for every enrollment unused and unexpired at now_ms; a
 * negative return from either stops the load and is returned. */
int server_store_tokens_load(struct server_db *db, uint64_t now_ms,
                             int (*token)(const struct server_store_token *t, void *arg),
                             int (*enrollment)(const struct server_store_enrollment *e, void *arg),
                             void *arg);
/* The same on a connection of the caller's, with used enrollments too when
 * used (another server's view of them). */
int server_store_tokens_read(struct server_sql *conn, uint64_t now_ms, bool used,
                             int (*token)(const struct server_store_token *t, void *arg),
                             int (*enrollment)(const struct server_store_enrollment *e, void *arg),
                             void *arg);
/* Stores a token now (before the database thread starts). */
int server_store_tokens_insert(struct server_db *db, const struct server_store_token *t);
/* Queued writes, each with its audit entry (who did it) in the same
 * transaction: then(arg, err) after the commit or failure; a negative
 * errno when it cannot be queued (then not called). */
int server_store_tokens_add(struct server_db *db, const struct server_store_token *t,
                            const char *who, void (*then)(void *arg, int err), void *arg);
int server_store_tokens_revoke(struct server_db *db, const char *name, uint64_t when_ms,
                               const char *who, void (*then)(void *arg, int err), void *arg);
int server_store_tokens_enroll_add(struct server_db *db, const struct server_store_enrollment *e,
                                   const char *who, void (*then)(void *arg, int err), void *arg);
/* Queued, logged if it fails: the agent has its secret by then. */
int server_store_tokens_enroll_used(struct server_db *db, const char *hash, uint64_t when_ms);
