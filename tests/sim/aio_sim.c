/* aio-sim: many simulated agents speaking the real agent protocol (Enroll,
 * Hello, Report, Watch, Ack) to a real aio-server, each on its own
 * connection, driven by nng's asynchronous I/O from one process.
 *
 *   aio-sim --server URL --admin URL --token-file FILE --hosts N [options]
 *
 * Each host enrolls (a token made over the admin RPC), says Hello, then
 * reports every --interval and holds a Watch, answering set-limit commands
 * (refusing --refuse-rate percent of them) and live samples. --flood sends
 * --reports reports per host back to back; --backfill (or --backfill-days)
 * sends that much history as fast as the server takes it, --batch N of
 * them per ReportBatch call (an agent catching up after an outage).
 * --sources N spreads the connections over N loopback source addresses
 * (127.0.0.1 to 127.0.0.N): one address has about 28,000 ephemeral ports
 * to one server. At the end one JSON line of figures goes to stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "conf.h"
#include "duration.h"
#include "fileio.h"
#include "names.h"
#include "rpc_client.h"

#define LATENCIES_MAX  (4 << 20)
#define SETUP_THREADS  16
#define GROWTH_PER_DAY 2048 /* --behaviour growth */

enum behaviour { STEADY, GROWTH, SPIKES, CHURN };

struct opts {
	const char *server, *admin, *token_file, *prefix;
	size_t hosts;
	uint64_t interval_ms, duration_ms;
	enum behaviour behaviour;
	double error_rate; /* events per host per hour */
	unsigned refuse_rate;
	bool flood;
	uint64_t reports;
	uint64_t backfill_ms; /* --backfill, --backfill-days */
	size_t batch;
	unsigned sources; /* --sources */
	const char *label;
};

struct host;

struct sim {
	struct opts o;
	struct host *hosts;
	struct aio_rpc_client *admin;
	uint64_t start_ms;
	uint64_t origin_ms; /* the first sample's time: start, or backfill-days before */
	atomic_bool stopping;
	atomic_uint_fast64_t reports_sent, reports_ok, reports_failed, requests, retries;
	atomic_uint_fast64_t watches, commands, acks, refused, live;
	atomic_uint_fast64_t hosts_ready, hosts_done;
	atomic_uint_fast64_t n_lat;
	uint32_t *lat_us;
};

enum rstate { R_WAIT, R_SEND, R_RECV };
enum wstate { W_SEND, W_RECV, A_SEND, A_RECV };

struct host {
	struct sim *sim;
	size_t idx;
	char name[64];
	char secret[80];
	nng_socket sock;
	nng_ctx rctx, wctx;
	nng_aio *raio, *waio, *taio;
	enum rstate rstate;
	enum wstate wstate;
	uint64_t req_id;       /* envelope ids */
	uint64_t report_seq;   /* the last report's seq */
	uint64_t reports_left; /* --flood, --backfill-days */
	uint64_t backfill_ms;  /* the next backfilled sample's time */
	size_t in_flight;      /* reports in the call in flight */
	nng_msg *again;        /* its copy, sent again when the server is busy */
	uint64_t sent_us;
	uint64_t due_ms; /* the next report's time (mono), as the agent keeps it */
	uint64_t aio_max_nr;
	unsigned rng;
	Aioctl__V1__WatchReply *cmds; /* being acknowledged */
	size_t next_cmd;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* An envelope for method with in, as this host. */
static nng_msg *request(struct host *h, const char *method, const ProtobufCMessage *in)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Credentials c = AIOCTL__V1__CREDENTIALS__INIT;
	char full[96];
	nng_msg *m = NULL;

	snprintf(full, sizeof(full), "aioctl.v1.Agent/%s", method);
	c.host_id = h->name;
	c.host_secret = h->secret[0] ? h->secret : NULL;
	req.method = full;
	req.request_id = ++h->req_id;
	req.credentials = &c;
	req.has_payload = true;
	if (aio_rpc_pack_payload(in, &req.payload) == 0)
		aio_rpc_pack(&req.base, &m);
	free(req.payload.data);
	return m;
}

/* The reply's status; its payload unpacked into *ret when OK. */
static int reply(nng_msg *m, const ProtobufCMessageDescriptor *d, ProtobufCMessage **ret)
{
	Aioctl__V1__Reply *r = aioctl__v1__reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	int st;

	nng_msg_free(m);
	if (!r)
		return AIO_INTERNAL;
	st = (int)r->status;
	if (st == AIO_OK && ret &&
	    !(*ret = protobuf_c_message_unpack(d, NULL, r->payload.len, r->payload.data)))
		st = AIO_INTERNAL;
	aioctl__v1__reply__free_unpacked(r, NULL);
	return st;
}

/* A blocking call on a fresh context of the host's socket (setup only). */
static int call(struct host *h, const char *method, const ProtobufCMessage *in,
                const ProtobufCMessageDescriptor *out_d, ProtobufCMessage **out)
{
	nng_msg *m = request(h, method, in);
	int st = AIO_UNAVAILABLE;
	nng_aio *aio;
	nng_ctx ctx;

	if (!m || nng_ctx_open(&ctx, h->sock) != 0) {
		if (m)
			nng_msg_free(m);
		return st;
	}
	if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
		nng_msg_free(m);
		nng_ctx_close(ctx);
		return st;
	}
	nng_aio_set_timeout(aio, 60000);
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) != 0) {
		nng_msg_free(nng_aio_get_msg(aio));
	} else {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) == 0)
			st = reply(nng_aio_get_msg(aio), out_d, out);
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return st;
}

static uint64_t aio_nr_of(struct host *h, uint64_t t_ms)
{
	uint64_t base = 1024 * (1 + h->idx % 48);

	switch (h->sim->o.behaviour) {
	case GROWTH: /* 2048 events a day more, from the first (backfilled) sample */
		return base + (t_ms - h->sim->origin_ms) * GROWTH_PER_DAY / 86400000;
	case SPIKES: /* VM starts: a burst every 5 minutes */
		return base + ((t_ms / 1000) % 300 < 5 ? 8192 : 0);
	case CHURN:
		return base + (uint64_t)(rand_r(&h->rng) % 4096);
	default:
		return base;
	}
}

/* ---------------------------------------------------------- reporting */

/* Sends m, keeping a copy to send again if the server is busy; m NULL:
 * that copy. */
static void call_send(struct host *h, nng_msg *m)
{
	if (!m) {
		m = h->again;
		h->again = NULL;
	}
	if (h->sim->o.flood || h->sim->o.backfill_ms)
		nng_msg_dup(&h->again, m);
	h->rstate = R_SEND;
	h->sent_us = now_us();
	nng_aio_set_msg(h->raio, m);
	nng_ctx_send(h->rctx, h->raio);
	h->sim->requests++;
}

/* One report's parts, built in place. */
struct sim_report {
	Aioctl__V1__ReportRequest r;
	Aioctl__V1__Sample smp;
	Aioctl__V1__AioEvent ev, *evs[1];
	char key[96], line[128];
};

static void report_fill(struct host *h, struct sim_report *x)
{
	struct sim *s = h->sim;
	uint64_t t = aio_now_ms();

	if (s->o.backfill_ms) {
		t = h->backfill_ms;
		h->backfill_ms += s->o.interval_ms;
	}
	aioctl__v1__report_request__init(&x->r);
	aioctl__v1__sample__init(&x->smp);
	x->smp.time_ms = t;
	x->smp.aio_nr = x->smp.aio_nr_min = x->smp.aio_nr_max = aio_nr_of(h, t);
	x->smp.aio_max_nr = h->aio_max_nr;
	x->r.seq = ++h->report_seq;
	x->r.sample = &x->smp;
	if (s->o.error_rate > 0 && (double)rand_r(&h->rng) / RAND_MAX <
	                                   s->o.error_rate * (double)s->o.interval_ms / 3600000.0) {
		aioctl__v1__aio_event__init(&x->ev);
		snprintf(x->key, sizeof(x->key), "sim:%s:%" PRIu64, h->name, x->r.seq);
		snprintf(x->line, sizeof(x->line), "sim: failed to create linux AIO context (%s)",
		         h->name);
		x->ev.time_ms = t;
		x->ev.kind = AIOCTL__V1__EVENT_KIND__EVENT_FAILED;
		x->ev.source = "journal:libvirtd.service";
		x->ev.vm = "sim-vm";
		x->ev.key = x->key;
		x->ev.line = x->line;
		x->evs[0] = &x->ev;
		x->r.events = x->evs;
		x->r.n_events = 1;
	}
}

/* The next report, or with --batch the next ones of a flood or backfill
 * in one ReportBatch. */
static void report_send(struct host *h)
{
	struct sim *s = h->sim;
	size_t k = 1;
	nng_msg *m;

	if ((s->o.flood || s->o.backfill_ms) && s->o.batch > 1) {
		k = h->reports_left + 1 < s->o.batch ? h->reports_left + 1 : s->o.batch;
		h->reports_left -= k - 1;
	}
	if (k == 1) {
		struct sim_report x;

		report_fill(h, &x);
		m = request(h, "Report", &x.r.base);
	} else {
		Aioctl__V1__ReportBatchRequest b = AIOCTL__V1__REPORT_BATCH_REQUEST__INIT;
		struct sim_report *x = calloc(k, sizeof(*x));
		Aioctl__V1__ReportRequest **v = calloc(k, sizeof(*v));

		m = NULL;
		if (x && v) {
			for (size_t i = 0; i < k; i++) {
				report_fill(h, &x[i]);
				v[i] = &x[i].r;
			}
			b.reports = v;
			b.n_reports = k;
			m = request(h, "ReportBatch", &b.base);
		}
		free(x);
		free(v);
	}
	if (!m) {
		s->reports_failed += k;
		return;
	}
	h->in_flight = k;
	s->reports_sent += k;
	call_send(h, m);
}

static void report_next(struct host *h)
{
	struct sim *s = h->sim;
	uint64_t now;

	if (s->stopping) {
		s->hosts_done++;
		return;
	}
	if (s->o.flood || s->o.backfill_ms) {
		if (h->reports_left == 0) {
			s->hosts_done++;
			return;
		}
		h->reports_left--;
		report_send(h);
		return;
	}
	/* every interval from the first, however long the calls took */
	now = aio_mono_ms();
	h->due_ms = h->due_ms ? h->due_ms + s->o.interval_ms : now + s->o.interval_ms;
	if (h->due_ms < now)
		h->due_ms = now;
	h->rstate = R_WAIT;
	nng_sleep_aio((nng_duration)(h->due_ms - now), h->taio);
}

static void timer_cb(void *arg)
{
	struct host *h = arg;

	if (nng_aio_result(h->taio) != 0 || h->sim->stopping) {
		nng_msg_free(h->again);
		h->again = NULL;
		h->sim->hosts_done++;
		return;
	}
	if (h->again)
		call_send(h, NULL); /* the call the server was too busy for */
	else
		report_send(h);
}

static void report_cb(void *arg)
{
	struct host *h = arg;
	struct sim *s = h->sim;
	int rv = nng_aio_result(h->raio), st = AIO_UNAVAILABLE;

	if (h->rstate == R_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(h->raio));
			nng_msg_free(h->again);
			h->again = NULL;
			s->reports_failed += h->in_flight;
			report_next(h);
			return;
		}
		h->rstate = R_RECV;
		nng_ctx_recv(h->rctx, h->raio);
		return;
	}
	if (rv == 0)
		st = reply(nng_aio_get_msg(h->raio), NULL, NULL);
	/* as the agent does: a busy server gets the same call again later */
	if (st == AIO_RESOURCE_EXHAUSTED && h->again) {
		s->retries++;
		h->rstate = R_WAIT;
		nng_sleep_aio((nng_duration)(100 + rand_r(&h->rng) % 400), h->taio);
		return;
	}
	nng_msg_free(h->again);
	h->again = NULL;
	if (st == AIO_OK) {
		uint64_t i = s->n_lat++;

		s->reports_ok += h->in_flight;
		if (i < LATENCIES_MAX)
			s->lat_us[i] = (uint32_t)(now_us() - h->sent_us);
	} else {
		s->reports_failed += h->in_flight;
	}
	report_next(h);
}

/* ------------------------------------------------------------ watching */

static void watch_send(struct host *h)
{
	Aioctl__V1__WatchRequest w = AIOCTL__V1__WATCH_REQUEST__INIT;
	nng_msg *m;

	if (h->sim->stopping)
		return;
	w.has_max_wait_ms = true;
	w.max_wait_ms = 30000;
	if (!(m = request(h, "Watch", &w.base)))
		return;
	h->wstate = W_SEND;
	nng_aio_set_msg(h->waio, m);
	nng_ctx_send(h->wctx, h->waio);
}

/* Acknowledges the next command of the last Watch answer, or watches
 * again when all are done. */
static void ack_next(struct host *h)
{
	struct sim *s = h->sim;
	Aioctl__V1__AckRequest a = AIOCTL__V1__ACK_REQUEST__INIT;
	Aioctl__V1__Persisted before = AIOCTL__V1__PERSISTED__INIT, after = before;
	Aioctl__V1__Sample smp = AIOCTL__V1__SAMPLE__INIT;
	const Aioctl__V1__Command *c;
	nng_msg *m;

	if (!h->cmds || h->next_cmd >= h->cmds->n_commands) {
		if (h->cmds)
			aioctl__v1__watch_reply__free_unpacked(h->cmds, NULL);
		h->cmds = NULL;
		watch_send(h);
		return;
	}
	c = h->cmds->commands[h->next_cmd++];
	a.command_id = c->command_id;
	a.status = AIOCTL__V1__STATUS_CODE__OK;
	if (c->set_limit) {
		const Aioctl__V1__SetLimit *sl = c->set_limit;

		s->commands++;
		a.has_runtime_before = true;
		a.runtime_before = h->aio_max_nr;
		before.has_value = true;
		before.value = h->aio_max_nr;
		before.file = "/etc/sysctl.d/zz-aioctl.conf";
		a.persisted_before = &before;
		if (!sl->rollback && (unsigned)(rand_r(&h->rng) % 100) < s->o.refuse_rate) {
			a.status = AIOCTL__V1__STATUS_CODE__PERMISSION_DENIED;
			a.message = "sim: refused by policy";
			s->refused++;
		} else if (!sl->rollback) {
			h->aio_max_nr = sl->target;
		}
		a.has_runtime_after = true;
		a.runtime_after = h->aio_max_nr;
		after = before;
		after.value = h->aio_max_nr;
		a.persisted_after = &after;
	} else {
		s->live++;
	}
	smp.time_ms = aio_now_ms();
	smp.aio_nr = smp.aio_nr_min = smp.aio_nr_max = aio_nr_of(h, smp.time_ms);
	smp.aio_max_nr = h->aio_max_nr;
	a.sample = &smp;
	if (!(m = request(h, "Ack", &a.base)))
		return;
	h->wstate = A_SEND;
	nng_aio_set_msg(h->waio, m);
	nng_ctx_send(h->wctx, h->waio);
}

static void watch_cb(void *arg)
{
	struct host *h = arg;
	struct sim *s = h->sim;
	int rv = nng_aio_result(h->waio);

	if (rv != 0) {
		if (h->wstate == W_SEND || h->wstate == A_SEND)
			nng_msg_free(nng_aio_get_msg(h->waio));
		if (!s->stopping && rv != NNG_ECLOSED) {
			h->cmds = NULL;
			watch_send(h);
		}
		return;
	}
	switch (h->wstate) {
	case W_SEND:
		h->wstate = W_RECV;
		nng_ctx_recv(h->wctx, h->waio);
		break;
	case A_SEND:
		h->wstate = A_RECV;
		nng_ctx_recv(h->wctx, h->waio);
		break;
	case W_RECV:
		s->watches++;
		h->cmds = NULL;
		h->next_cmd = 0;
		if (reply(nng_aio_get_msg(h->waio), &aioctl__v1__watch_reply__descriptor,
		          (ProtobufCMessage **)&h->cmds) != AIO_OK)
			h->cmds = NULL;
		ack_next(h);
		break;
	case A_RECV:
		if (reply(nng_aio_get_msg(h->waio), NULL, NULL) == AIO_OK)
			s->acks++;
		ack_next(h);
		break;
	}
}

/* --------------------------------------------------------------- setup */

static int setup_host(struct sim *s, struct host *h)
{
	Aioctl__V1__EnrollCreateRequest ec = AIOCTL__V1__ENROLL_CREATE_REQUEST__INIT;
	Aioctl__V1__EnrollCreateReply *token = NULL;
	Aioctl__V1__EnrollRequest en = AIOCTL__V1__ENROLL_REQUEST__INIT;
	Aioctl__V1__EnrollReply *secret = NULL;
	Aioctl__V1__HelloRequest hello = AIOCTL__V1__HELLO_REQUEST__INIT;
	Aioctl__V1__HelloReply *hr = NULL;
	Aioctl__V1__Label label = AIOCTL__V1__LABEL__INIT, *labels[1] = { &label };
	char lk[64], lv[128];
	struct aio_rpc_status st;
	nng_dialer d;
	int code;

	if (nng_req0_open(&h->sock) != 0 || nng_dialer_create(&d, h->sock, s->o.server) != 0)
		return -1;
	if (s->o.sources > 1) {
		nng_sockaddr src = { .s_in = { .sa_family = NNG_AF_INET } };
		int rv;

		/* 127.0.0.k in network order */
		src.s_in.sa_addr = htonl(0x7f000001u + (uint32_t)(h->idx % s->o.sources));
		if ((rv = nng_dialer_set_addr(d, NNG_OPT_LOCADDR, &src)) != 0) {
			fprintf(stderr, "aio-sim: a source address: %s\n", nng_strerror(rv));
			return -1;
		}
	}
	nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, 100);
	nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, 2000);
	if (nng_dialer_start(d, 0) != 0)
		return -1;
	ec.host = h->name;
	code = aio_rpc_invoke(s->admin, &aioctl__v1__admin__descriptor, "EnrollCreate", &ec.base,
	                      60000, false, (ProtobufCMessage **)&token, &st);
	if (code != AIO_OK) {
		fprintf(stderr, "aio-sim: %s: enroll create: %s\n", h->name, st.message);
		return -1;
	}
	en.host_id = h->name;
	en.token = token->token;
	code = call(h, "Enroll", &en.base, &aioctl__v1__enroll_reply__descriptor,
	            (ProtobufCMessage **)&secret);
	aioctl__v1__enroll_create_reply__free_unpacked(token, NULL);
	if (code != AIO_OK) {
		fprintf(stderr, "aio-sim: %s: enroll: %s\n", h->name, aio_status_name(code));
		return -1;
	}
	snprintf(h->secret, sizeof(h->secret), "%s", secret->host_secret);
	aioctl__v1__enroll_reply__free_unpacked(secret, NULL);
	hello.host_id = h->name;
	hello.agent_version = "aio-sim";
	hello.has_interval_ms = true;
	hello.interval_ms = (uint32_t)(s->o.interval_ms < 100       ? 100
	                               : s->o.interval_ms > 3600000 ? 3600000
	                                                            : s->o.interval_ms);
	hello.has_limit_min = hello.has_limit_max = true;
	hello.limit_min = 65536;
	hello.limit_max = 16777216;
	if (s->o.label && aio_label_parse(s->o.label, lk, sizeof(lk), lv, sizeof(lv)) == 0) {
		label.key = lk;
		label.value = lv;
		hello.labels = labels;
		hello.n_labels = 1;
	}
	code = call(h, "Hello", &hello.base, &aioctl__v1__hello_reply__descriptor,
	            (ProtobufCMessage **)&hr);
	if (code != AIO_OK) {
		fprintf(stderr, "aio-sim: %s: hello: %s\n", h->name, aio_status_name(code));
		return -1;
	}
	h->report_seq = hr->last_seq;
	aioctl__v1__hello_reply__free_unpacked(hr, NULL);
	if (nng_aio_alloc(&h->raio, report_cb, h) != 0 ||
	    nng_aio_alloc(&h->waio, watch_cb, h) != 0 ||
	    nng_aio_alloc(&h->taio, timer_cb, h) != 0 || nng_ctx_open(&h->rctx, h->sock) != 0 ||
	    nng_ctx_open(&h->wctx, h->sock) != 0)
		return -1;
	/* no timeouts on the calls: nng 1.5 keeps every aio with a deadline
	 * in one list that a shorter deadline is inserted into by walking
	 * it, which at tens of thousands of hosts costs more than the calls
	 * (the interval's sleeps, all alike, are appended); the duration
	 * bounds the run. A held call must never be resent by nng. */
	nng_ctx_set_ms(h->rctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_ctx_set_ms(h->wctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	s->hosts_ready++;
	return 0;
}

struct setup_arg {
	struct sim *s;
	size_t from, step;
	int failed;
};

static void *setup_thread(void *arg)
{
	struct setup_arg *a = arg;

	for (size_t i = a->from; i < a->s->o.hosts; i += a->step)
		if (setup_host(a->s, &a->s->hosts[i]) < 0)
			a->failed++;
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double rss_mb(void)
{
	char *text = NULL, *p;
	double mb = 0;

	if (aio_file_read_all("/proc/self/status", 1 << 16, &text, NULL) == 0 &&
	    (p = strstr(text, "VmHWM:")))
		mb = strtod(p + 6, NULL) / 1024.0;
	free(text);
	return mb;
}

static void usage(void)
{
	fprintf(stderr, "usage: aio-sim --server URL --admin URL --token-file FILE --hosts N\n"
	                "  [--prefix NAME] [--interval DUR] [--duration DUR] [--label K=V]\n"
	                "  [--behaviour steady|growth|spikes|churn] [--error-rate PER-HOST-HOUR]\n"
	                "  [--refuse-rate PERCENT] [--flood --reports N] [--backfill-days D]\n"
	                "  [--backfill DUR] [--batch N] [--sources N]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "admin", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "hosts", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "behaviour", required_argument, NULL, 'b' },
		{ "error-rate", required_argument, NULL, 'e' },
		{ "refuse-rate", required_argument, NULL, 'r' },
		{ "flood", no_argument, NULL, 'f' },
		{ "reports", required_argument, NULL, 'R' },
		{ "backfill-days", required_argument, NULL, 'B' },
		{ "backfill", required_argument, NULL, 'F' },
		{ "batch", required_argument, NULL, 'N' },
		{ "label", required_argument, NULL, 'l' },
		{ "sources", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim *s = calloc(1, sizeof(*s));
	struct aio_rpc_client_opts ao = { 0 };
	pthread_t threads[SETUP_THREADS];
	struct setup_arg args[SETUP_THREADS];
	struct rlimit rl;
	char err[256], *token = NULL;
	uint64_t t0, t1, end, n, v;
	int c, failed = 0;

	s->o.prefix = "sim-";
	s->o.interval_ms = 10000;
	s->o.duration_ms = 0; /* 10s, or in --flood and --backfill-days a bound of 1h */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			s->o.server = optarg;
			break;
		case 'a':
			s->o.admin = optarg;
			break;
		case 't':
			s->o.token_file = optarg;
			break;
		case 'p':
			s->o.prefix = optarg;
			break;
		case 'l':
			s->o.label = optarg;
			break;
		case 'f':
			s->o.flood = true;
			break;
		case 'n':
			if (aio_uint_parse(optarg, &v) < 0 || !v || v > 100000)
				usage();
			s->o.hosts = v;
			break;
		case 'R':
			if (aio_uint_parse(optarg, &s->o.reports) < 0)
				usage();
			break;
		case 'B':
			if (aio_uint_parse(optarg, &v) < 0 || v > 30)
				usage();
			s->o.backfill_ms = v * 86400000ULL;
			break;
		case 'F':
			if (aio_duration_parse(optarg, &s->o.backfill_ms) < 0 ||
			    s->o.backfill_ms > 30 * 86400000ULL)
				usage();
			break;
		case 'N':
			if (aio_uint_parse(optarg, &v) < 0 || !v || v > AIO_REPORT_BATCH_MAX)
				usage();
			s->o.batch = (size_t)v;
			break;
		case 'S':
			if (aio_uint_parse(optarg, &v) < 0 || !v || v > 254)
				usage();
			s->o.sources = (unsigned)v;
			break;
		case 'r':
			if (aio_uint_parse(optarg, &v) < 0 || v > 100)
				usage();
			s->o.refuse_rate = (unsigned)v;
			break;
		case 'e':
			s->o.error_rate = strtod(optarg, NULL);
			break;
		case 'i':
			if (aio_duration_parse(optarg, &s->o.interval_ms) < 0 || !s->o.interval_ms)
				usage();
			break;
		case 'd':
			if (aio_duration_parse(optarg, &s->o.duration_ms) < 0)
				usage();
			break;
		case 'b':
			s->o.behaviour = !strcmp(optarg, "growth")   ? GROWTH
			                 : !strcmp(optarg, "spikes") ? SPIKES
			                 : !strcmp(optarg, "churn")  ? CHURN
			                                             : STEADY;
			break;
		default:
			usage();
		}
	}
	if (!s->o.server || !s->o.admin || !s->o.token_file || !s->o.hosts)
		usage();
	if (!s->o.duration_ms)
		s->o.duration_ms = s->o.flood || s->o.backfill_ms ? 3600000 : 10000;
	signal(SIGPIPE, SIG_IGN);
	/* one connection per host: as many descriptors as it takes, the hard
	 * limit raised too where that is allowed (root) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = (rlim_t)s->o.hosts + 1024;

		if (rl.rlim_max < want) {
			struct rlimit more = { want, want };

			if (setrlimit(RLIMIT_NOFILE, &more) == 0)
				rl = more;
		}
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (s->o.hosts + 64 > rl.rlim_cur) {
		fprintf(stderr, "aio-sim: %zu hosts need more than %llu open files\n", s->o.hosts,
		        (unsigned long long)rl.rlim_cur);
		return 1;
	}
	if (aio_file_read_all(s->o.token_file, 1024, &token, NULL) < 0) {
		fprintf(stderr, "aio-sim: %s: cannot read\n", s->o.token_file);
		return 1;
	}
	token[strcspn(token, "\n")] = '\0';
	ao.url = s->o.admin;
	ao.wait_connect = true;
	ao.admin_token = token;
	if (aio_rpc_client_open(&ao, &s->admin, err, sizeof(err)) < 0) {
		fprintf(stderr, "aio-sim: %s\n", err);
		return 2;
	}
	s->lat_us = calloc(LATENCIES_MAX, sizeof(*s->lat_us));
	s->hosts = calloc(s->o.hosts, sizeof(*s->hosts));
	s->start_ms = aio_now_ms();
	s->origin_ms = s->start_ms - s->o.backfill_ms;
	for (size_t i = 0; i < s->o.hosts; i++) {
		struct host *h = &s->hosts[i];

		h->sim = s;
		h->idx = i;
		h->rng = (unsigned)i * 2654435761u;
		h->aio_max_nr = 65536;
		snprintf(h->name, sizeof(h->name), "%s%05zu", s->o.prefix, i);
		if (s->o.backfill_ms) {
			h->backfill_ms = s->start_ms - s->o.backfill_ms;
			h->reports_left = s->o.backfill_ms / s->o.interval_ms;
		} else {
			h->reports_left = s->o.reports;
		}
	}

	t0 = now_us();
	for (size_t i = 0; i < SETUP_THREADS; i++) {
		args[i] = (struct setup_arg){ s, i, SETUP_THREADS, 0 };
		pthread_create(&threads[i], NULL, setup_thread, &args[i]);
	}
	for (size_t i = 0; i < SETUP_THREADS; i++) {
		pthread_join(threads[i], NULL);
		failed += args[i].failed;
	}
	fprintf(stderr,
	        "aio-sim: %zu hosts connected and enrolled in %.1fs, %d failed, %zu "
	        "connections\n",
	        (size_t)s->hosts_ready, (double)(now_us() - t0) / 1e6, failed,
	        (size_t)s->hosts_ready);
	if (failed)
		return 1;

	t1 = now_us();
	for (size_t i = 0; i < s->o.hosts; i++) {
		watch_send(&s->hosts[i]);
		report_next(&s->hosts[i]);
	}
	end = aio_mono_ms() + s->o.duration_ms;
	while (aio_mono_ms() < end &&
	       !((s->o.flood || s->o.backfill_ms) && s->hosts_done >= s->o.hosts)) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	t1 = now_us() - t1;
	s->stopping = true;

	n = s->n_lat < LATENCIES_MAX ? s->n_lat : LATENCIES_MAX;
	qsort(s->lat_us, n, sizeof(*s->lat_us), by_value);
	printf("{\"hosts\": %zu, \"seconds\": %.3f, \"reports_sent\": %" PRIu64
	       ", \"reports_ok\": %" PRIu64 ", \"reports_failed\": %" PRIu64
	       ", \"requests\": %" PRIu64 ", \"retries\": %" PRIu64
	       ", \"reports_per_s\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"watches\": "
	       "%" PRIu64 ", \"commands\": %" PRIu64 ", \"acks\": %" PRIu64
	       ", \"refused\": %" PRIu64 ", \"live\": %" PRIu64 ", \"sim_rss_mb\": %.1f}\n",
	       s->o.hosts, (double)t1 / 1e6, (uint64_t)s->reports_sent, (uint64_t)s->reports_ok,
	       (uint64_t)s->reports_failed, (uint64_t)s->requests, (uint64_t)s->retries,
	       (double)s->reports_ok / ((double)t1 / 1e6), n ? s->lat_us[n / 2] / 1000.0 : 0,
	       n ? s->lat_us[n * 99 / 100] / 1000.0 : 0, (uint64_t)s->watches,
	       (uint64_t)s->commands, (uint64_t)s->acks, (uint64_t)s->refused, (uint64_t)s->live,
	       rss_mb());
	fflush(stdout);
	/* closing 10,000 sockets one by one takes long: the process ends */
	/* a flood or backfill not sent in full (or refused) is a failure */
	_exit((s->o.flood || s->o.backfill_ms) && (s->reports_failed || s->hosts_done < s->o.hosts)
	              ? 1
	              : 0);
}
