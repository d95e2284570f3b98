#include "rpc_client.h"

#include <errno.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "duration.h"

struct aio_rpc_client {
	nng_socket sock;
	nng_dialer dialer;
	char *url;               /* the first one, owned */
	const char *_Atomic at;  /* the one dialed: url, or one the caller keeps */
	struct aio_tls_opts tls; /* the caller's strings, for a redial */
	uint64_t reconnect_min_ms, reconnect_max_ms;
	char *admin_token;
	char *host_id;
	char *host_secret; /* lock */
	pthread_mutex_t lock;
	atomic_uint_fast64_t next_id;
};

static void set_status(struct aio_rpc_status *st, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void set_status(struct aio_rpc_status *st, int code, const char *fmt, ...)
{
	va_list ap;

	if (!st)
		return;
	st->code = code;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A connection attempt that may wait no longer than its deadline: nng's
 * blocking dial has no timeout of its own (a silent peer holds the SP or
 * TLS handshake for many seconds), so it runs on a thread and closing the
 * socket at the deadline aborts it. */
struct dial {
	nng_dialer dialer;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rv;
};

static void *dial_thread(void *arg)
{
	struct dial *d = arg;
	int rv = nng_dialer_start(d->dialer, 0);

	pthread_mutex_lock(&d->lock);
	d->rv = rv;
	d->done = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* nng_dialer_start, bounded by timeout_ms (0: nng's own time): NNG_ETIMEDOUT
 * when it passed, the socket then closed. */
static int dial_within(nng_socket sock, nng_dialer dialer, uint64_t timeout_ms)
{
	struct dial d = { .dialer = dialer };
	struct timespec ts;
	pthread_t t;
	int rv;

	if (!timeout_ms)
		return nng_dialer_start(dialer, 0);
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.cond, NULL);
	if (pthread_create(&t, NULL, dial_thread, &d) != 0)
		return nng_dialer_start(dialer, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d.lock);
	while (!d.done && pthread_cond_timedwait(&d.cond, &d.lock, &ts) == 0)
		;
	rv = d.done ? d.rv : NNG_ETIMEDOUT;
	pthread_mutex_unlock(&d.lock);
	if (rv == NNG_ETIMEDOUT && !d.done)
		nng_close(sock); /* aborts the dial */
	pthread_join(t, NULL);
	pthread_cond_destroy(&d.cond);
	pthread_mutex_destroy(&d.lock);
	return rv;
}

/* A dialer on c's socket for url, with c's back-off and TLS. */
static int dialer_make(struct aio_rpc_client *c, const char *url, nng_dialer *ret, char *err,
                       size_t errlen)
{
	nng_dialer d;
	int rv, r;

	if ((rv = nng_dialer_create(&d, c->sock, url)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		return -EINVAL;
	}
	if (c->reconnect_min_ms)
		nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, (nng_duration)c->reconnect_min_ms);
	if (c->reconnect_max_ms)
		nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, (nng_duration)c->reconnect_max_ms);
	if (strncmp(url, "tls+", 4) == 0) {
		nng_tls_config *tls;

		if ((r = aio_tls_config_new(&c->tls, false, &tls, err, errlen)) < 0) {
			nng_dialer_close(d);
			return r;
		}
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls);
		nng_tls_config_free(tls);
		if (rv != 0) {
			snprintf(err, errlen, "%s: TLS: %s", url, nng_strerror(rv));
			nng_dialer_close(d);
			return -EINVAL;
		}
	}
	*ret = d;
	return 0;
}

int aio_rpc_client_redial(struct aio_rpc_client *c, const char *url, char *err, size_t errlen)
{
	nng_dialer d;
	int r, rv;

	if ((r = dialer_make(c, url, &d, err, errlen)) < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	nng_dialer_close(c->dialer);
	c->dialer = d;
	atomic_store(&c->at, url);
	pthread_mutex_unlock(&c->lock);
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errlen, "cannot reach %s: %s", url, nng_strerror(rv));
		return aio_rpc_errno(rv);
	}
	return 0;
}

int aio_rpc_client_open(const struct aio_rpc_client_opts *opts, struct aio_rpc_client **ret,
                        char *err, size_t errlen)
{
	struct aio_rpc_client *c;
	uint64_t seed = 0;
	int rv, r = -EINVAL;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->url = strdup(opts->url);
	c->admin_token = dup_or_null(opts->admin_token);
	c->host_id = dup_or_null(opts->host_id);
	c->host_secret = dup_or_null(opts->host_secret);
	pthread_mutex_init(&c->lock, NULL);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = aio_now_ms();
	atomic_init(&c->next_id, seed >> 1);

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "cannot open socket: %s", nng_strerror(rv));
		goto out_free;
	}
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	                    opts->recv_max ? opts->recv_max : AIO_RPC_RECV_MAX_DEFAULT);
	c->tls = opts->tls;
	c->reconnect_min_ms = opts->reconnect_min_ms;
	c->reconnect_max_ms = opts->reconnect_max_ms;
	atomic_init(&c->at, c->url);
	if ((r = dialer_make(c, opts->url, &c->dialer, err, errlen)) < 0)
		goto out_close;
	if (opts->wait_connect)
		rv = dial_within(c->sock, c->dialer, opts->connect_timeout_ms);
	else
		rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK);
	if (rv == NNG_ETIMEDOUT && opts->connect_timeout_ms) {
		char d[32];

		aio_duration_format(opts->connect_timeout_ms, d, sizeof(d));
		snprintf(err, errlen, "cannot reach %s: no answer within %s", opts->url, d);
		r = -ETIMEDOUT;
		goto out_free; /* the socket is closed */
	}
	if (rv != 0) {
		snprintf(err, errlen, "cannot reach %s: %s", opts->url, nng_strerror(rv));
		r = aio_rpc_errno(rv);
		goto out_close;
	}
	*ret = c;
	return 0;

out_close:
	nng_close(c->sock);
out_free:
	free(c->url);
	free(c->admin_token);
	free(c->host_id);
	free(c->host_secret);
	free(c);
	return r;
}

int aio_rpc_client_set_secret(struct aio_rpc_client *c, const char *secret)
{
	char *copy = strdup(secret);

	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	free(c->host_secret);
	c->host_secret = copy;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void aio_rpc_client_close(struct aio_rpc_client *c)
{
	if (c)
		nng_close(c->sock);
}

void aio_rpc_client_free(struct aio_rpc_client *c)
{
	if (!c)
		return;
	nng_close(c->sock);
	free(c->url);
	free(c->admin_token);
	free(c->host_id);
	free(c->host_secret);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *aio_rpc_client_url(const struct aio_rpc_client *c)
{
	return atomic_load(&c->at);
}

/* Sends msg and waits for the reply message on ctx; nng errors as-is. */
static int exchange(nng_ctx ctx, nng_msg *msg, uint64_t timeout_ms, nng_msg **ret_reply)
{
	uint64_t start = aio_mono_ms(), spent;
	nng_aio *aio;
	int rv;

	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(msg);
		return rv;
	}
	nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(aio));
		goto out_free;
	}
	spent = aio_mono_ms() - start;
	if (spent >= timeout_ms) {
		rv = NNG_ETIMEDOUT;
		goto out_free;
	}
	nng_aio_set_timeout(aio, (nng_duration)(timeout_ms - spent));
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) == 0)
		*ret_reply = nng_aio_get_msg(aio);
out_free:
	nng_aio_free(aio);
	return rv;
}

int aio_rpc_invoke(struct aio_rpc_client *c, const ProtobufCServiceDescriptor *svc,
                   const char *method, const ProtobufCMessage *in, uint64_t timeout_ms,
                   bool no_resend, ProtobufCMessage **ret_out, struct aio_rpc_status *ret_st)
{
	const ProtobufCMethodDescriptor *m =
	        protobuf_c_service_descriptor_get_method_by_name(svc, method);
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Credentials creds = AIOCTL__V1__CREDENTIALS__INIT;
	Aioctl__V1__Reply *rep = NULL;
	ProtobufCMessage *out;
	char full[AIO_RPC_METHOD_MAX + 1], wait[32];
	nng_msg *msg = NULL, *reply = NULL;
	nng_ctx ctx;
	int rv, code;

	if (!m) {
		set_status(ret_st, AIO_UNIMPLEMENTED, "no method %s in %s", method, svc->name);
		return AIO_UNIMPLEMENTED;
	}
	snprintf(full, sizeof(full), "%s/%s", svc->name, method);
	creds.admin_token = c->admin_token;
	creds.host_id = c->host_id;
	pthread_mutex_lock(&c->lock);
	creds.host_secret = dup_or_null(c->host_secret);
	pthread_mutex_unlock(&c->lock);
	req.method = full;
	req.request_id = atomic_fetch_add(&c->next_id, 1);
	req.has_deadline_ms = true;
	req.deadline_ms = aio_now_ms() + timeout_ms;
	req.credentials = &creds;
	req.has_payload = true;
	if (aio_rpc_pack_payload(in, &req.payload) < 0 || aio_rpc_pack(&req.base, &msg) < 0) {
		free(req.payload.data);
		free(creds.host_secret);
		set_status(ret_st, AIO_RESOURCE_EXHAUSTED, "out of memory");
		return AIO_RESOURCE_EXHAUSTED;
	}
	free(req.payload.data);
	free(creds.host_secret);

	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_msg_free(msg);
		set_status(ret_st, AIO_CANCELLED, "%s: %s", aio_rpc_client_url(c),
		           nng_strerror(rv));
		return AIO_CANCELLED;
	}
	if (no_resend)
		nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	rv = exchange(ctx, msg, timeout_ms, &reply);
	nng_ctx_close(ctx);
	if (rv != 0) {
		aio_duration_format(timeout_ms, wait, sizeof(wait));
		if (rv == NNG_ETIMEDOUT) {
			set_status(ret_st, AIO_DEADLINE_EXCEEDED, "no answer from %s within %s",
			           aio_rpc_client_url(c), wait);
			return AIO_DEADLINE_EXCEEDED;
		}
		code = rv == NNG_ECLOSED || rv == NNG_ECANCELED ? AIO_CANCELLED : AIO_UNAVAILABLE;
		set_status(ret_st, code, "%s: %s", aio_rpc_client_url(c), nng_strerror(rv));
		return code;
	}

	rep = aioctl__v1__reply__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
	nng_msg_free(reply);
	if (!rep) {
		set_status(ret_st, AIO_INTERNAL, "%s answered with something that is not a reply",
		           aio_rpc_client_url(c));
		return AIO_INTERNAL;
	}
	if (rep->request_id != req.request_id && rep->status == AIOCTL__V1__STATUS_CODE__OK) {
		set_status(ret_st, AIO_INTERNAL, "%s answered another request",
		           aio_rpc_client_url(c));
		code = AIO_INTERNAL;
		goto out_free_rep;
	}
	code = (int)rep->status;
	if (code != AIO_OK) {
		set_status(ret_st, code, "%s", rep->message ? rep->message : aio_status_name(code));
		goto out_free_rep;
	}
	out = protobuf_c_message_unpack(m->output, NULL, rep->payload.len, rep->payload.data);
	if (!out) {
		set_status(ret_st, AIO_INTERNAL, "%s sent a malformed %s", aio_rpc_client_url(c),
		           m->output->name);
		code = AIO_INTERNAL;
		goto out_free_rep;
	}
	set_status(ret_st, AIO_OK, "ok");
	*ret_out = out;

out_free_rep:
	aioctl__v1__reply__free_unpacked(rep, NULL);
	return code;
}
