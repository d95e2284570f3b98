/* Who may call: people's tokens with roles (viewer, operator, admin),
 * one-time enrollment tokens, and each host's secret. Only hashes are
 * stored (SHA-256); plaintext is shown once, when created. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "clock.h"
#include "secret.h"

struct server_db;
struct server_sql;

enum server_role { ROLE_NONE = 0, ROLE_VIEWER = 1, ROLE_OPERATOR = 2, ROLE_ADMIN = 3 };

#define SERVER_TOKEN_NAME_MAX    63
#define SERVER_TOKENS_MAX        1000   /* people's tokens */
#define SERVER_ENROLLMENTS_MAX   100000 /* enrollment tokens kept */
#define SERVER_ENROLL_DEFAULT_MS AIO_DAY_MS

struct server_token {
	char name[SERVER_TOKEN_NAME_MAX + 1];
	enum server_role role;
	char hash[AIO_SECRET_HASH_LEN];
	uint64_t created_ms, revoked_ms;
	struct server_token *next;
};

struct server_enrollment {
	char hash[AIO_SECRET_HASH_LEN];
	char host[AIO_HOST_NAME_MAX + 1]; /* "" for any */
	uint64_t created_ms, expires_ms, used_ms;
	struct server_enrollment *next;
};

struct server_creds {
	pthread_mutex_t lock;
	struct server_token *tokens;
	size_t n_tokens;
	struct server_enrollment *enrollments;
	size_t n_enrollments;
	struct server_db *db; /* where changes go */
};

/* Loads tokens and enrollments (before the database thread starts) and
 * makes sure the bootstrap token in admin.token is an admin token. */
int server_creds_load(struct server_creds *c, struct server_db *db, const char *bootstrap_token);
/* Takes in what other servers on the database stored: new tokens and
 * enrollments, revocations, enrollments used (conn: the caller's own). */
int server_creds_refresh(struct server_creds *c, struct server_sql *conn);
void server_creds_done(struct server_creds *c);

enum server_role server_creds_role_parse(const char *s);
const char *server_creds_role_name(enum server_role r);
/* The role a method of the Admin service needs. */
enum server_role server_creds_role_for(const char *method);
/* What the method does, as a refusal says it ("start rollouts"). */
const char *server_creds_action(const char *method);

/* The live token with this plaintext, or NULL. The result stays valid for
 * the server's life (tokens are revoked, never freed). */
const struct server_token *server_creds_find_token(struct server_creds *c, const char *token);

/* Admin operations: each returns an enum aio_status and writes a message.
 * With AIO_OK the change is in memory and on its way to disk with its
 * audit entry (who); then(arg, err) says whether it was stored (a token
 * or enrollment token not stored is unusable). Otherwise then is not
 * called. */
int server_creds_token_create(struct server_creds *c, const char *name, const char *role,
                              const char *who, char *ret_token, size_t len, char *msg,
                              size_t msglen, void (*then)(void *arg, int err), void *arg);
/* Refused at once in memory; stored as the others. */
int server_creds_token_revoke(struct server_creds *c, const char *name, const char *who, char *msg,
                              size_t msglen, void (*then)(void *arg, int err), void *arg);
int server_creds_enroll_create(struct server_creds *c, const char *host, uint64_t lifetime_ms,
                               const char *who, char *ret_token, size_t len, uint64_t *ret_expires,
                               char *msg, size_t msglen, void (*then)(void *arg, int err),
                               void *arg);
/* fn sees every token, newest first, under the credentials' lock. */
int server_creds_token_list(struct server_creds *c,
                            int (*fn)(const struct server_token *const *tokens, size_t n,
                                      void *arg),
                            void *arg);
/* Takes an enrollment token for host: AIO_OK marks it used. A host that is
 * known (enrolled or revoked) takes only a token made for it by name: an
 * any-host token cannot take a host's identity. */
int server_creds_enroll_take(struct server_creds *c, const char *token, const char *host,
                             bool known, char *msg, size_t msglen);
