#include "rpc_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define POOL_DEFAULT  16
/* idle contexts kept after a burst of held calls */
#define IDLE_MAX(srv) ((srv)->pool * 8 > 1024 ? (srv)->pool * 8 : 1024)

struct aio_rpc_server {
	nng_socket sock;
	nng_listener listener;
	ProtobufCService *service;
	aio_rpc_auth_fn authorize;
	void *arg;
	unsigned pool;
	struct aio_pipes *pipes; /* the connections: a cap, an idle timeout */

	pthread_mutex_t lock;
	pthread_cond_t drained;
	unsigned n_waiting; /* contexts in recv */
	unsigned n_live;    /* contexts allocated */
	bool closing;
};

enum call_state { CALL_RECV, CALL_SEND };

/* What unpacking an envelope may allocate. It is read before
 * the caller is known, and protobuf-c keeps every unknown field: 1 MiB of
 * them cost 20 MiB, and 64 such peers took a server to 1 GiB. A real
 * envelope needs its size once (the payload's copy) and a little more.
 * The blocks are malloc's own, so what was unpacked is freed as usual. */
struct budget {
	ProtobufCAllocator a;
	size_t left;
};

#define BUDGET_SLACK   (64 * 1024)
#define CHUNK_OVERHEAD 32 /* what malloc spends besides: counted too */

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;

	if (size + CHUNK_OVERHEAD > b->left)
		return NULL;
	b->left -= size + CHUNK_OVERHEAD;
	return malloc(size);
}

static void budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

/* protobuf-c's unpack of len bytes within a budget of their size. */
static ProtobufCMessage *unpack_bounded(const ProtobufCMessageDescriptor *d, size_t len,
                                        const uint8_t *data)
{
	struct budget b = { { budget_alloc, budget_free, NULL }, len + BUDGET_SLACK };

	b.a.allocator_data = &b;
	return protobuf_c_message_unpack(d, &b.a, len, data);
}

struct aio_rpc_call {
	struct aio_rpc_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	enum call_state state;

	/* the request being served; guarded by srv->lock where noted */
	Aioctl__V1__Request *req;
	uint64_t request_id;
	int status;
	char message[AIO_RPC_STATUS_MESSAGE_MAX];
	bool in_handler;         /* lock */
	bool answered;           /* lock */
	nng_msg *stash;          /* lock: reply given while in_handler */
	ProtobufCMessage *input; /* while in the handler; NULL once taken */
	nng_pipe pipe;           /* the connection the request came on */
	void *user;              /* set by authorize */

	/* a call made in the process (aio_rpc_server_call_local) */
	aio_rpc_local_done done; /* NULL: a call from the socket */
	void *done_arg;
	char peer[64];
};

static const Aioctl__V1__Credentials no_creds = AIOCTL__V1__CREDENTIALS__INIT;

static void call_cb(void *arg);

/* The call's memory, and its place among the live ones: the server is
 * freed once none is left. */
static void call_free(struct aio_rpc_call *call)
{
	struct aio_rpc_server *srv = call->srv;

	if (call->req)
		aioctl__v1__request__free_unpacked(call->req, NULL);
	free(call);
	pthread_mutex_lock(&srv->lock);
	if (--srv->n_live == 0)
		pthread_cond_broadcast(&srv->drained);
	pthread_mutex_unlock(&srv->lock);
}

static void call_retire(struct aio_rpc_call *call)
{
	nng_ctx_close(call->ctx);
	nng_aio_reap(call->aio);
	call_free(call);
}

/* Starts contexts until the pool has its target of waiting ones. */
static void pool_fill(struct aio_rpc_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	while (!srv->closing && srv->n_waiting < srv->pool) {
		struct aio_rpc_call *call = calloc(1, sizeof(*call));

		if (!call)
			break;
		call->srv = srv;
		if (nng_aio_alloc(&call->aio, call_cb, call) != 0) {
			free(call);
			break;
		}
		if (nng_ctx_open(&call->ctx, srv->sock) != 0) {
			nng_aio_free(call->aio);
			free(call);
			break;
		}
		call->state = CALL_RECV;
		srv->n_waiting++;
		srv->n_live++;
		pthread_mutex_unlock(&srv->lock);
		nng_ctx_recv(call->ctx, call->aio);
		pthread_mutex_lock(&srv->lock);
	}
	pthread_mutex_unlock(&srv->lock);
}

/* After a reply went out: wait for the next request, or leave the pool if
 * it is already full (it grew while calls were held). */
static void call_recycle(struct aio_rpc_call *call)
{
	struct aio_rpc_server *srv = call->srv;
	bool retire;

	if (call->req) {
		aioctl__v1__request__free_unpacked(call->req, NULL);
		call->req = NULL;
	}
	call->request_id = 0;
	call->user = NULL;
	call->status = AIO_INTERNAL;
	call->message[0] = '\0';
	call->answered = false;

	pthread_mutex_lock(&srv->lock);
	/* contexts are kept for reuse up to a bound: making and reaping one
	 * per held call costs more than the call */
	retire = srv->closing || srv->n_waiting >= IDLE_MAX(srv);
	if (!retire)
		srv->n_waiting++;
	pthread_mutex_unlock(&srv->lock);
	if (retire) {
		call_retire(call);
		return;
	}
	call->state = CALL_RECV;
	nng_ctx_recv(call->ctx, call->aio);
}

static nng_msg *build_reply(struct aio_rpc_call *call, int status, const char *message,
                            const ProtobufCMessage *out)
{
	Aioctl__V1__Reply rep = AIOCTL__V1__REPLY__INIT;
	nng_msg *msg = NULL;

	rep.request_id = call->request_id;
	rep.status = (Aioctl__V1__StatusCode)status;
	rep.message = (char *)(message && *message ? message : NULL);
	if (out) {
		if (aio_rpc_pack_payload(out, &rep.payload) < 0) {
			rep.status = AIOCTL__V1__STATUS_CODE__RESOURCE_EXHAUSTED;
			rep.message = "server out of memory";
		} else {
			rep.has_payload = true;
		}
	}
	if (aio_rpc_pack(&rep.base, &msg) < 0)
		msg = NULL;
	free(rep.payload.data);
	return msg;
}

static void local_answer(struct aio_rpc_call *call, nng_msg *msg);

static void call_send(struct aio_rpc_call *call, nng_msg *msg)
{
	if (call->done) {
		local_answer(call, msg);
		return;
	}
	aio_pipes_call_end(call->srv->pipes, call->pipe);
	if (!msg) {
		/* nothing can be sent: out of memory. Drop the request. */
		call_recycle(call);
		return;
	}
	call->state = CALL_SEND;
	nng_aio_set_msg(call->aio, msg);
	nng_ctx_send(call->ctx, call->aio);
}

/* The closure every handler gets. */
static void call_closure(const ProtobufCMessage *out, void *data)
{
	struct aio_rpc_call *call = data;
	struct aio_rpc_server *srv = call->srv;
	nng_msg *msg;

	msg = out ? build_reply(call, AIO_OK, NULL, out)
	          : build_reply(call, call->status, call->message, NULL);
	pthread_mutex_lock(&srv->lock);
	if (call->answered) {
		pthread_mutex_unlock(&srv->lock);
		log_err("rpc: %s answered twice (bug)", aio_rpc_call_method(call));
		nng_msg_free(msg);
		return;
	}
	call->answered = true;
	if (call->in_handler) {
		call->stash = msg;
		pthread_mutex_unlock(&srv->lock);
		return;
	}
	pthread_mutex_unlock(&srv->lock);
	call_send(call, msg);
}

static void reply_now(struct aio_rpc_call *call, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void reply_now(struct aio_rpc_call *call, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call->message, sizeof(call->message), fmt, ap);
	va_end(ap);
	log_debug("rpc: %s: %s", aio_status_name(status), call->message);
	call_send(call, build_reply(call, status, call->message, NULL));
}

static bool creds_ok(const Aioctl__V1__Credentials *c)
{
	const char *fields[] = { c->admin_token, c->host_id, c->host_secret };

	for (size_t i = 0; i < 3; i++)
		if (fields[i] && strnlen(fields[i], AIO_RPC_CRED_MAX + 1) > AIO_RPC_CRED_MAX)
			return false;
	return true;
}

/* Finds "aioctl.v1.Agent/Report" in the service, or NULL. */
static const ProtobufCMethodDescriptor *find_method(const ProtobufCServiceDescriptor *svc,
                                                    const char *full)
{
	size_t n = strlen(svc->name);

	if (strncmp(full, svc->name, n) != 0 || full[n] != '/')
		return NULL;
	return protobuf_c_service_descriptor_get_method_by_name(svc, full + n + 1);
}

static void serve(struct aio_rpc_call *call);

static void dispatch(struct aio_rpc_call *call, nng_msg *msg)
{
	struct aio_rpc_server *srv = call->srv;

	call->req = (Aioctl__V1__Request *)unpack_bounded(&aioctl__v1__request__descriptor,
	                                                  nng_msg_len(msg), nng_msg_body(msg));
	call->pipe = nng_msg_get_pipe(msg);
	aio_pipes_call_begin(srv->pipes, call->pipe);
	nng_msg_free(msg);
	serve(call);
}

/* The envelope unpacked (call->req, NULL if it was not one): checks it,
 * authorizes, runs the handler. */
static void serve(struct aio_rpc_call *call)
{
	struct aio_rpc_server *srv = call->srv;
	const ProtobufCServiceDescriptor *svc = srv->service->descriptor;
	const ProtobufCMethodDescriptor *m;
	ProtobufCMessage *in;
	unsigned idx;
	nng_msg *stash;
	bool local;
	int status;

	if (!call->req) {
		reply_now(call, AIO_INVALID_ARGUMENT,
		          "request is not an aioctl.v1.Request envelope, or holds more than it "
		          "needs (unknown fields)");
		return;
	}
	call->request_id = call->req->request_id;
	if (strnlen(call->req->method, AIO_RPC_METHOD_MAX + 1) > AIO_RPC_METHOD_MAX) {
		reply_now(call, AIO_INVALID_ARGUMENT, "method name longer than %d bytes",
		          AIO_RPC_METHOD_MAX);
		return;
	}
	m = find_method(svc, call->req->method);
	idx = m ? (unsigned)(m - svc->methods) : 0;
	/* a NULL slot in the generated service struct: declared, not served */
	if (!m || !((void (**)(void))(srv->service + 1))[idx]) {
		reply_now(call, AIO_UNIMPLEMENTED, "method %s is not served here (service %s)",
		          call->req->method, svc->name);
		return;
	}
	if (call->req->has_deadline_ms && call->req->deadline_ms &&
	    call->req->deadline_ms < aio_now_ms()) {
		reply_now(call, AIO_DEADLINE_EXCEEDED, "deadline passed before the call ran");
		return;
	}
	if (call->req->credentials && !creds_ok(call->req->credentials)) {
		reply_now(call, AIO_INVALID_ARGUMENT, "a credential is longer than %d bytes",
		          AIO_RPC_CRED_MAX);
		return;
	}
	if (srv->authorize && (status = srv->authorize(call, srv->arg)) != AIO_OK) {
		if (!call->message[0])
			snprintf(call->message, sizeof(call->message), "not allowed");
		call_send(call, build_reply(call, status, call->message, NULL));
		return;
	}
	/* after authorize: a known caller's payload may be many small
	 * messages, several times its packed size in memory */
	in = protobuf_c_message_unpack(m->input, NULL, call->req->payload.len,
	                               call->req->payload.data);
	if (!in) {
		reply_now(call, AIO_INVALID_ARGUMENT, "payload is not a valid %s", m->input->name);
		return;
	}

	pthread_mutex_lock(&srv->lock);
	call->in_handler = true;
	pthread_mutex_unlock(&srv->lock);

	call->status = AIO_INTERNAL;
	call->input = in;
	srv->service->invoke(srv->service, idx, in, call_closure, call);
	if (call->input)
		protobuf_c_message_free_unpacked(call->input, NULL);
	call->input = NULL;

	pthread_mutex_lock(&srv->lock);
	local = call->done != NULL; /* once unlocked, a held call may be gone */
	call->in_handler = false;
	stash = call->stash;
	call->stash = NULL;
	pthread_mutex_unlock(&srv->lock);
	if (stash)
		call_send(call, stash);
	else if (!local)
		pool_fill(srv); /* held: keep the pool at strength */
}

/* A local call's answer: the reply envelope unpacked for its owner, then
 * the call is gone. */
static void local_answer(struct aio_rpc_call *call, nng_msg *msg)
{
	Aioctl__V1__Reply *rep = NULL;

	if (msg)
		rep = aioctl__v1__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	if (rep)
		call->done(call->done_arg, (int)rep->status, rep->message,
		           rep->has_payload ? &rep->payload : NULL);
	else
		call->done(call->done_arg, AIO_RESOURCE_EXHAUSTED, "server out of memory", NULL);
	if (rep)
		aioctl__v1__reply__free_unpacked(rep, NULL);
	nng_msg_free(msg);
	call_free(call);
}

int aio_rpc_server_call_local(struct aio_rpc_server *srv, const char *method, const char *token,
                              const char *peer, uint64_t deadline_ms, const ProtobufCMessage *in,
                              aio_rpc_local_done done, void *arg)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Credentials creds = AIOCTL__V1__CREDENTIALS__INIT;
	struct aio_rpc_call *call;
	char full[AIO_RPC_METHOD_MAX + 1];
	nng_msg *msg = NULL;

	snprintf(full, sizeof(full), "%s/%s", srv->service->descriptor->name, method);
	req.method = full;
	creds.admin_token = (char *)token;
	req.credentials = &creds;
	req.has_deadline_ms = deadline_ms != 0;
	req.deadline_ms = deadline_ms;
	if (aio_rpc_pack_payload(in, &req.payload) < 0)
		return -ENOMEM;
	req.has_payload = true;
	if (!(call = calloc(1, sizeof(*call))) || aio_rpc_pack(&req.base, &msg) < 0) {
		free(req.payload.data);
		free(call);
		return -ENOMEM;
	}
	free(req.payload.data);
	call->srv = srv;
	call->done = done;
	call->done_arg = arg;
	snprintf(call->peer, sizeof(call->peer), "%s", peer ? peer : "?");
	pthread_mutex_lock(&srv->lock);
	if (srv->closing) {
		pthread_mutex_unlock(&srv->lock);
		nng_msg_free(msg);
		free(call);
		return -ESHUTDOWN;
	}
	srv->n_live++;
	pthread_mutex_unlock(&srv->lock);
	call->req = (Aioctl__V1__Request *)unpack_bounded(&aioctl__v1__request__descriptor,
	                                                  nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	serve(call);
	return 0;
}

static void call_cb(void *arg)
{
	struct aio_rpc_call *call = arg;
	struct aio_rpc_server *srv = call->srv;
	int rv = nng_aio_result(call->aio);

	if (call->state == CALL_RECV) {
		pthread_mutex_lock(&srv->lock);
		srv->n_waiting--;
		pthread_mutex_unlock(&srv->lock);
		if (rv != 0) {
			if (rv != NNG_ECLOSED)
				log_debug("rpc: receive: %s", nng_strerror(rv));
			if (rv == NNG_ECLOSED) {
				call_retire(call);
				return;
			}
			call_recycle(call);
			return;
		}
		dispatch(call, nng_aio_get_msg(call->aio));
		return;
	}
	if (rv != 0) {
		log_debug("rpc: send: %s", nng_strerror(rv));
		nng_msg_free(nng_aio_get_msg(call->aio));
	}
	call_recycle(call);
}

int aio_rpc_server_start(const struct aio_rpc_server_opts *opts, struct aio_rpc_server **ret_srv,
                         char *err, size_t errlen)
{
	struct aio_rpc_server *srv;
	nng_tls_config *tls = NULL;
	int rv, r = -EINVAL;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->drained, NULL);
	srv->service = opts->service;
	srv->authorize = opts->authorize;
	srv->arg = opts->arg;
	srv->pool = opts->pool ? opts->pool : POOL_DEFAULT;

	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		snprintf(err, errlen, "cannot open socket: %s", nng_strerror(rv));
		goto out_free;
	}
	nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ,
	                    opts->recv_max ? opts->recv_max : AIO_RPC_RECV_MAX_DEFAULT);
	if ((r = aio_pipes_start(srv->sock, opts->name ? opts->name : opts->url,
	                         opts->max_connections, opts->idle_ms, &srv->pipes)) < 0) {
		snprintf(err, errlen, "%s: cannot watch its connections: %s", opts->url,
		         strerror(-r));
		goto out_close;
	}
	if ((rv = nng_listener_create(&srv->listener, srv->sock, opts->url)) != 0) {
		snprintf(err, errlen, "%s: %s", opts->url, nng_strerror(rv));
		r = aio_rpc_errno(rv);
		goto out_close;
	}
	if (strncmp(opts->url, "tls+", 4) == 0) {
		r = aio_tls_config_new(&opts->tls, true, &tls, err, errlen);
		if (r < 0)
			goto out_close;
		rv = nng_listener_set_ptr(srv->listener, NNG_OPT_TLS_CONFIG, tls);
		nng_tls_config_free(tls); /* the listener holds its own reference */
		if (rv != 0) {
			snprintf(err, errlen, "%s: TLS: %s", opts->url, nng_strerror(rv));
			goto out_close;
		}
	}
	if ((rv = nng_listener_start(srv->listener, 0)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", opts->url, nng_strerror(rv));
		r = aio_rpc_errno(rv);
		goto out_close;
	}
	pool_fill(srv);
	*ret_srv = srv;
	return 0;

out_close:
	nng_close(srv->sock);
	aio_pipes_free(srv->pipes);
out_free:
	pthread_cond_destroy(&srv->drained);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return r;
}

int aio_rpc_server_port(struct aio_rpc_server *srv)
{
	nng_sockaddr sa;

	if (nng_listener_get_addr(srv->listener, NNG_OPT_LOCADDR, &sa) != 0)
		return -1;
	if (sa.s_family == NNG_AF_INET)
		return ntohs(sa.s_in.sa_port);
	if (sa.s_family == NNG_AF_INET6)
		return ntohs(sa.s_in6.sa_port);
	return -1;
}

void aio_rpc_server_close(struct aio_rpc_server *srv)
{
	bool was;

	if (!srv)
		return;
	pthread_mutex_lock(&srv->lock);
	was = srv->closing;
	srv->closing = true;
	pthread_mutex_unlock(&srv->lock);
	if (!was)
		nng_close(srv->sock);
}

void aio_rpc_server_free(struct aio_rpc_server *srv)
{
	if (!srv)
		return;
	aio_rpc_server_close(srv);
	pthread_mutex_lock(&srv->lock);
	while (srv->n_live > 0)
		pthread_cond_wait(&srv->drained, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	aio_pipes_free(srv->pipes);
	pthread_cond_destroy(&srv->drained);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

struct aio_pipes *aio_rpc_server_pipes(struct aio_rpc_server *srv)
{
	return srv->pipes;
}

void *aio_rpc_call_arg(struct aio_rpc_call *call)
{
	return call->srv->arg;
}

const Aioctl__V1__Credentials *aio_rpc_call_creds(struct aio_rpc_call *call)
{
	return call->req && call->req->credentials ? call->req->credentials : &no_creds;
}

const char *aio_rpc_call_method(struct aio_rpc_call *call)
{
	return call->req ? call->req->method : "?";
}

uint64_t aio_rpc_call_deadline(struct aio_rpc_call *call)
{
	return call->req && call->req->has_deadline_ms ? call->req->deadline_ms : 0;
}

void aio_rpc_call_set_user(struct aio_rpc_call *call, void *user)
{
	call->user = user;
}

void *aio_rpc_call_user(struct aio_rpc_call *call)
{
	return call->user;
}

void aio_rpc_call_peer(struct aio_rpc_call *call, char *buf, size_t len)
{
	nng_sockaddr sa;
	char ip[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s", call->done ? call->peer : "?");
	if (call->done || nng_pipe_get_addr(call->pipe, NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s", ip);
	else if (sa.s_family == NNG_AF_INET6 &&
	         inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s", ip);
}

ProtobufCMessage *aio_rpc_call_take_input(struct aio_rpc_call *call)
{
	ProtobufCMessage *in = call->input;

	call->input = NULL;
	return in;
}

void aio_rpc_call_fail(struct aio_rpc_call *call, int status, const char *fmt, ...)
{
	va_list ap;

	call->status = status;
	va_start(ap, fmt);
	vsnprintf(call->message, sizeof(call->message), fmt, ap);
	va_end(ap);
}
