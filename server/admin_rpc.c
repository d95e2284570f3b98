/* The Admin service: what aioctl calls. Every call carries the admin token. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "audit.h"
#include "clock.h"
#include "cluster.h"
#include "drift.h"
#include "history.h"
#include "log.h"
#include "names.h"
#include "secret.h"
#include "server.h"
#include "status.h"
#include "store.h"
#include "store_events.h"
#include "store_hosts.h"
#include "trend.h"

/* Refusals a caller repeats are written once per window: a flood of denied
 * calls (thousands a second) must not become as many audit rows and log
 * lines. The first of a window is written; the next one after it says how
 * many were not. */
#define DENIALS_KEPT     64
#define DENIAL_WINDOW_MS 10000

static struct {
	char key[192];
	uint64_t since_ms, count;
} denials[DENIALS_KEPT];
static size_t denials_next;
static pthread_mutex_t denials_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether this refusal (key: who and what) is to be written now; if so,
 * *ret_more is how many like it were not since the last one written. */
static bool denial_written(const char *key, uint64_t now, uint64_t *ret_more)
{
	bool write = true;
	size_t i;

	pthread_mutex_lock(&denials_lock);
	for (i = 0; i < DENIALS_KEPT && strcmp(denials[i].key, key); i++)
		;
	if (i == DENIALS_KEPT) {
		i = denials_next++ % DENIALS_KEPT; /* the oldest slot */
		snprintf(denials[i].key, sizeof(denials[i].key), "%s", key);
		denials[i].since_ms = 0;
		denials[i].count = 0;
	}
	if (denials[i].since_ms && now < denials[i].since_ms + DENIAL_WINDOW_MS) {
		denials[i].count++;
		write = false;
	} else {
		*ret_more = denials[i].count;
		denials[i].since_ms = now;
		denials[i].count = 0;
	}
	pthread_mutex_unlock(&denials_lock);
	return write;
}

/* The address of a peer "ADDR:PORT", without the port: one caller's
 * connections share it. */
static void peer_address(const char *peer, char *buf, size_t len)
{
	const char *colon = strrchr(peer, ':');

	snprintf(buf, len, "%.*s", colon ? (int)(colon - peer) : (int)strlen(peer), peer);
}

/* Every admin call carries a token; its role must cover the method. The
 * token is left on the call for the audit log. */
int server_admin_authorize(struct aio_rpc_call *call, void *arg)
{
	struct server *s = arg;
	const Aioctl__V1__Credentials *creds = aio_rpc_call_creds(call);
	const char *method = aio_rpc_call_method(call);
	const struct server_token *t;
	enum server_role need;
	char peer[64];

	if (!creds->admin_token || !*creds->admin_token) {
		aio_rpc_call_fail(call, AIO_UNAUTHENTICATED,
		                  "admin calls need a token (aioctl --token-file FILE)");
		return AIO_UNAUTHENTICATED;
	}
	if (!(t = server_creds_find_token(&s->creds, creds->admin_token))) {
		char key[192], addr[64];
		uint64_t more = 0;

		aio_rpc_call_peer(call, peer, sizeof(peer));
		peer_address(peer, addr, sizeof(addr));
		snprintf(key, sizeof(key), "bad token@%s", addr);
		if (denial_written(key, aio_now_ms(), &more))
			log_warn("admin: %s from %s refused: token not accepted%s", method, peer,
			         more ? " (and more from there since)" : "");
		aio_rpc_call_fail(call, AIO_UNAUTHENTICATED, "admin token not accepted");
		return AIO_UNAUTHENTICATED;
	}
	need = server_creds_role_for(method);
	if (t->role < need) {
		char who[128], what[160];

		char key[192], addr[64], result[96];
		uint64_t more = 0;

		aio_rpc_call_peer(call, peer, sizeof(peer));
		peer_address(peer, addr, sizeof(addr));
		snprintf(who, sizeof(who), "%s@%s", t->name, peer);
		snprintf(what, sizeof(what), "%s", method);
		snprintf(key, sizeof(key), "%s@%s %s", t->name, addr, method);
		if (denial_written(key, aio_now_ms(), &more)) {
			if (more)
				snprintf(result, sizeof(result),
				         "%s (and %" PRIu64 " more refused)",
				         server_creds_role_name(t->role), more);
			else
				snprintf(result, sizeof(result), "%s",
				         server_creds_role_name(t->role));
			log_warn("admin: %s refused for %s (role %s, needs %s)%s", method, who,
			         server_creds_role_name(t->role), server_creds_role_name(need),
			         more ? " again: the others of the last 10 s not logged" : "");
			server_audit_log(s->db, who, "denied", what, result);
		}
		aio_rpc_call_fail(call, AIO_PERMISSION_DENIED, "%s %s may not %s: needs %s",
		                  server_creds_role_name(t->role), t->name,
		                  server_creds_action(method), server_creds_role_name(need));
		return AIO_PERMISSION_DENIED;
	}
	aio_rpc_call_set_user(call, (void *)t);
	return AIO_OK;
}

#define LIVE_TIMEOUT_DEFAULT_MS 2000
#define LIVE_TIMEOUT_MAX_MS     60000

static void admin_rpc_fleet_status(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__FleetStatusRequest *in,
                                   Aioctl__V1__FleetStatusReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	uint64_t timeout =
	        in->has_timeout_ms && in->timeout_ms ? in->timeout_ms : LIVE_TIMEOUT_DEFAULT_MS;

	if (in->has_live && in->live) {
		/* answered by the engine when every agent replied, or at the
		 * timeout (kept inside the caller's deadline) */
		uint64_t deadline = aio_rpc_call_deadline(data), now = aio_now_ms();

		if (timeout > LIVE_TIMEOUT_MAX_MS)
			timeout = LIVE_TIMEOUT_MAX_MS;
		if (deadline && deadline > now + 100 && deadline - now - 100 < timeout)
			timeout = deadline - now - 100;
		const struct server_token *t = aio_rpc_call_user(data);
		int r = server_push_live(&s->push, t ? t->name : "", timeout, closure, data);

		if (r == -EBUSY)
			AIO_RPC_REFUSE(
			        data, closure, AIO_RESOURCE_EXHAUSTED,
			        "too many live fleet status calls at once (%d per token, %d in "
			        "all): wait for one to finish",
			        SERVER_PUSH_LIVE_PER_OWNER, SERVER_PUSH_LIVE_MAX);
		else if (r == -ESHUTDOWN)
			AIO_RPC_REFUSE(data, closure, AIO_UNAVAILABLE, "server is shutting down");
		else if (r < 0)
			AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED,
			               "server out of memory");
		return;
	}
	server_status_answer(&s->hosts, closure, data, NULL, 0);
}

struct show {
	Aioctl__V1__HostShowReply_Closure closure;
	void *data;
};

static int show_host(const struct server_host *h, void *arg)
{
	struct show *sh = arg;
	Aioctl__V1__HostShowReply rep = AIOCTL__V1__HOST_SHOW_REPLY__INIT;
	Aioctl__V1__AioEvent *recent[SERVER_RECENT_EVENTS];
	Aioctl__V1__HostStatus st;

	if (server_status_fill(&st, h, aio_now_ms()) < 0)
		return -ENOMEM;
	rep.status = &st;
	if (h->detail) {
		rep.users = h->detail->users;
		rep.n_users = h->detail->n_users;
		rep.has_unexplained = h->detail->has_unexplained;
		rep.unexplained = h->detail->unexplained;
		rep.has_users_time_ms = h->detail->has_users_time_ms;
		rep.users_time_ms = h->detail->users_time_ms;
	}
	/* newest first */
	for (size_t i = 0; i < h->n_recent; i++)
		recent[i] =
		        h->recent[(h->recent_head + h->n_recent - 1 - i) % SERVER_RECENT_EVENTS];
	rep.recent_events = recent;
	rep.n_recent_events = h->n_recent;
	sh->closure(&rep, sh->data);
	server_status_done(&st);
	return 0;
}

static void admin_rpc_host_show(Aioctl__V1__Admin_Service *svc,
                                const Aioctl__V1__HostShowRequest *in,
                                Aioctl__V1__HostShowReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct show sh = { closure, data };
	int r;

	if (!aio_host_name_valid(in->host)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host name");
		return;
	}
	if ((r = server_hosts_read_name(&s->hosts, in->host, show_host, &sh)) == -ENOENT)
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->host);
	else if (r < 0)
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
}

#define ERRORS_LIMIT_DEFAULT 100
#define ERRORS_LIMIT_MAX     1000

struct errors_job {
	Aioctl__V1__ErrorsRequest *in; /* taken from the call */
	int64_t host_id;               /* 0: every host */
	struct server_hosts *hosts;
	Aioctl__V1__ErrorsReply_Closure closure;
	void *data;
};

struct errors_list {
	struct server_hosts *hosts;
	Aioctl__V1__HostEvent **v;
	size_t n;
};

static int host_name(const struct server_host *h, void *arg)
{
	char **name = arg;

	return (*name = strdup(h->name)) ? 0 : -ENOMEM;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Each event as an owned HostEvent (protobuf-c frees it whole). */
static int error_row(int64_t host_id, const Aioctl__V1__AioEvent *e, void *arg)
{
	struct errors_list *l = arg;
	Aioctl__V1__HostEvent *he = calloc(1, sizeof(*he));
	Aioctl__V1__AioEvent *ev = calloc(1, sizeof(*ev));
	char *host = NULL;

	if (!he || !ev || server_hosts_read_id(l->hosts, host_id, host_name, &host) == -ENOMEM) {
		free(he);
		free(ev);
		return -ENOMEM;
	}
	aioctl__v1__host_event__init(he);
	aioctl__v1__aio_event__init(ev);
	he->host = host ? host : strdup("?");
	ev->time_ms = e->time_ms;
	ev->kind = e->kind;
	ev->source = dup_or_null(e->source);
	ev->vm = dup_or_null(e->vm);
	ev->disk = dup_or_null(e->disk);
	ev->line = dup_or_null(e->line);
	if (e->n_sources && (ev->sources = calloc(e->n_sources, sizeof(*ev->sources))))
		for (size_t i = 0; i < e->n_sources; i++)
			if ((ev->sources[ev->n_sources] = strdup(e->sources[i])))
				ev->n_sources++;
	he->event = ev;
	l->v[l->n++] = he;
	return 0;
}

/* On the query thread: newest events first. */
static void errors_query(struct server_reader *rd, void *arg)
{
	struct errors_job *j = arg;
	Aioctl__V1__ErrorsReply rep = AIOCTL__V1__ERRORS_REPLY__INIT;
	uint32_t limit = j->in->has_limit && j->in->limit ? j->in->limit : ERRORS_LIMIT_DEFAULT;
	struct errors_list l = { .hosts = j->hosts };
	bool truncated = false;
	int r;

	if (limit > ERRORS_LIMIT_MAX)
		limit = ERRORS_LIMIT_MAX;
	if (!(l.v = calloc(limit + 1, sizeof(*l.v)))) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_free;
	}
	r = server_store_events_read(rd, j->in->has_since_ms ? j->in->since_ms : 0, j->host_id,
	                             j->in->vm, limit, error_row, &l, &truncated);
	if (r < 0) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read events: %s",
		               r == -ENOMEM ? "out of memory" : server_reader_error(rd));
		goto out_free;
	}
	rep.has_truncated = truncated;
	rep.truncated = truncated;
	rep.events = l.v;
	rep.n_events = l.n;
	j->closure(&rep, j->data);
out_free:
	for (size_t i = 0; i < l.n; i++)
		protobuf_c_message_free_unpacked(&l.v[i]->base, NULL);
	free(l.v);
	protobuf_c_message_free_unpacked(&j->in->base, NULL);
	free(j);
}

static void admin_rpc_errors(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__ErrorsRequest *in,
                             Aioctl__V1__ErrorsReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct errors_job *j;
	int64_t host_id = 0;
	int r;

	if ((in->host && !aio_host_name_valid(in->host)) ||
	    (in->vm && !aio_text_valid(in->vm, AIO_VM_NAME_MAX))) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host or VM name");
		return;
	}
	if (in->host && !(host_id = server_hosts_id(&s->hosts, in->host))) {
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->host);
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	j->closure = closure;
	j->data = data;
	j->host_id = host_id;
	j->hosts = &s->hosts;
	j->in = (Aioctl__V1__ErrorsRequest *)aio_rpc_call_take_input(data);
	if ((r = server_query_submit(s->query, errors_query, j)) < 0) {
		protobuf_c_message_free_unpacked(&j->in->base, NULL);
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
}

/* "NAME@127.0.0.1": the token's name and the peer, for the audit log. */
static void caller(void *data, char *buf, size_t len)
{
	const struct server_token *t = aio_rpc_call_user(data);
	char peer[64];

	aio_rpc_call_peer(data, peer, sizeof(peer));
	snprintf(buf, len, "%s@%s", t ? t->name : "?", peer);
}

/* A credential change answered once it is stored (with its audit entry):
 * a token shown but lost would work nowhere, a revocation lost would let
 * the token in again after a restart. */
struct cred_job {
	ProtobufCClosure closure;
	void *data;
	char token[80];
	uint64_t expires_ms;
	enum { JOB_ENROLL, JOB_TOKEN, JOB_EMPTY } kind;
};

static void cred_stored(void *arg, int err)
{
	struct cred_job *j = arg;

	if (err) {
		aio_rpc_call_fail(j->data,
		                  err == -ENOSPC ? AIO_RESOURCE_EXHAUSTED : AIO_UNAVAILABLE,
		                  "not stored (%s): nothing was changed; retry", strerror(-err));
		j->closure(NULL, j->data);
	} else if (j->kind == JOB_ENROLL) {
		Aioctl__V1__EnrollCreateReply rep = AIOCTL__V1__ENROLL_CREATE_REPLY__INIT;

		rep.token = j->token;
		rep.has_expires_ms = true;
		rep.expires_ms = j->expires_ms;
		j->closure(&rep.base, j->data);
	} else if (j->kind == JOB_TOKEN) {
		Aioctl__V1__TokenCreateReply rep = AIOCTL__V1__TOKEN_CREATE_REPLY__INIT;

		rep.token = j->token;
		j->closure(&rep.base, j->data);
	} else {
		Aioctl__V1__Empty rep = AIOCTL__V1__EMPTY__INIT;

		j->closure(&rep.base, j->data);
	}
	free(j);
}

static struct cred_job *cred_job(ProtobufCClosure closure, void *data, int kind)
{
	struct cred_job *j = calloc(1, sizeof(*j));

	if (j) {
		j->closure = closure;
		j->data = data;
		j->kind = kind;
	}
	return j;
}

static void admin_rpc_enroll_create(Aioctl__V1__Admin_Service *svc,
                                    const Aioctl__V1__EnrollCreateRequest *in,
                                    Aioctl__V1__EnrollCreateReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct cred_job *j = cred_job((ProtobufCClosure)closure, data, JOB_ENROLL);
	char msg[256], who[160];
	int st;

	if (!j) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	caller(data, who, sizeof(who));
	st = server_creds_enroll_create(
	        &s->creds, in->host, in->has_expires_ms ? in->expires_ms : 0, who, j->token,
	        sizeof(j->token), &j->expires_ms, msg, sizeof(msg), cred_stored, j);
	if (st != AIO_OK) {
		free(j);
		AIO_RPC_REFUSE(data, closure, st, "%s", msg);
	}
}

static void admin_rpc_token_create(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__TokenCreateRequest *in,
                                   Aioctl__V1__TokenCreateReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct cred_job *j = cred_job((ProtobufCClosure)closure, data, JOB_TOKEN);
	char msg[256], who[160];
	int st;

	if (!j) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	caller(data, who, sizeof(who));
	st = server_creds_token_create(&s->creds, in->name, in->role, who, j->token,
	                               sizeof(j->token), msg, sizeof(msg), cred_stored, j);
	if (st != AIO_OK) {
		free(j);
		AIO_RPC_REFUSE(data, closure, st, "%s", msg);
	}
}

struct token_list {
	Aioctl__V1__TokenListReply_Closure closure;
	void *data;
};

static int list_tokens(const struct server_token *const *tokens, size_t n, void *arg)
{
	struct token_list *l = arg;
	Aioctl__V1__TokenListReply rep = AIOCTL__V1__TOKEN_LIST_REPLY__INIT;
	Aioctl__V1__TokenInfo *v = calloc(n + 1, sizeof(*v));
	Aioctl__V1__TokenInfo **pv = calloc(n + 1, sizeof(*pv));

	if (!v || !pv) {
		free(v);
		free(pv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		aioctl__v1__token_info__init(&v[i]);
		v[i].name = (char *)tokens[i]->name;
		v[i].role = (char *)server_creds_role_name(tokens[i]->role);
		v[i].has_created_ms = true;
		v[i].created_ms = tokens[i]->created_ms;
		v[i].has_revoked_ms = tokens[i]->revoked_ms != 0;
		v[i].revoked_ms = tokens[i]->revoked_ms;
		pv[i] = &v[i];
	}
	rep.tokens = pv;
	rep.n_tokens = n;
	l->closure(&rep, l->data);
	free(v);
	free(pv);
	return 0;
}

static void admin_rpc_server_list(Aioctl__V1__Admin_Service *svc,
                                  const Aioctl__V1__ServerListRequest *in,
                                  Aioctl__V1__ServerListReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__ServerListReply rep = AIOCTL__V1__SERVER_LIST_REPLY__INIT;
	struct server_cluster_peer *peers = calloc(SERVER_CLUSTER_PEERS_MAX, sizeof(*peers));
	Aioctl__V1__ServerInfo *v = calloc(SERVER_CLUSTER_PEERS_MAX, sizeof(*v));
	Aioctl__V1__ServerInfo **pv = calloc(SERVER_CLUSTER_PEERS_MAX, sizeof(*pv));
	size_t n = 0;

	if (!peers || !v || !pv) {
		free(peers);
		free(v);
		free(pv);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	if (s->cluster) {
		n = server_cluster_servers(s->cluster, peers, SERVER_CLUSTER_PEERS_MAX);
	} else {
		/* one server, on SQLite: itself, the leader */
		snprintf(peers[0].name, sizeof(peers[0].name), "%s", "this server");
		snprintf(peers[0].agent_url, sizeof(peers[0].agent_url), "%s", s->conf.listen);
		snprintf(peers[0].admin_url, sizeof(peers[0].admin_url), "%s",
		         s->conf.admin_listen);
		snprintf(peers[0].version, sizeof(peers[0].version), "%s", AIO_VERSION);
		peers[0].seen_ms = aio_now_ms();
		peers[0].agents = server_push_watches(&s->push);
		peers[0].leader = peers[0].alive = peers[0].self = true;
		n = 1;
	}
	for (size_t i = 0; i < n; i++) {
		aioctl__v1__server_info__init(&v[i]);
		v[i].name = peers[i].name;
		v[i].agent_url = peers[i].agent_url;
		v[i].admin_url = peers[i].admin_url;
		v[i].version = peers[i].version;
		v[i].has_started_ms = peers[i].started_ms != 0;
		v[i].started_ms = peers[i].started_ms;
		v[i].has_seen_ms = true;
		v[i].seen_ms = peers[i].seen_ms;
		v[i].has_agents = true;
		v[i].agents = peers[i].agents;
		v[i].has_leader = true;
		v[i].leader = peers[i].leader;
		v[i].has_leader_since_ms = peers[i].leader_since_ms != 0;
		v[i].leader_since_ms = peers[i].leader_since_ms;
		v[i].has_alive = true;
		v[i].alive = peers[i].alive;
		v[i].has_self = true;
		v[i].self = peers[i].self;
		pv[i] = &v[i];
	}
	rep.servers = pv;
	rep.n_servers = n;
	rep.database = s->cluster ? "postgresql" : "sqlite";
	closure(&rep, data);
	free(peers);
	free(v);
	free(pv);
}

static void admin_rpc_token_list(Aioctl__V1__Admin_Service *svc,
                                 const Aioctl__V1__TokenListRequest *in,
                                 Aioctl__V1__TokenListReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct token_list l = { closure, data };

	if (server_creds_token_list(&s->creds, list_tokens, &l) < 0)
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
}

static void admin_rpc_token_revoke(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__NameRequest *in,
                                   Aioctl__V1__Empty_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct cred_job *j = cred_job((ProtobufCClosure)closure, data, JOB_EMPTY);
	char msg[256], who[160];
	int st;

	if (!j) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	caller(data, who, sizeof(who));
	st = server_creds_token_revoke(&s->creds, in->name, who, msg, sizeof(msg), cred_stored, j);
	if (st != AIO_OK) {
		free(j);
		AIO_RPC_REFUSE(data, closure, st, "%s", msg);
	}
}

static int revoke_host(struct server_host *h, void *arg)
{
	h->revoked_ms = *(const uint64_t *)arg;
	return 0;
}

static void admin_rpc_host_revoke(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__NameRequest *in,
                                  Aioctl__V1__Empty_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct cred_job *j = NULL;
	uint64_t now = aio_now_ms();
	char who[160];

	caller(data, who, sizeof(who));
	if (!aio_host_name_valid(in->name)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host name");
		return;
	}
	if (server_hosts_update_name(&s->hosts, in->name, false, revoke_host, &now) < 0) {
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->name);
		return;
	}
	if (!(j = cred_job((ProtobufCClosure)closure, data, JOB_EMPTY)) ||
	    server_store_hosts_revoke(s->db, in->name, now, who, cred_stored, j) < 0) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED,
		               "server busy: refused until the server restarts, but not stored; "
		               "retry");
		return;
	}
	log_info("host %s revoked by %s", in->name, who);
}

/* ------------------------------------------------------- host removal */

struct removal_job {
	Aioctl__V1__Empty_Closure closure;
	void *data;
	struct server *s;
	int64_t id;
	char name[AIO_HOST_NAME_MAX + 1];
	char who[160];
};

/* After the commit: the registry forgets it, so its memory goes too. */
static void host_removed(void *arg, int err)
{
	struct removal_job *j = arg;
	Aioctl__V1__Empty rep = AIOCTL__V1__EMPTY__INIT;

	if (err) {
		AIO_RPC_REFUSE(j->data, j->closure,
		               err == -ENOSPC ? AIO_RESOURCE_EXHAUSTED : AIO_UNAVAILABLE,
		               "not stored (%s): nothing was removed; retry", strerror(-err));
	} else {
		server_hosts_remove(&j->s->hosts, j->id);
		log_info("host %s removed by %s", j->name, j->who);
		j->closure(&rep, j->data);
	}
	free(j);
}

struct removal_check {
	int64_t id;
	bool online;
	uint64_t last_seen_ms;
};

static int check_removal(const struct server_host *h, void *arg)
{
	struct removal_check *c = arg;

	c->id = h->id;
	c->online = server_host_online(h, aio_now_ms());
	c->last_seen_ms = h->last_seen_ms;
	return 0;
}

static void admin_rpc_host_remove(Aioctl__V1__Admin_Service *svc,
                                  const Aioctl__V1__HostRemoveRequest *in,
                                  Aioctl__V1__Empty_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct removal_check c = { 0 };
	struct removal_job *j;
	uint64_t rollout;

	if (!aio_host_name_valid(in->name)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host name");
		return;
	}
	if (server_hosts_read_name(&s->hosts, in->name, check_removal, &c) < 0) {
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->name);
		return;
	}
	if (c.online && !in->force) {
		AIO_RPC_REFUSE(data, closure, AIO_FAILED_PRECONDITION,
		               "%s reported %" PRIu64
		               " s ago: stop its agent (or revoke it) first, "
		               "or --force (an agent still running cannot report again without "
		               "a new enrollment)",
		               in->name, (aio_now_ms() - c.last_seen_ms) / 1000);
		return;
	}
	if ((rollout = server_engine_holding(&s->engine, c.id))) {
		AIO_RPC_REFUSE(data, closure, AIO_FAILED_PRECONDITION,
		               "%s has a step in rollout %" PRIu64 ", which is under way: let it "
		               "finish, or abort it first",
		               in->name, rollout);
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	j->closure = closure;
	j->data = data;
	j->s = s;
	j->id = c.id;
	snprintf(j->name, sizeof(j->name), "%s", in->name);
	caller(data, j->who, sizeof(j->who));
	if (server_store_remove_host(s->db, c.id, in->name, j->who, host_removed, j) < 0) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry");
	}
}

/* Of several servers on one database the leader runs the rollouts: a call
 * about them goes there (true: it is on its way). */
static bool to_leader(void *data, ProtobufCClosure closure)
{
	struct server *s = aio_rpc_call_arg(data);

	return s->cluster && server_cluster_forward(s->cluster, data, closure);
}

static void admin_rpc_set_limit(Aioctl__V1__Admin_Service *svc,
                                const Aioctl__V1__SetLimitRequest *in,
                                Aioctl__V1__Rollout_Closure closure, void *data)
{
	char who[160];

	if (to_leader(data, (ProtobufCClosure)closure))
		return;
	caller(data, who, sizeof(who));
	server_engine_set_limit(&((struct server *)aio_rpc_call_arg(data))->engine, in, who,
	                        closure, data);
}

static void admin_rpc_reconcile(Aioctl__V1__Admin_Service *svc,
                                const Aioctl__V1__ReconcileRequest *in,
                                Aioctl__V1__Rollout_Closure closure, void *data)
{
	Aioctl__V1__SetLimitRequest req = AIOCTL__V1__SET_LIMIT_REQUEST__INIT;
	Aioctl__V1__Selector sel = AIOCTL__V1__SELECTOR__INIT;
	char who[160];

	if (to_leader(data, (ProtobufCClosure)closure))
		return;
	caller(data, who, sizeof(who));
	req.has_reconcile = true;
	req.reconcile = true;
	req.has_force = true;
	req.force = true; /* back to a value the host had: usage was checked then */
	req.has_dry_run = in->has_dry_run;
	req.dry_run = in->dry_run;
	req.has_supersede = in->has_supersede;
	req.supersede = in->supersede;
	req.has_allow_lower = in->has_allow_lower;
	req.allow_lower = in->allow_lower;
	req.has_soak_ms = true;
	req.soak_ms = 0;
	req.has_canary = true;
	req.canary = 0;
	req.has_batch = true;
	req.batch = 100;
	req.has_batch_percent = true;
	req.batch_percent = true;
	if (in->hosts_glob) {
		sel.hosts_glob = in->hosts_glob;
		req.selector = &sel;
	}
	server_engine_set_limit(&((struct server *)aio_rpc_call_arg(data))->engine, &req, who,
	                        closure, data);
}

static void rollout_op(const Aioctl__V1__RolloutRequest *in, enum server_rollout_op op,
                       Aioctl__V1__Rollout_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	char who[160];

	if (to_leader(data, (ProtobufCClosure)closure))
		return;
	caller(data, who, sizeof(who));
	server_engine_rollout_op(&s->engine, in->id, op, who, closure, data);
}

static void admin_rpc_rollout_get(Aioctl__V1__Admin_Service *svc,
                                  const Aioctl__V1__RolloutRequest *in,
                                  Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, ROLLOUT_GET, closure, data);
}

static void admin_rpc_rollout_pause(Aioctl__V1__Admin_Service *svc,
                                    const Aioctl__V1__RolloutRequest *in,
                                    Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, ROLLOUT_PAUSE, closure, data);
}

static void admin_rpc_rollout_resume(Aioctl__V1__Admin_Service *svc,
                                     const Aioctl__V1__RolloutRequest *in,
                                     Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, ROLLOUT_RESUME, closure, data);
}

static void admin_rpc_rollout_abort(Aioctl__V1__Admin_Service *svc,
                                    const Aioctl__V1__RolloutRequest *in,
                                    Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, ROLLOUT_ABORT, closure, data);
}

static void admin_rpc_rollout_rollback(Aioctl__V1__Admin_Service *svc,
                                       const Aioctl__V1__RolloutRequest *in,
                                       Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, ROLLOUT_ROLLBACK, closure, data);
}

static void admin_rpc_rollout_list(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__RolloutListRequest *in,
                                   Aioctl__V1__RolloutListReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);

	if (to_leader(data, (ProtobufCClosure)closure))
		return;
	server_engine_rollout_list(&s->engine, in->has_limit ? in->limit : 0, closure, data);
}

#define HISTORY_POINTS_MAX  2000
#define HISTORY_STEP_MIN_MS 1000

struct history_job {
	int64_t host_id;
	uint64_t interval_ms;
	uint64_t since_ms, until_ms, step_ms;
	enum server_tier tier;
	char vm[AIO_VM_NAME_MAX + 1]; /* "" for the host's own series */
	Aioctl__V1__HistoryReply_Closure closure;
	void *data;
};

/* On the query thread: a VM's usage as stored, on change: the row in
 * force at since, then each change up to until. */
static void vm_history_query(struct server_reader *rd, struct history_job *j)
{
	Aioctl__V1__HistoryReply rep = AIOCTL__V1__HISTORY_REPLY__INIT;
	struct server_history_vm *pt = calloc(HISTORY_POINTS_MAX + 1, sizeof(*pt));
	Aioctl__V1__VmUsagePoint *v = calloc(HISTORY_POINTS_MAX + 1, sizeof(*v));
	Aioctl__V1__VmUsagePoint **pv = calloc(HISTORY_POINTS_MAX + 1, sizeof(*pv));
	size_t n = 0;

	if (!pt || !v || !pv) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_free;
	}
	if (server_history_vm_read(rd, j->host_id, j->vm, j->since_ms, j->until_ms, pt,
	                           HISTORY_POINTS_MAX, &n) < 0) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read VM usage: %s",
		               server_reader_error(rd));
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		aioctl__v1__vm_usage_point__init(&v[i]);
		v[i].time_ms = pt[i].time_ms;
		v[i].contexts = pt[i].contexts;
		v[i].has_events = pt[i].has_events;
		v[i].events = pt[i].events;
		pv[i] = &v[i];
	}
	rep.vm = pv;
	rep.n_vm = n;
	j->closure(&rep, j->data);
out_free:
	free(pt);
	free(v);
	free(pv);
}

/* On the query thread: one row per step, from the tier chosen. */
static void history_query(struct server_reader *rd, void *arg)
{
	struct history_job *j = arg;
	Aioctl__V1__HistoryReply rep = AIOCTL__V1__HISTORY_REPLY__INIT;
	struct server_history_point *pt = calloc(HISTORY_POINTS_MAX + 1, sizeof(*pt));
	Aioctl__V1__Sample *v = calloc(HISTORY_POINTS_MAX + 1, sizeof(*v));
	Aioctl__V1__Sample **pv = calloc(HISTORY_POINTS_MAX + 1, sizeof(*pv));
	size_t n = 0;
	int r;

	if (j->vm[0]) {
		vm_history_query(rd, j);
		goto out_free;
	}
	if (!pt || !v || !pv) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_free;
	}
	r = server_history_read(rd, j->host_id, j->interval_ms, j->tier, j->since_ms, j->until_ms,
	                        j->step_ms, pt, HISTORY_POINTS_MAX, &n);
	if (r < 0) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read history: %s",
		               server_reader_error(rd));
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		aioctl__v1__sample__init(&v[i]);
		v[i].time_ms = pt[i].start_ms;
		v[i].aio_nr_min = pt[i].min;
		v[i].aio_nr_max = pt[i].max;
		v[i].has_mean = true;
		v[i].mean = pt[i].sum / (double)pt[i].count;
		v[i].has_count = true;
		v[i].count = pt[i].count > UINT32_MAX ? UINT32_MAX : (uint32_t)pt[i].count;
		v[i].aio_nr = pt[i].last;
		v[i].aio_max_nr = pt[i].limit;
		v[i].has_peak_utilization = true;
		v[i].peak_utilization = server_history_util(pt[i].umax);
		pv[i] = &v[i];
	}
	rep.samples = pv;
	rep.n_samples = n;
	rep.has_step_ms = true;
	rep.step_ms = j->step_ms;
	rep.tier = (char *)server_tier_name[j->tier];
	j->closure(&rep, j->data);
out_free:
	free(pt);
	free(v);
	free(pv);
	free(j);
}

static int history_host(const struct server_host *h, void *arg)
{
	struct history_job *j = arg;

	j->host_id = h->id;
	j->interval_ms = h->interval_ms;
	return 0;
}

static void admin_rpc_history(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__HistoryRequest *in,
                              Aioctl__V1__HistoryReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	uint64_t now = aio_now_ms(), span;
	struct history_job *j;

	if (!aio_host_name_valid(in->host)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host name");
		return;
	}
	if (in->vm && !aio_text_valid(in->vm, AIO_VM_NAME_MAX)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "--vm: not a VM name");
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	if (server_hosts_read_name(&s->hosts, in->host, history_host, j) < 0) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->host);
		return;
	}
	if (in->vm)
		snprintf(j->vm, sizeof(j->vm), "%s", in->vm);
	j->until_ms = in->has_until_ms && in->until_ms ? in->until_ms : now + 1;
	j->since_ms = in->has_since_ms ? in->since_ms : j->until_ms - AIO_DAY_MS;
	if (j->since_ms >= j->until_ms) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT,
		               "--since must come before --until");
		return;
	}
	span = j->until_ms - j->since_ms;
	/* a step that keeps the answer within HISTORY_POINTS_MAX points */
	j->step_ms = in->has_step_ms && in->step_ms ? in->step_ms : span / 200;
	if (j->step_ms < span / HISTORY_POINTS_MAX + 1)
		j->step_ms = span / HISTORY_POINTS_MAX + 1;
	if (j->step_ms < HISTORY_STEP_MIN_MS)
		j->step_ms = HISTORY_STEP_MIN_MS;
	j->tier = server_history_tier(
	        (const uint64_t[SERVER_TIER_COUNT]){ s->conf.raw_retention_ms,
	                                             s->conf.rollup_5m_retention_ms,
	                                             s->conf.rollup_1h_retention_ms },
	        now, j->since_ms, &j->step_ms);
	j->since_ms -= j->since_ms % j->step_ms; /* steps at whole multiples */
	j->closure = closure;
	j->data = data;
	if (server_query_submit(s->query, history_query, j) < 0) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
}

static void admin_rpc_trend(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__TrendRequest *in,
                            Aioctl__V1__TrendReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct server_trend_ctx t = { &s->conf, &s->hosts, s->query };

	server_trend(&t, in, closure, data);
}

static void admin_rpc_rollout_report(Aioctl__V1__Admin_Service *svc,
                                     const Aioctl__V1__RolloutReportRequest *in,
                                     Aioctl__V1__RolloutReportReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct server_trend_ctx t = { &s->conf, &s->hosts, s->query };

	server_trend_rollout_report(&t, in, closure, data);
}

static void admin_rpc_drift(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__DriftRequest *in,
                            Aioctl__V1__DriftReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__DriftReply rep = AIOCTL__V1__DRIFT_REPLY__INIT;
	Aioctl__V1__HostDrift *v = NULL, **pv = NULL;
	struct server_drift *d;
	size_t n;

	if (server_drift_list(&s->hosts, &d, &n) < 0 || !(v = calloc(n + 1, sizeof(*v))) ||
	    !(pv = calloc(n + 1, sizeof(*pv)))) {
		free(v);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		aioctl__v1__host_drift__init(&v[i]);
		v[i].host = d[i].host;
		v[i].has_desired = true;
		v[i].desired = d[i].desired;
		v[i].has_runtime = d[i].has_runtime;
		v[i].runtime = d[i].runtime;
		v[i].has_persisted = d[i].has_persisted;
		v[i].persisted = d[i].persisted;
		v[i].persisted_file = d[i].persisted_file;
		v[i].cause = d[i].cause;
		v[i].has_rollout_id = true;
		v[i].rollout_id = d[i].rollout_id;
		pv[i] = &v[i];
	}
	rep.hosts = pv;
	rep.n_hosts = n;
	closure(&rep, data);
	server_drift_free(d, n);
	free(v);
	free(pv);
}

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX     1000

struct audit_job {
	uint64_t since_ms;
	uint32_t limit;
	Aioctl__V1__AuditReply_Closure closure;
	void *data;
};

static void audit_query(struct server_reader *rd, void *arg)
{
	struct audit_job *j = arg;
	Aioctl__V1__AuditReply rep = AIOCTL__V1__AUDIT_REPLY__INIT;
	Aioctl__V1__AuditEntry *v = NULL, **pv = NULL;
	struct server_audit_entry *e = NULL;
	bool truncated = false;
	size_t n = 0;
	int r;

	if ((r = server_audit_read(rd, j->since_ms, j->limit, &e, &n, &truncated)) < 0) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read the audit log: %s",
		               r == -ENOMEM ? "out of memory" : server_reader_error(rd));
		goto out_free;
	}
	if (!(v = calloc(n + 1, sizeof(*v))) || !(pv = calloc(n + 1, sizeof(*pv)))) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		aioctl__v1__audit_entry__init(&v[i]);
		v[i].time_ms = e[i].time_ms;
		v[i].who = e[i].who;
		v[i].action = e[i].action;
		v[i].target = e[i].target;
		v[i].result = e[i].result;
		pv[i] = &v[i];
	}
	rep.entries = pv;
	rep.n_entries = n;
	rep.has_truncated = truncated;
	rep.truncated = truncated;
	j->closure(&rep, j->data);
out_free:
	server_audit_list_free(e, n);
	free(v);
	free(pv);
	free(j);
}

static void admin_rpc_audit(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__AuditRequest *in,
                            Aioctl__V1__AuditReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct audit_job *j = calloc(1, sizeof(*j));

	if (!j) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	j->since_ms = in->has_since_ms ? in->since_ms : 0;
	j->limit = in->has_limit && in->limit ? in->limit : AUDIT_LIMIT_DEFAULT;
	if (j->limit > AUDIT_LIMIT_MAX)
		j->limit = AUDIT_LIMIT_MAX;
	j->closure = closure;
	j->data = data;
	if (server_query_submit(s->query, audit_query, j) < 0) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
}

static void admin_rpc_alerts(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__AlertsRequest *in,
                             Aioctl__V1__AlertsReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);

	server_alerts_answer(&s->alerts, in, closure, data);
}

Aioctl__V1__Admin_Service server_admin_service = {
	AIOCTL__V1__ADMIN__BASE_INIT,
	.fleet_status = admin_rpc_fleet_status,
	.host_show = admin_rpc_host_show,
	.errors = admin_rpc_errors,
	.set_limit = admin_rpc_set_limit,
	.rollout_get = admin_rpc_rollout_get,
	.rollout_list = admin_rpc_rollout_list,
	.rollout_pause = admin_rpc_rollout_pause,
	.rollout_resume = admin_rpc_rollout_resume,
	.rollout_abort = admin_rpc_rollout_abort,
	.rollout_rollback = admin_rpc_rollout_rollback,
	.drift = admin_rpc_drift,
	.history = admin_rpc_history,
	.trend = admin_rpc_trend,
	.rollout_report = admin_rpc_rollout_report,
	.reconcile = admin_rpc_reconcile,
	.audit = admin_rpc_audit,
	.enroll_create = admin_rpc_enroll_create,
	.token_create = admin_rpc_token_create,
	.token_list = admin_rpc_token_list,
	.token_revoke = admin_rpc_token_revoke,
	.host_revoke = admin_rpc_host_revoke,
	.host_remove = admin_rpc_host_remove,
	.server_list = admin_rpc_server_list,
	.alerts = admin_rpc_alerts,
};
