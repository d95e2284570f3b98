#include "creds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "names.h"
#include "rpc.h"
#include "store_tokens.h"

#define TOKEN_BYTES 32

static const char *const role_names[] = {
	[ROLE_NONE] = "none",
	[ROLE_VIEWER] = "viewer",
	[ROLE_OPERATOR] = "operator",
	[ROLE_ADMIN] = "admin",
};

/* What each Admin method needs, and what a refusal says a person may not
 * do; anything not listed needs admin. */
static const struct {
	const char *method;
	enum server_role role;
	const char *action;
} method_roles[] = {
	{ "FleetStatus", ROLE_VIEWER, "see the fleet" },
	{ "HostShow", ROLE_VIEWER, "see hosts" },
	{ "History", ROLE_VIEWER, "see history" },
	{ "Errors", ROLE_VIEWER, "see AIO errors" },
	{ "RolloutGet", ROLE_VIEWER, "see rollouts" },
	{ "RolloutList", ROLE_VIEWER, "list rollouts" },
	{ "Trend", ROLE_VIEWER, "see trend reports" },
	{ "Drift", ROLE_VIEWER, "see drift" },
	{ "Audit", ROLE_VIEWER, "read the audit log" },
	{ "RolloutReport", ROLE_VIEWER, "see rollout reports" },
	{ "Alerts", ROLE_VIEWER, "see alerts" },
	{ "SetLimit", ROLE_OPERATOR, "start rollouts" },
	{ "RolloutPause", ROLE_OPERATOR, "pause rollouts" },
	{ "RolloutResume", ROLE_OPERATOR, "resume rollouts" },
	{ "RolloutAbort", ROLE_OPERATOR, "abort rollouts" },
	{ "RolloutRollback", ROLE_OPERATOR, "roll rollouts back" },
	{ "Reconcile", ROLE_OPERATOR, "reconcile drifted hosts" },
	{ "EnrollCreate", ROLE_ADMIN, "enroll hosts" },
	{ "TokenCreate", ROLE_ADMIN, "create tokens" },
	{ "TokenList", ROLE_ADMIN, "list tokens" },
	{ "ServerList", ROLE_VIEWER, "list the servers" },
	{ "TokenRevoke", ROLE_ADMIN, "revoke tokens" },
	{ "HostRevoke", ROLE_ADMIN, "revoke hosts" },
	{ "HostRemove", ROLE_ADMIN, "remove hosts" },
};

/* The row of method ("/aioctl.v1.Admin/SetLimit" or "SetLimit"), or -1. */
static int method_row(const char *method)
{
	const char *slash = strrchr(method, '/');
	const char *name = slash ? slash + 1 : method;

	for (size_t i = 0; i < sizeof(method_roles) / sizeof(method_roles[0]); i++)
		if (strcmp(method_roles[i].method, name) == 0)
			return (int)i;
	return -1;
}

const char *server_creds_action(const char *method)
{
	int i = method_row(method);

	return i < 0 ? "call this method" : method_roles[i].action;
}

enum server_role server_creds_role_parse(const char *s)
{
	for (int r = ROLE_VIEWER; r <= ROLE_ADMIN; r++)
		if (s && strcmp(s, role_names[r]) == 0)
			return (enum server_role)r;
	return ROLE_NONE;
}

const char *server_creds_role_name(enum server_role r)
{
	return r <= ROLE_ADMIN ? role_names[r] : "?";
}

enum server_role server_creds_role_for(const char *method)
{
	int i = method_row(method);

	return i < 0 ? ROLE_ADMIN : method_roles[i].role;
}

static struct server_token *add_token(struct server_creds *c, const char *name,
                                      enum server_role role, const char *hash, uint64_t created,
                                      uint64_t revoked)
{
	struct server_token *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->hash, sizeof(t->hash), "%s", hash);
	t->role = role;
	t->created_ms = created;
	t->revoked_ms = revoked;
	t->next = c->tokens;
	c->tokens = t;
	c->n_tokens++;
	return t;
}

static struct server_enrollment *add_enrollment(struct server_creds *c, const char *hash,
                                                const char *host, uint64_t created,
                                                uint64_t expires, uint64_t used)
{
	struct server_enrollment *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	snprintf(e->hash, sizeof(e->hash), "%s", hash);
	snprintf(e->host, sizeof(e->host), "%s", host ? host : "");
	e->created_ms = created;
	e->expires_ms = expires;
	e->used_ms = used;
	e->next = c->enrollments;
	c->enrollments = e;
	c->n_enrollments++;
	return e;
}

struct load {
	struct server_creds *c;
	bool have_admin;
};

static int load_token(const struct server_store_token *t, void *arg)
{
	struct load *l = arg;

	l->have_admin |= strcmp(t->name, "admin") == 0;
	if (!add_token(l->c, t->name, server_creds_role_parse(t->role), t->hash, t->created_ms,
	               t->revoked_ms))
		return -ENOMEM;
	return 0;
}

static int load_enrollment(const struct server_store_enrollment *e, void *arg)
{
	struct load *l = arg;

	if (!add_enrollment(l->c, e->hash, e->host, e->created_ms, e->expires_ms, 0))
		return -ENOMEM;
	return 0;
}

int server_creds_load(struct server_creds *c, struct server_db *db, const char *bootstrap_token)
{
	struct load l = { c, false };
	int r;

	pthread_mutex_init(&c->lock, NULL);
	c->db = db;
	if ((r = server_store_tokens_load(db, aio_now_ms(), load_token, load_enrollment, &l)) < 0)
		return r;
	/* the bootstrap token in STATE-DIR/admin.token is "admin", unless an
	 * admin token of that name was made (or revoked) before */
	if (!l.have_admin) {
		char hash[AIO_SECRET_HASH_LEN];
		struct server_store_token t = { "admin", "admin", hash, aio_now_ms(), 0 };

		aio_secret_hash(bootstrap_token, hash);
		if ((r = server_store_tokens_insert(db, &t)) < 0)
			return r;
		if (!add_token(c, "admin", ROLE_ADMIN, hash, t.created_ms, 0))
			return -ENOMEM;
	}
	return 0;
}

/* Another server's tokens and enrollments: new ones added, revocations
 * and uses taken over. Tokens are never freed while the server runs
 * (calls hold them), so nothing goes. */
static int merge_token(const struct server_store_token *t, void *arg)
{
	struct server_creds *c = arg;
	struct server_token *have;

	for (have = c->tokens; have && strcmp(have->name, t->name); have = have->next)
		;
	if (have) {
		if (t->revoked_ms && !have->revoked_ms)
			have->revoked_ms = t->revoked_ms;
		return 0;
	}
	return add_token(c, t->name, server_creds_role_parse(t->role), t->hash, t->created_ms,
	                 t->revoked_ms)
	               ? 0
	               : -ENOMEM;
}

static int merge_enrollment(const struct server_store_enrollment *e, void *arg)
{
	struct server_creds *c = arg;
	struct server_enrollment *have;

	for (have = c->enrollments; have && strcmp(have->hash, e->hash); have = have->next)
		;
	if (have) {
		if (e->used_ms && !have->used_ms)
			have->used_ms = e->used_ms;
		return 0;
	}
	return add_enrollment(c, e->hash, e->host, e->created_ms, e->expires_ms, e->used_ms)
	               ? 0
	               : -ENOMEM;
}

int server_creds_refresh(struct server_creds *c, struct server_sql *conn)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = server_store_tokens_read(conn, aio_now_ms(), true, merge_token, merge_enrollment, c);
	pthread_mutex_unlock(&c->lock);
	return r;
}

void server_creds_done(struct server_creds *c)
{
	while (c->tokens) {
		struct server_token *t = c->tokens;

		c->tokens = t->next;
		free(t);
	}
	while (c->enrollments) {
		struct server_enrollment *e = c->enrollments;

		c->enrollments = e->next;
		free(e);
	}
	pthread_mutex_destroy(&c->lock);
}

const struct server_token *server_creds_find_token(struct server_creds *c, const char *token)
{
	char hash[AIO_SECRET_HASH_LEN];
	const struct server_token *found = NULL;

	aio_secret_hash(token, hash);
	pthread_mutex_lock(&c->lock);
	for (struct server_token *t = c->tokens; t; t = t->next)
		if (!t->revoked_ms && aio_secret_equal(t->hash, hash))
			found = t;
	pthread_mutex_unlock(&c->lock);
	return found;
}

static bool token_name_valid(const char *s)
{
	return s && strlen(s) <= SERVER_TOKEN_NAME_MAX && aio_host_name_valid(s);
}

/* A credential change on its way to disk: on failure it is undone in
 * memory as far as it can be (a token made is revoked, an enrollment token
 * spent), then the caller hears. */
struct pending_cred {
	struct server_creds *c;
	struct server_token *token;
	struct server_enrollment *enrollment;
	void (*then)(void *arg, int err);
	void *arg;
};

static void cred_stored(void *arg, int err)
{
	struct pending_cred *p = arg;

	if (err) {
		pthread_mutex_lock(&p->c->lock);
		if (p->token && !p->token->revoked_ms)
			p->token->revoked_ms = aio_now_ms();
		if (p->enrollment && !p->enrollment->used_ms)
			p->enrollment->used_ms = aio_now_ms();
		pthread_mutex_unlock(&p->c->lock);
	}
	if (p->then)
		p->then(p->arg, err);
	free(p);
}

static struct pending_cred *pending_new(struct server_creds *c, void (*then)(void *arg, int err),
                                        void *arg)
{
	struct pending_cred *p = calloc(1, sizeof(*p));

	if (p) {
		p->c = c;
		p->then = then;
		p->arg = arg;
	}
	return p;
}

int server_creds_token_create(struct server_creds *c, const char *name, const char *role,
                              const char *who, char *ret_token, size_t len, char *msg,
                              size_t msglen, void (*then)(void *arg, int err), void *arg)
{
	enum server_role r = server_creds_role_parse(role);
	struct pending_cred *p = pending_new(c, then, arg);
	char hash[AIO_SECRET_HASH_LEN];
	uint64_t now = aio_now_ms();
	int status = AIO_OK;

	if (!p) {
		snprintf(msg, msglen, "server out of memory");
		return AIO_RESOURCE_EXHAUSTED;
	}
	if (!token_name_valid(name) || r == ROLE_NONE) {
		free(p);
		snprintf(msg, msglen,
		         "a token needs a name (letters, digits, '.', '-', '_') and "
		         "a role: viewer, operator or admin");
		return AIO_INVALID_ARGUMENT;
	}
	if (aio_secret_hex(ret_token, len, TOKEN_BYTES) < 0) {
		free(p);
		snprintf(msg, msglen, "no randomness");
		return AIO_INTERNAL;
	}
	aio_secret_hash(ret_token, hash);
	pthread_mutex_lock(&c->lock);
	for (struct server_token *t = c->tokens; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			status = AIO_ALREADY_EXISTS;
	if (status == AIO_OK && c->n_tokens >= SERVER_TOKENS_MAX)
		status = AIO_RESOURCE_EXHAUSTED;
	if (status == AIO_OK && !(p->token = add_token(c, name, r, hash, now, 0)))
		status = AIO_RESOURCE_EXHAUSTED;
	pthread_mutex_unlock(&c->lock);
	if (status == AIO_ALREADY_EXISTS)
		snprintf(msg, msglen, "a token named %s exists (names are never reused)", name);
	else if (status != AIO_OK)
		snprintf(msg, msglen, "too many tokens (limit %d)", SERVER_TOKENS_MAX);
	else if (server_store_tokens_add(c->db,
	                                 &(struct server_store_token){
	                                         name, server_creds_role_name(r), hash, now, 0 },
	                                 who, cred_stored, p) < 0) {
		p->then = NULL; /* undone; the caller hears from the return */
		cred_stored(p, -EAGAIN);
		snprintf(msg, msglen, "server busy: the token was not stored; retry later");
		return AIO_RESOURCE_EXHAUSTED;
	}
	if (status != AIO_OK)
		free(p);
	return status;
}

int server_creds_token_revoke(struct server_creds *c, const char *name, const char *who, char *msg,
                              size_t msglen, void (*then)(void *arg, int err), void *arg)
{
	uint64_t now = aio_now_ms();
	bool found = false;

	/* refused in memory at once, whatever the disk does */
	pthread_mutex_lock(&c->lock);
	for (struct server_token *t = c->tokens; t; t = t->next) {
		if (strcmp(t->name, name) == 0 && !t->revoked_ms) {
			t->revoked_ms = now;
			found = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (!found) {
		snprintf(msg, msglen, "no live token named %s", name);
		return AIO_NOT_FOUND;
	}
	if (server_store_tokens_revoke(c->db, name, now, who, then, arg) < 0) {
		snprintf(msg, msglen,
		         "server busy: refused until the server restarts, but not stored; retry");
		return AIO_RESOURCE_EXHAUSTED;
	}
	return AIO_OK;
}

int server_creds_enroll_create(struct server_creds *c, const char *host, uint64_t lifetime_ms,
                               const char *who, char *ret_token, size_t len, uint64_t *ret_expires,
                               char *msg, size_t msglen, void (*then)(void *arg, int err),
                               void *arg)
{
	char hash[AIO_SECRET_HASH_LEN];
	uint64_t now = aio_now_ms(),
	         expires = now + (lifetime_ms ? lifetime_ms : SERVER_ENROLL_DEFAULT_MS);
	struct server_enrollment *e = NULL;
	struct pending_cred *p;

	if (host && *host && !aio_host_name_valid(host)) {
		snprintf(msg, msglen, "--host: not a host name");
		return AIO_INVALID_ARGUMENT;
	}
	if (lifetime_ms > 365 * AIO_DAY_MS) {
		snprintf(msg, msglen, "--expires: at most 365d");
		return AIO_INVALID_ARGUMENT;
	}
	if (aio_secret_hex(ret_token, len, TOKEN_BYTES) < 0) {
		snprintf(msg, msglen, "no randomness");
		return AIO_INTERNAL;
	}
	aio_secret_hash(ret_token, hash);
	pthread_mutex_lock(&c->lock);
	if (c->n_enrollments < SERVER_ENROLLMENTS_MAX)
		e = add_enrollment(c, hash, host, now, expires, 0);
	pthread_mutex_unlock(&c->lock);
	if (!e) {
		snprintf(msg, msglen, "too many enrollment tokens (limit %d)",
		         SERVER_ENROLLMENTS_MAX);
		return AIO_RESOURCE_EXHAUSTED;
	}
	if (!(p = pending_new(c, then, arg))) {
		snprintf(msg, msglen, "server out of memory");
		e->used_ms = now;
		return AIO_RESOURCE_EXHAUSTED;
	}
	p->enrollment = e;
	*ret_expires = expires;
	if (server_store_tokens_enroll_add(
	            c->db,
	            &(struct server_store_enrollment){ hash, host ? host : "", now, expires, 0 },
	            who, cred_stored, p) < 0) {
		p->then = NULL; /* undone; the caller hears from the return */
		cred_stored(p, -EAGAIN);
		snprintf(msg, msglen, "server busy: the token was not stored; retry later");
		return AIO_RESOURCE_EXHAUSTED;
	}
	return AIO_OK;
}

int server_creds_enroll_take(struct server_creds *c, const char *token, const char *host,
                             bool known, char *msg, size_t msglen)
{
	char hash[AIO_SECRET_HASH_LEN];
	uint64_t now = aio_now_ms();
	struct server_enrollment *found = NULL;
	int status = AIO_OK;

	aio_secret_hash(token, hash);
	pthread_mutex_lock(&c->lock);
	for (struct server_enrollment *e = c->enrollments; e; e = e->next)
		if (aio_secret_equal(e->hash, hash))
			found = e;
	if (!found) {
		snprintf(msg, msglen, "enrollment token not known");
		status = AIO_UNAUTHENTICATED;
	} else if (found->used_ms) {
		snprintf(msg, msglen, "enrollment token already used");
		status = AIO_PERMISSION_DENIED;
	} else if (found->expires_ms <= now) {
		snprintf(msg, msglen, "enrollment token expired");
		status = AIO_PERMISSION_DENIED;
	} else if (found->host[0] && strcmp(found->host, host) != 0) {
		snprintf(msg, msglen, "enrollment token is for host %s", found->host);
		status = AIO_PERMISSION_DENIED;
	} else if (!found->host[0] && known) {
		/* not used up: it can still enroll a new host */
		snprintf(msg, msglen,
		         "host %s is enrolled already (or revoked); a token for any host enrolls "
		         "new hosts only: to replace its identity, aioctl enroll create --host %s",
		         host, host);
		status = AIO_PERMISSION_DENIED;
	} else {
		found->used_ms = now;
	}
	pthread_mutex_unlock(&c->lock);
	if (status == AIO_OK)
		server_store_tokens_enroll_used(c->db, hash, now);
	return status;
}

int server_creds_token_list(struct server_creds *c,
                            int (*fn)(const struct server_token *const *tokens, size_t n,
                                      void *arg),
                            void *arg)
{
	const struct server_token **v;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&c->lock);
	if (!(v = calloc(c->n_tokens + 1, sizeof(*v)))) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	for (const struct server_token *t = c->tokens; t; t = t->next)
		v[n++] = t;
	r = fn(v, n, arg);
	pthread_mutex_unlock(&c->lock);
	free(v);
	return r;
}
