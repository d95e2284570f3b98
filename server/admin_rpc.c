/* The Admin service: what aioctl calls. Every call carries the admin token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "clock.h"
#include "history.h"
#include "log.h"
#include "names.h"
#include "secret.h"
#include "server.h"
#include "trend.h"

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
		aio_rpc_call_peer(call, peer, sizeof(peer));
		log_warn("admin: %s from %s refused: token not accepted", method, peer);
		aio_rpc_call_fail(call, AIO_UNAUTHENTICATED, "admin token not accepted");
		return AIO_UNAUTHENTICATED;
	}
	need = server_role_for(method);
	if (t->role < need) {
		char who[128], what[160];

		aio_rpc_call_peer(call, peer, sizeof(peer));
		snprintf(who, sizeof(who), "%s@%s", t->name, peer);
		snprintf(what, sizeof(what), "%s", method);
		log_warn("admin: %s refused for %s (role %s, needs %s)", method, who,
		         server_role_name(t->role), server_role_name(need));
		server_audit(s, who, "denied", what, server_role_name(t->role));
		aio_rpc_call_fail(call, AIO_PERMISSION_DENIED,
		                  "token %s (role %s) may not call %s: "
		                  "needs %s",
		                  t->name, server_role_name(t->role), strrchr(method, '/') + 1,
		                  server_role_name(need));
		return AIO_PERMISSION_DENIED;
	}
	aio_rpc_call_set_user(call, (void *)t);
	return AIO_OK;
}

/* HostStatus fields point into the registry: build and pack under its read
 * lock. Labels need arrays of their own, freed by status_done. */
static int status_fill(Aioctl__V1__HostStatus *st, const struct server_host *h, uint64_t now)
{
	aioctl__v1__host_status__init(st);
	st->host = h->name;
	st->kernel = h->kernel;
	st->agent_version = h->agent_version;
	st->has_first_seen_ms = true;
	st->first_seen_ms = h->first_seen_ms;
	st->has_last_seen_ms = true;
	st->last_seen_ms = h->last_seen_ms;
	st->has_online = true;
	st->online = server_host_online(h, now);
	st->has_last_seq = true;
	st->last_seq = h->last_seq;
	st->has_interval_ms = true;
	st->interval_ms = h->interval_ms;
	st->has_counting = true;
	st->counting = (Aioctl__V1__CountingMode)h->counting;
	if (h->detail && h->detail->has_counting)
		st->counting = h->detail->counting;
	if (h->detail)
		st->persisted = h->detail->persisted;
	st->has_errors_24h = true;
	st->errors_24h = server_host_errors_24h(h, now);
	st->has_dropped = h->dropped > 0;
	st->dropped = h->dropped;
	if (h->has_sample) {
		st->sample = (Aioctl__V1__Sample *)&h->sample;
		st->has_room_contexts = true;
		st->room_contexts = aio_room_contexts(h->sample.aio_max_nr, h->sample.aio_nr);
	}
	st->has_largest_vm_contexts = h->largest_vm_contexts > 0;
	st->largest_vm_contexts = h->largest_vm_contexts;
	if (h->n_labels) {
		Aioctl__V1__Label *l = calloc(h->n_labels, sizeof(*l));
		Aioctl__V1__Label **lp = calloc(h->n_labels, sizeof(*lp));

		if (!l || !lp) {
			free(l);
			free(lp);
			return -ENOMEM;
		}
		for (size_t i = 0; i < h->n_labels; i++) {
			aioctl__v1__label__init(&l[i]);
			l[i].key = h->labels[i].key;
			l[i].value = h->labels[i].value;
			lp[i] = &l[i];
		}
		st->labels = lp;
		st->n_labels = h->n_labels;
	}
	return 0;
}

static void status_done(Aioctl__V1__HostStatus *st)
{
	if (st->n_labels) {
		free(st->labels[0]);
		free(st->labels);
	}
}

void server_fleet_status_answer(struct server *s, Aioctl__V1__FleetStatusReply_Closure closure,
                                void *data, char **not_answered, size_t n_not)
{
	Aioctl__V1__FleetStatusReply rep = AIOCTL__V1__FLEET_STATUS_REPLY__INIT;
	Aioctl__V1__HostStatus *st = NULL, **stp = NULL;
	uint64_t now = aio_now_ms();
	size_t n = 0;

	pthread_rwlock_rdlock(&s->hosts.lock);
	if (s->hosts.n) {
		st = calloc(s->hosts.n, sizeof(*st));
		stp = calloc(s->hosts.n, sizeof(*stp));
	}
	if (s->hosts.n && (!st || !stp))
		goto out_nomem;
	for (; n < s->hosts.n; n++) {
		if (status_fill(&st[n], s->hosts.all[n], now) < 0)
			goto out_nomem;
		stp[n] = &st[n];
	}
	rep.hosts = stp;
	rep.n_hosts = n;
	rep.not_answered = not_answered;
	rep.n_not_answered = n_not;
	closure(&rep, data);
	goto out_unlock;

out_nomem:
	AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
out_unlock:
	pthread_rwlock_unlock(&s->hosts.lock);
	for (size_t i = 0; i < n; i++)
		status_done(&st[i]);
	free(st);
	free(stp);
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
		server_engine_live(s, timeout, closure, data);
		return;
	}
	server_fleet_status_answer(s, closure, data, NULL, 0);
}

static void admin_rpc_host_show(Aioctl__V1__Admin_Service *svc,
                                const Aioctl__V1__HostShowRequest *in,
                                Aioctl__V1__HostShowReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__HostShowReply rep = AIOCTL__V1__HOST_SHOW_REPLY__INIT;
	Aioctl__V1__HostStatus st;
	struct server_host *h;

	if (!aio_host_name_valid(in->host)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host name");
		return;
	}
	pthread_rwlock_rdlock(&s->hosts.lock);
	h = server_hosts_find(&s->hosts, in->host);
	if (!h) {
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->host);
	} else if (status_fill(&st, h, aio_now_ms()) < 0) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
	} else {
		Aioctl__V1__AioEvent *recent[SERVER_RECENT_EVENTS];

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
			recent[i] = h->recent[(h->recent_head + h->n_recent - 1 - i) %
			                      SERVER_RECENT_EVENTS];
		rep.recent_events = recent;
		rep.n_recent_events = h->n_recent;
		closure(&rep, data);
		status_done(&st);
	}
	pthread_rwlock_unlock(&s->hosts.lock);
}

#define ERRORS_LIMIT_DEFAULT 100
#define ERRORS_LIMIT_MAX     1000

struct errors_job {
	Aioctl__V1__ErrorsRequest *in; /* taken from the call */
	Aioctl__V1__ErrorsReply_Closure closure;
	void *data;
};

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

/* On the query thread: newest events first, one past the limit to know
 * whether there were more. */
static void errors_query(sqlite3 *conn, void *arg)
{
	struct errors_job *j = arg;
	Aioctl__V1__ErrorsReply rep = AIOCTL__V1__ERRORS_REPLY__INIT;
	uint32_t limit = j->in->has_limit && j->in->limit ? j->in->limit : ERRORS_LIMIT_DEFAULT;
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	if (limit > ERRORS_LIMIT_MAX)
		limit = ERRORS_LIMIT_MAX;
	rep.events = calloc(limit, sizeof(*rep.events));
	if (!rep.events ||
	    sqlite3_prepare_v2(conn,
	                       "SELECT h.name, e.time_ms, e.kind, e.source, e.vm, e.disk, e.line,"
	                       " e.sources FROM events e JOIN hosts h ON h.id = e.host_id"
	                       " WHERE e.time_ms >= ?1 AND (?2 IS NULL OR h.name = ?2)"
	                       " AND (?3 IS NULL OR e.vm = ?3)"
	                       " ORDER BY e.time_ms DESC, e.id DESC LIMIT ?4",
	                       -1, &st, NULL) != SQLITE_OK) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read events: %s",
		               sqlite3_errmsg(conn));
		goto out_free;
	}
	sqlite3_bind_int64(st, 1, (int64_t)(j->in->has_since_ms ? j->in->since_ms : 0));
	if (j->in->host)
		sqlite3_bind_text(st, 2, j->in->host, -1, SQLITE_STATIC);
	if (j->in->vm)
		sqlite3_bind_text(st, 3, j->in->vm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)limit + 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		Aioctl__V1__HostEvent *he;
		Aioctl__V1__AioEvent *ev;

		if (n == limit) {
			rep.has_truncated = true;
			rep.truncated = true;
			break;
		}
		he = calloc(1, sizeof(*he));
		ev = calloc(1, sizeof(*ev));
		if (!he || !ev) {
			free(he);
			free(ev);
			break;
		}
		aioctl__v1__host_event__init(he);
		aioctl__v1__aio_event__init(ev);
		he->host = col_text(st, 0);
		ev->time_ms = (uint64_t)sqlite3_column_int64(st, 1);
		ev->kind = (Aioctl__V1__EventKind)sqlite3_column_int(st, 2);
		ev->source = col_text(st, 3);
		ev->vm = col_text(st, 4);
		ev->disk = col_text(st, 5);
		ev->line = col_text(st, 6);
		server_event_sources_parse(ev, (const char *)sqlite3_column_text(st, 7));
		he->event = ev;
		rep.events[n++] = he;
	}
	rep.n_events = n;
	j->closure(&rep, j->data);
	/* every piece was malloc'd: protobuf-c frees it the same way */
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&rep.events[i]->base, NULL);
out_free:
	free(rep.events);
	sqlite3_finalize(st);
	protobuf_c_message_free_unpacked(&j->in->base, NULL);
	free(j);
}

static void admin_rpc_errors(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__ErrorsRequest *in,
                             Aioctl__V1__ErrorsReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct errors_job *j;
	bool known = true;
	int r;

	if ((in->host && !aio_host_name_valid(in->host)) ||
	    (in->vm && !aio_text_valid(in->vm, AIO_VM_NAME_MAX))) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host or VM name");
		return;
	}
	if (in->host) {
		pthread_rwlock_rdlock(&s->hosts.lock);
		known = server_hosts_find(&s->hosts, in->host) != NULL;
		pthread_rwlock_unlock(&s->hosts.lock);
	}
	if (!known) {
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->host);
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	j->closure = closure;
	j->data = data;
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

static void admin_rpc_enroll_create(Aioctl__V1__Admin_Service *svc,
                                    const Aioctl__V1__EnrollCreateRequest *in,
                                    Aioctl__V1__EnrollCreateReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__EnrollCreateReply rep = AIOCTL__V1__ENROLL_CREATE_REPLY__INIT;
	char token[80], msg[256], who[160];
	uint64_t expires = 0;
	int st;

	caller(data, who, sizeof(who));
	st = server_creds_enroll_create(s, in->host, in->has_expires_ms ? in->expires_ms : 0, token,
	                                sizeof(token), &expires, msg, sizeof(msg));
	if (st != AIO_OK) {
		AIO_RPC_REFUSE(data, closure, st, "%s", msg);
		return;
	}
	server_audit(s, who, "enroll.create", in->host ? in->host : "(any host)", "created");
	rep.token = token;
	rep.has_expires_ms = true;
	rep.expires_ms = expires;
	closure(&rep, data);
}

static void admin_rpc_token_create(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__TokenCreateRequest *in,
                                   Aioctl__V1__TokenCreateReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__TokenCreateReply rep = AIOCTL__V1__TOKEN_CREATE_REPLY__INIT;
	char token[80], msg[256], who[160];
	int st;

	caller(data, who, sizeof(who));
	st = server_creds_token_create(s, in->name, in->role, token, sizeof(token), msg,
	                               sizeof(msg));
	if (st != AIO_OK) {
		AIO_RPC_REFUSE(data, closure, st, "%s", msg);
		return;
	}
	server_audit(s, who, "token.create", in->name, in->role);
	rep.token = token;
	closure(&rep, data);
}

static void admin_rpc_token_list(Aioctl__V1__Admin_Service *svc,
                                 const Aioctl__V1__TokenListRequest *in,
                                 Aioctl__V1__TokenListReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__TokenListReply rep = AIOCTL__V1__TOKEN_LIST_REPLY__INIT;
	Aioctl__V1__TokenInfo *v;
	Aioctl__V1__TokenInfo **pv;
	size_t n = 0;

	pthread_mutex_lock(&s->creds.lock);
	v = calloc(s->creds.n_tokens + 1, sizeof(*v));
	pv = calloc(s->creds.n_tokens + 1, sizeof(*pv));
	for (struct server_token *t = s->creds.tokens; v && pv && t; t = t->next) {
		aioctl__v1__token_info__init(&v[n]);
		v[n].name = t->name;
		v[n].role = (char *)server_role_name(t->role);
		v[n].has_created_ms = true;
		v[n].created_ms = t->created_ms;
		v[n].has_revoked_ms = t->revoked_ms != 0;
		v[n].revoked_ms = t->revoked_ms;
		pv[n] = &v[n];
		n++;
	}
	rep.tokens = pv;
	rep.n_tokens = n;
	closure(&rep, data);
	pthread_mutex_unlock(&s->creds.lock);
	free(v);
	free(pv);
}

static void admin_rpc_token_revoke(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__NameRequest *in,
                                   Aioctl__V1__Empty_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__Empty rep = AIOCTL__V1__EMPTY__INIT;
	char msg[256], who[160];
	int st;

	caller(data, who, sizeof(who));
	if ((st = server_creds_token_revoke(s, in->name, msg, sizeof(msg))) != AIO_OK) {
		AIO_RPC_REFUSE(data, closure, st, "%s", msg);
		return;
	}
	server_audit(s, who, "token.revoke", in->name, "revoked");
	closure(&rep, data);
}

static void admin_rpc_host_revoke(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__NameRequest *in,
                                  Aioctl__V1__Empty_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__Empty rep = AIOCTL__V1__EMPTY__INIT;
	uint64_t now = aio_now_ms();
	struct server_host *h;
	char who[160];

	caller(data, who, sizeof(who));
	if (!aio_host_name_valid(in->name)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host name");
		return;
	}
	pthread_rwlock_wrlock(&s->hosts.lock);
	if ((h = server_hosts_find(&s->hosts, in->name)))
		h->revoked_ms = now;
	pthread_rwlock_unlock(&s->hosts.lock);
	if (!h) {
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->name);
		return;
	}
	server_db_exec(s->db, NULL, NULL, "UPDATE hosts SET revoked_ms = ? WHERE name = ?", "it",
	               (int64_t)now, in->name);
	server_audit(s, who, "host.revoke", in->name, "revoked");
	log_info("host %s revoked by %s", in->name, who);
	closure(&rep, data);
}

static void admin_rpc_set_limit(Aioctl__V1__Admin_Service *svc,
                                const Aioctl__V1__SetLimitRequest *in,
                                Aioctl__V1__Rollout_Closure closure, void *data)
{
	char who[160];

	caller(data, who, sizeof(who));
	server_engine_set_limit(aio_rpc_call_arg(data), in, who, closure, data);
}

static void admin_rpc_reconcile(Aioctl__V1__Admin_Service *svc,
                                const Aioctl__V1__ReconcileRequest *in,
                                Aioctl__V1__Rollout_Closure closure, void *data)
{
	Aioctl__V1__SetLimitRequest req = AIOCTL__V1__SET_LIMIT_REQUEST__INIT;
	Aioctl__V1__Selector sel = AIOCTL__V1__SELECTOR__INIT;
	char who[160];

	caller(data, who, sizeof(who));
	req.has_reconcile = true;
	req.reconcile = true;
	req.has_force = true;
	req.force = true; /* back to a value the host had: usage was checked then */
	req.has_dry_run = in->has_dry_run;
	req.dry_run = in->dry_run;
	req.has_supersede = in->has_supersede;
	req.supersede = in->supersede;
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
	server_engine_set_limit(aio_rpc_call_arg(data), &req, who, closure, data);
}

static void rollout_op(const Aioctl__V1__RolloutRequest *in, const char *action,
                       Aioctl__V1__Rollout_Closure closure, void *data)
{
	char who[160];

	caller(data, who, sizeof(who));
	server_engine_rollout_op(aio_rpc_call_arg(data), in->id, action, who, closure, data);
}

static void admin_rpc_rollout_get(Aioctl__V1__Admin_Service *svc,
                                  const Aioctl__V1__RolloutRequest *in,
                                  Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, NULL, closure, data);
}

static void admin_rpc_rollout_pause(Aioctl__V1__Admin_Service *svc,
                                    const Aioctl__V1__RolloutRequest *in,
                                    Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, "pause", closure, data);
}

static void admin_rpc_rollout_resume(Aioctl__V1__Admin_Service *svc,
                                     const Aioctl__V1__RolloutRequest *in,
                                     Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, "resume", closure, data);
}

static void admin_rpc_rollout_abort(Aioctl__V1__Admin_Service *svc,
                                    const Aioctl__V1__RolloutRequest *in,
                                    Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, "abort", closure, data);
}

static void admin_rpc_rollout_rollback(Aioctl__V1__Admin_Service *svc,
                                       const Aioctl__V1__RolloutRequest *in,
                                       Aioctl__V1__Rollout_Closure closure, void *data)
{
	rollout_op(in, "rollback", closure, data);
}

static void admin_rpc_rollout_list(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__RolloutListRequest *in,
                                   Aioctl__V1__RolloutListReply_Closure closure, void *data)
{
	server_engine_rollout_list(aio_rpc_call_arg(data), in->has_limit ? in->limit : 0, closure,
	                           data);
}

#define HISTORY_POINTS_MAX  2000
#define HISTORY_STEP_MIN_MS 1000

struct history_job {
	int64_t host_id;
	uint64_t since_ms, until_ms, step_ms;
	enum server_tier tier;
	char vm[AIO_VM_NAME_MAX + 1]; /* "" for the host's own series */
	Aioctl__V1__HistoryReply_Closure closure;
	void *data;
};

/* On the query thread: a VM's usage as stored, on change: the row in
 * force at since, then each change up to until. */
static void vm_history_query(sqlite3 *conn, struct history_job *j)
{
	Aioctl__V1__HistoryReply rep = AIOCTL__V1__HISTORY_REPLY__INIT;
	Aioctl__V1__VmUsagePoint *v = calloc(HISTORY_POINTS_MAX + 1, sizeof(*v));
	Aioctl__V1__VmUsagePoint **pv = calloc(HISTORY_POINTS_MAX + 1, sizeof(*pv));
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	if (!v || !pv ||
	    sqlite3_prepare_v2(conn,
	                       "SELECT time_ms, contexts, events FROM vm_usage"
	                       " WHERE host_id = ?1 AND name = ?2 AND time_ms >= coalesce((SELECT"
	                       " max(time_ms) FROM vm_usage WHERE host_id = ?1 AND name = ?2"
	                       " AND time_ms < ?3), ?3) AND time_ms < ?4 ORDER BY time_ms LIMIT ?5",
	                       -1, &st, NULL) != SQLITE_OK) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read VM usage: %s",
		               sqlite3_errmsg(conn));
		goto out_free;
	}
	sqlite3_bind_int64(st, 1, j->host_id);
	sqlite3_bind_text(st, 2, j->vm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)j->since_ms);
	sqlite3_bind_int64(st, 4, (int64_t)j->until_ms);
	sqlite3_bind_int(st, 5, HISTORY_POINTS_MAX);
	while (n < HISTORY_POINTS_MAX && sqlite3_step(st) == SQLITE_ROW) {
		aioctl__v1__vm_usage_point__init(&v[n]);
		v[n].time_ms = (uint64_t)sqlite3_column_int64(st, 0);
		v[n].contexts = (uint32_t)sqlite3_column_int64(st, 1);
		v[n].has_events = sqlite3_column_type(st, 2) != SQLITE_NULL;
		v[n].events = (uint64_t)sqlite3_column_int64(st, 2);
		pv[n] = &v[n];
		n++;
	}
	rep.vm = pv;
	rep.n_vm = n;
	j->closure(&rep, j->data);
out_free:
	sqlite3_finalize(st);
	free(v);
	free(pv);
}

/* On the query thread: one row per step, from the tier chosen. */
static void history_query(sqlite3 *conn, void *arg)
{
	struct history_job *j = arg;
	Aioctl__V1__HistoryReply rep = AIOCTL__V1__HISTORY_REPLY__INIT;
	struct server_history_point *pt = calloc(HISTORY_POINTS_MAX + 1, sizeof(*pt));
	Aioctl__V1__Sample *v = calloc(HISTORY_POINTS_MAX + 1, sizeof(*v));
	Aioctl__V1__Sample **pv = calloc(HISTORY_POINTS_MAX + 1, sizeof(*pv));
	size_t n = 0;
	int r;

	if (j->vm[0]) {
		vm_history_query(conn, j);
		goto out_free;
	}
	if (!pt || !v || !pv) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_free;
	}
	r = server_history_read(conn, j->host_id, j->tier, j->since_ms, j->until_ms, j->step_ms, pt,
	                        HISTORY_POINTS_MAX, &n);
	if (r < 0) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read history: %s",
		               sqlite3_errmsg(conn));
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

static void admin_rpc_history(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__HistoryRequest *in,
                              Aioctl__V1__HistoryReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	uint64_t now = aio_now_ms(), span;
	struct history_job *j;
	struct server_host *h;
	int64_t id = 0;

	if (!aio_host_name_valid(in->host)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "not a host name");
		return;
	}
	if (in->vm && !aio_text_valid(in->vm, AIO_VM_NAME_MAX)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "--vm: not a VM name");
		return;
	}
	pthread_rwlock_rdlock(&s->hosts.lock);
	if ((h = server_hosts_find(&s->hosts, in->host)))
		id = h->id;
	pthread_rwlock_unlock(&s->hosts.lock);
	if (!id) {
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no host named %s", in->host);
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	j->host_id = id;
	if (in->vm)
		snprintf(j->vm, sizeof(j->vm), "%s", in->vm);
	j->until_ms = in->has_until_ms && in->until_ms ? in->until_ms : now + 1;
	j->since_ms = in->has_since_ms ? in->since_ms : j->until_ms - 24ULL * 3600 * 1000;
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
	server_trend(aio_rpc_call_arg(data), in, closure, data);
}

static void admin_rpc_rollout_report(Aioctl__V1__Admin_Service *svc,
                                     const Aioctl__V1__RolloutReportRequest *in,
                                     Aioctl__V1__RolloutReportReply_Closure closure, void *data)
{
	server_rollout_report(aio_rpc_call_arg(data), in, closure, data);
}

static void admin_rpc_drift(Aioctl__V1__Admin_Service *svc, const Aioctl__V1__DriftRequest *in,
                            Aioctl__V1__DriftReply_Closure closure, void *data)
{
	server_engine_drift(aio_rpc_call_arg(data), closure, data);
}

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX     1000

struct audit_job {
	uint64_t since_ms;
	uint32_t limit;
	Aioctl__V1__AuditReply_Closure closure;
	void *data;
};

static void audit_query(sqlite3 *conn, void *arg)
{
	struct audit_job *j = arg;
	Aioctl__V1__AuditReply rep = AIOCTL__V1__AUDIT_REPLY__INIT;
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	rep.entries = calloc(j->limit, sizeof(*rep.entries));
	if (!rep.entries ||
	    sqlite3_prepare_v2(conn,
	                       "SELECT time_ms, who, action, target, result FROM audit"
	                       " WHERE time_ms >= ?1 ORDER BY id DESC LIMIT ?2",
	                       -1, &st, NULL) != SQLITE_OK) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read the audit log: %s",
		               sqlite3_errmsg(conn));
		goto out_free;
	}
	sqlite3_bind_int64(st, 1, (int64_t)j->since_ms);
	sqlite3_bind_int64(st, 2, (int64_t)j->limit + 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		Aioctl__V1__AuditEntry *a;

		if (n == j->limit) {
			rep.has_truncated = true;
			rep.truncated = true;
			break;
		}
		if (!(a = calloc(1, sizeof(*a))))
			break;
		aioctl__v1__audit_entry__init(a);
		a->time_ms = (uint64_t)sqlite3_column_int64(st, 0);
		a->who = col_text(st, 1);
		a->action = col_text(st, 2);
		a->target = col_text(st, 3);
		a->result = col_text(st, 4);
		rep.entries[n++] = a;
	}
	rep.n_entries = n;
	j->closure(&rep, j->data);
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&rep.entries[i]->base, NULL);
out_free:
	free(rep.entries);
	sqlite3_finalize(st);
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
	server_alerts_answer(aio_rpc_call_arg(data), in, closure, data);
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
	.alerts = admin_rpc_alerts,
};
