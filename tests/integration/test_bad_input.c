/* A table of bad requests against the real server: each gets its expected
 * status (or, past the size bound, a dropped connection), and the server
 * answers a valid request right after every one. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "clock.h"
#include "fileio.h"
#include "harness.h"
#include "rpc_client.h"

#define NO_REPLY (-1)

static struct h_env env;
static char secret[128];
static char *admin_token;
static uint64_t seq = 1;

struct buf {
	uint8_t *data;
	size_t len;
};

static void pack(const ProtobufCMessage *m, struct buf *b)
{
	b->len = protobuf_c_message_get_packed_size(m);
	b->data = malloc(b->len + 1);
	protobuf_c_message_pack(m, b->data);
}

/* An envelope for method with payload p; creds as an agent or admin. */
static void envelope(struct buf *out, const char *method, const ProtobufCMessage *p,
                     bool agent_creds, bool admin_creds)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Credentials c = AIOCTL__V1__CREDENTIALS__INIT;
	struct buf payload = { 0 };

	if (p)
		pack(p, &payload);
	if (agent_creds) {
		c.host_id = "hv1";
		c.host_secret = secret;
	}
	if (admin_creds)
		c.admin_token = admin_token;
	req.method = (char *)method;
	req.request_id = 99;
	req.credentials = &c;
	req.has_payload = p != NULL;
	req.payload.data = payload.data;
	req.payload.len = payload.len;
	pack(&req.base, out);
	free(payload.data);
}

static Aioctl__V1__Sample *sample_now(void)
{
	static Aioctl__V1__Sample s;

	aioctl__v1__sample__init(&s);
	s.time_ms = aio_now_ms();
	s.aio_max_nr = 65536;
	return &s;
}

/* ---- the cases: each builds the bytes to send ---- */

static void c_truncated(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = seq++;
	r.sample = sample_now();
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
	b->len /= 2;
}

static void c_oversized(struct buf *b)
{
	b->len = 2 << 20;
	b->data = calloc(1, b->len);
}

static void c_empty(struct buf *b)
{
	b->len = 0;
	b->data = malloc(1);
}

static void c_wrong_type(struct buf *b)
{
	/* a ReportRequest where a HelloRequest belongs */
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = 5;
	r.sample = sample_now();
	envelope(b, "aioctl.v1.Agent/Hello", &r.base, true, false);
}

static void c_many_events(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	static Aioctl__V1__AioEvent ev, *evs[AIO_EVENTS_MAX + 1];

	aioctl__v1__aio_event__init(&ev);
	ev.time_ms = 1;
	ev.source = "x";
	ev.key = "k";
	for (size_t i = 0; i <= AIO_EVENTS_MAX; i++)
		evs[i] = &ev;
	r.seq = seq++;
	r.sample = sample_now();
	r.events = evs;
	r.n_events = AIO_EVENTS_MAX + 1;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

static void c_many_users(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	static Aioctl__V1__AioUser u, *us[AIO_USERS_MAX + 1];

	aioctl__v1__aio_user__init(&u);
	u.name = "q";
	u.contexts = 1;
	for (size_t i = 0; i <= AIO_USERS_MAX; i++)
		us[i] = &u;
	r.seq = seq++;
	r.sample = sample_now();
	r.users = us;
	r.n_users = AIO_USERS_MAX + 1;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

static void c_repeated_labels(struct buf *b)
{
	/* one field repeated 50,000 times, well inside the size bound */
	enum { N = 50000 };
	Aioctl__V1__HelloRequest h = AIOCTL__V1__HELLO_REQUEST__INIT;
	static Aioctl__V1__Label l, *ls[N];

	aioctl__v1__label__init(&l);
	l.key = "k";
	l.value = "v";
	for (size_t i = 0; i < N; i++)
		ls[i] = &l;
	h.host_id = "hv1";
	h.labels = ls;
	h.n_labels = N;
	envelope(b, "aioctl.v1.Agent/Hello", &h.base, true, false);
}

static void c_future(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = seq++;
	r.sample = sample_now();
	r.sample->time_ms = aio_now_ms() + 24ULL * 3600 * 1000;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

static void c_ancient(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = seq++;
	r.sample = sample_now();
	r.sample->time_ms = aio_now_ms() - 40ULL * 24 * 3600 * 1000;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

static void c_min_above_max(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = seq++;
	r.sample = sample_now();
	r.sample->aio_nr_min = 10;
	r.sample->aio_nr_max = 5;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

/* values whose sums and rollups would overflow (2^63 printed negative) */
static void c_huge_counters(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = seq++;
	r.sample = sample_now();
	r.sample->aio_nr = r.sample->aio_nr_min = r.sample->aio_nr_max = 1ULL << 63;
	r.sample->aio_max_nr = UINT64_MAX;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

static void c_seq_zero(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = 0;
	r.sample = sample_now();
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

/* A report with one event from source with key. */
static void report_event(struct buf *b, const char *source, const char *key)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	static Aioctl__V1__AioEvent ev, *evs[1] = { &ev };

	aioctl__v1__aio_event__init(&ev);
	ev.time_ms = aio_now_ms();
	ev.source = (char *)source;
	ev.key = (char *)key;
	r.seq = seq++;
	r.sample = sample_now();
	r.events = evs;
	r.n_events = 1;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

/* A valid report's envelope followed by unknown fields (number 100, a
 * varint each: 3 bytes) up to len bytes in all. */
static void unknown_fields(struct buf *b, size_t len)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	uint8_t *p;

	r.seq = seq++;
	r.sample = sample_now();
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
	cr_assert((p = realloc(b->data, len)));
	b->data = p;
	for (; b->len + 3 <= len; b->len += 3)
		memcpy(p + b->len, "\xa0\x06\x01", 3);
}

static void c_unknown_fields(struct buf *b)
{
	unknown_fields(b, 1000 * 1000);
}

static void c_seq_huge(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;

	r.seq = (1ULL << 63) + 1; /* negative in a signed compare */
	r.sample = sample_now();
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

static void c_control_chars(struct buf *b)
{
	report_event(b, "journal:\x1b[2Jlibvirtd", "k");
}

static void c_event_without_key(struct buf *b)
{
	report_event(b, "journal", "");
}

static void c_bad_utf8_user(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	static Aioctl__V1__AioUser u, *us[1] = { &u };

	aioctl__v1__aio_user__init(&u);
	u.name = "vm-\xff\xfe\x07";
	u.contexts = 1;
	r.seq = seq++;
	r.sample = sample_now();
	r.users = us;
	r.n_users = 1;
	envelope(b, "aioctl.v1.Agent/Report", &r.base, true, false);
}

static void c_bad_label(struct buf *b)
{
	Aioctl__V1__HelloRequest h = AIOCTL__V1__HELLO_REQUEST__INIT;
	Aioctl__V1__Label l = AIOCTL__V1__LABEL__INIT, *ls[1] = { &l };

	l.key = "rack";
	l.value = "a=b";
	h.host_id = "hv1";
	h.labels = ls;
	h.n_labels = 1;
	envelope(b, "aioctl.v1.Agent/Hello", &h.base, true, false);
}

static void c_unknown_method(struct buf *b)
{
	Aioctl__V1__Empty e = AIOCTL__V1__EMPTY__INIT;

	envelope(b, "aioctl.v1.Agent/Reboot", &e.base, true, false);
}

static void c_admin_method_on_agent_port(struct buf *b)
{
	Aioctl__V1__FleetStatusRequest f = AIOCTL__V1__FLEET_STATUS_REQUEST__INIT;

	envelope(b, "aioctl.v1.Admin/FleetStatus", &f.base, true, true);
}

static void c_long_method(struct buf *b)
{
	static char name[300];

	memset(name, 'm', sizeof(name) - 1);
	envelope(b, name, NULL, true, false);
}

static void c_long_credential(struct buf *b)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Credentials c = AIOCTL__V1__CREDENTIALS__INIT;
	static char id[400];

	memset(id, 'h', sizeof(id) - 1);
	c.host_id = id;
	req.method = "aioctl.v1.Agent/Report";
	req.request_id = 1;
	req.credentials = &c;
	pack(&req.base, b);
}

static void c_no_secret(struct buf *b)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Credentials c = AIOCTL__V1__CREDENTIALS__INIT;
	struct buf p;

	r.seq = seq++;
	r.sample = sample_now();
	pack(&r.base, &p);
	c.host_id = "hv1";
	req.method = "aioctl.v1.Agent/Report";
	req.request_id = 1;
	req.credentials = &c;
	req.has_payload = true;
	req.payload.data = p.data;
	req.payload.len = p.len;
	pack(&req.base, b);
	free(p.data);
}

static void c_admin_no_token(struct buf *b)
{
	Aioctl__V1__FleetStatusRequest f = AIOCTL__V1__FLEET_STATUS_REQUEST__INIT;

	envelope(b, "aioctl.v1.Admin/FleetStatus", &f.base, false, false);
}

static void c_admin_huge_limit(struct buf *b)
{
	/* a count the server caps rather than honours */
	Aioctl__V1__ErrorsRequest e = AIOCTL__V1__ERRORS_REQUEST__INIT;

	e.has_limit = true;
	e.limit = 4000000000u;
	envelope(b, "aioctl.v1.Admin/Errors", &e.base, false, true);
}

static void c_set_limit_zero(struct buf *b)
{
	Aioctl__V1__SetLimitRequest s = AIOCTL__V1__SET_LIMIT_REQUEST__INIT;

	s.target = 0;
	envelope(b, "aioctl.v1.Admin/SetLimit", &s.base, false, true);
}

static const struct bad_case {
	const char *name;
	bool admin_port;
	int expect;
	void (*build)(struct buf *b);
} cases[] = {
	{ "truncated envelope", false, AIO_INVALID_ARGUMENT, c_truncated },
	{ "empty message", false, AIO_INVALID_ARGUMENT, c_empty },
	{ "oversized (2 MiB)", false, NO_REPLY, c_oversized },
	{ "wrong message type", false, AIO_INVALID_ARGUMENT, c_wrong_type },
	{ "257 events in a report", false, AIO_INVALID_ARGUMENT, c_many_events },
	{ "4097 AIO users in a report", false, AIO_INVALID_ARGUMENT, c_many_users },
	{ "one label repeated 50,000 times", false, AIO_INVALID_ARGUMENT, c_repeated_labels },
	/* kept by the agent and sent again, not refused and dropped */
	{ "sample a day in the future", false, AIO_UNAVAILABLE, c_future },
	{ "sample 40 days old", false, AIO_INVALID_ARGUMENT, c_ancient },
	{ "min above max", false, AIO_INVALID_ARGUMENT, c_min_above_max },
	{ "aio-nr 2^63, aio-max-nr 2^64 - 1", false, AIO_INVALID_ARGUMENT, c_huge_counters },
	{ "seq 0", false, AIO_INVALID_ARGUMENT, c_seq_zero },
	/* read before the caller is known: what it may allocate is bounded */
	{ "1 MB of unknown fields in the envelope", false, AIO_INVALID_ARGUMENT, c_unknown_fields },
	{ "seq 2^63 + 1", false, AIO_INVALID_ARGUMENT, c_seq_huge },
	/* a bad text field is cleaned or its one item dropped, never the
	 * report with its sample: names come from argv, lines from logs */
	{ "control characters in an event", false, AIO_OK, c_control_chars },
	{ "an AIO user's name not UTF-8", false, AIO_OK, c_bad_utf8_user },
	{ "an event without its key", false, AIO_OK, c_event_without_key },
	{ "label value with '='", false, AIO_INVALID_ARGUMENT, c_bad_label },
	{ "unknown method", false, AIO_UNIMPLEMENTED, c_unknown_method },
	{ "admin method on the agent port", false, AIO_UNIMPLEMENTED,
	  c_admin_method_on_agent_port },
	{ "300-byte method name", false, AIO_INVALID_ARGUMENT, c_long_method },
	{ "400-byte host id", false, AIO_INVALID_ARGUMENT, c_long_credential },
	{ "agent call without its secret", false, AIO_UNAUTHENTICATED, c_no_secret },
	{ "admin call without a token", true, AIO_UNAUTHENTICATED, c_admin_no_token },
	{ "admin: limit of 4 billion rows (capped)", true, AIO_OK, c_admin_huge_limit },
	{ "admin: set the limit to 0", true, AIO_INVALID_ARGUMENT, c_set_limit_zero },
};

static int send_raw(const char *url, const struct buf *b)
{
	Aioctl__V1__Reply *rep;
	nng_socket s;
	nng_msg *m;
	int status = NO_REPLY;

	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1500);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	cr_assert_eq(nng_dial(s, url, NULL, 0), 0);
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, b->data, b->len), 0);
	cr_assert_eq(nng_sendmsg(s, m, 0), 0);
	if (nng_recvmsg(s, &m, 0) == 0) {
		if ((rep = aioctl__v1__reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m)))) {
			status = rep->status;
			aioctl__v1__reply__free_unpacked(rep, NULL);
		}
		nng_msg_free(m);
	}
	nng_close(s);
	return status;
}

static int valid_report(void)
{
	struct aio_rpc_client_opts o = {
		.url = env.agent_url, .host_id = "hv1", .host_secret = secret, .wait_connect = true
	};
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	struct aio_rpc_client *c;
	struct aio_rpc_status st;
	char err[256];
	int code;

	cr_assert_eq(aio_rpc_client_open(&o, &c, err, sizeof(err)), 0, "%s", err);
	r.seq = seq++;
	r.sample = sample_now();
	code = aio_rpc_invoke(c, &aioctl__v1__agent__descriptor, "Report", &r.base, 5000, false,
	                      &out, &st);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	aio_rpc_client_free(c);
	return code;
}

/* A server, host hv1 enrolled (its secret in secret), the admin token. */
static void start(void)
{
	const char *mk[] = { "enroll", "create", "--host", "hv1", NULL };
	struct aio_rpc_client_opts o;
	Aioctl__V1__EnrollRequest in = AIOCTL__V1__ENROLL_REQUEST__INIT;
	Aioctl__V1__EnrollReply *out = NULL;
	struct aio_rpc_client *c;
	struct aio_rpc_status st;
	char *token = NULL, err[256];
	size_t len;

	h_env_init(&env);
	h_server_start(&env);
	cr_assert_eq(aio_file_read_all(env.token_file, 1024, &admin_token, &len), 0);
	admin_token[strcspn(admin_token, "\n")] = '\0';
	cr_assert_eq(h_aioctl(&env, &token, NULL, mk), 0);
	token[strcspn(token, "\n")] = '\0';
	memset(&o, 0, sizeof(o));
	o.url = env.agent_url;
	o.host_id = "hv1";
	o.wait_connect = true;
	cr_assert_eq(aio_rpc_client_open(&o, &c, err, sizeof(err)), 0, "%s", err);
	in.host_id = "hv1";
	in.token = token;
	cr_assert_eq(aio_rpc_invoke(c, &aioctl__v1__agent__descriptor, "Enroll", &in.base, 5000,
	                            false, (ProtobufCMessage **)&out, &st),
	             AIO_OK, "%s", st.message);
	snprintf(secret, sizeof(secret), "%s", out->host_secret);
	protobuf_c_message_free_unpacked(&out->base, NULL);
	aio_rpc_client_free(c);
	free(token);
	cr_assert_eq(valid_report(), AIO_OK);
}

Test(bad_input, each_refused_and_the_server_carries_on, .timeout = 120)
{
	start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = { 0 };
		int got;

		cases[i].build(&b);
		if (b.len > 1 << 20) /* past the bound: dropped; plain TCP, see h_sp_oversize */
			got = h_sp_oversize(env.agent_url, b.len, 5000) ? NO_REPLY : -2;
		else
			got = send_raw(cases[i].admin_port ? env.admin_url : env.agent_url, &b);
		free(b.data);
		cr_expect_eq(got, cases[i].expect, "%s: got %d, expected %d", cases[i].name, got,
		             cases[i].expect);
		cr_expect_eq(valid_report(), AIO_OK, "after '%s' the server still serves",
		             cases[i].name);
	}
	cr_expect(h_alive(env.server));
	{
		const char *errs[] = { "errors", "--host", "hv1", NULL },
		           *show[] = { "host", "show", "hv1", NULL };
		json_t *j = h_aioctl_json(&env, errs), *k = h_aioctl_json(&env, show);

		cr_assert_not_null(j);
		cr_expect_not_null(
		        h_json_find(json_object_get(j, "events"), "source", "journal:?[2Jlibvirtd"),
		        "the event is stored, its control character as '?'");
		cr_assert_not_null(k);
		cr_expect_not_null(h_json_find(json_object_get(k, "users"), "name", "vm-???"),
		                   "the AIO user is stored with its name cleaned");
		json_decref(j);
		json_decref(k);
	}
	free(admin_token);
	h_env_fini(&env);
}

/* kB of the server's /proc status line key ("VmHWM", "VmRSS"). */
static long server_kb(const char *key)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)env.server);
	cr_assert((f = fopen(path, "re")));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			kb = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* 64 peers, nobody yet, each sending 1 MB of unknown fields: the envelope
 * is read before the caller is known, and once took the server to 1 GiB
 * (765 MB still resident afterwards). */
Test(bad_input, unknown_fields_cannot_inflate_the_server, .timeout = 120)
{
	enum { PEERS = 64 };
	nng_socket s[PEERS];
	struct buf b = { 0 };
	long before, peak;

	start();
	before = server_kb("VmHWM");
	unknown_fields(&b, 1000 * 1000);
	for (int i = 0; i < PEERS; i++) {
		nng_msg *m;

		cr_assert_eq(nng_req0_open(&s[i]), 0);
		nng_socket_set_ms(s[i], NNG_OPT_RECVTIMEO, 10000);
		cr_assert_eq(nng_dial(s[i], env.agent_url, NULL, 0), 0);
		cr_assert_eq(nng_msg_alloc(&m, 0), 0);
		cr_assert_eq(nng_msg_append(m, b.data, b.len), 0);
		cr_assert_eq(nng_sendmsg(s[i], m, 0), 0);
	}
	for (int i = 0; i < PEERS; i++) {
		nng_msg *m;

		if (nng_recvmsg(s[i], &m, 0) == 0)
			nng_msg_free(m);
		nng_close(s[i]);
	}
	free(b.data);
	peak = server_kb("VmHWM");
	cr_log_info("server peak memory grew by %ld kB", peak - before);
	/* measured: 177 MiB more before the bound, 8 MiB with it; ASan's
	 * quarantine keeps what was freed, so its figure says nothing */
#ifndef __SANITIZE_ADDRESS__
	cr_expect_lt(peak - before, 64 * 1024,
	             "the server grew by %ld MiB for %d messages of 1 MB (peak %ld MiB)",
	             (peak - before) / 1024, PEERS, peak / 1024);
#endif
	cr_expect_eq(valid_report(), AIO_OK, "and serves a real agent after");
	free(admin_token);
	h_env_fini(&env);
}
