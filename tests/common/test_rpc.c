/* The RPC layer over real nng sockets on loopback: every status path. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "rpc_client.h"
#include "rpc_server.h"

static struct aio_rpc_server *srv;
static struct aio_rpc_client *cli;
static char url[64];

/* Watch is held: the test answers it later from another thread. */
#define HELD_MAX 16
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static Aioctl__V1__WatchReply_Closure held_closure[HELD_MAX];
static void *held_data[HELD_MAX];
static int n_held;

static void t_hello(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__HelloRequest *in,
                    Aioctl__V1__HelloReply_Closure closure, void *data)
{
	Aioctl__V1__HelloReply rep = AIOCTL__V1__HELLO_REPLY__INIT;

	if (strcmp(in->host_id, "fail") == 0) {
		aio_rpc_call_fail(data, AIO_FAILED_PRECONDITION, "told to fail");
		closure(NULL, data);
		return;
	}
	rep.has_last_seq = true;
	rep.last_seq = strlen(in->host_id);
	closure(&rep, data);
}

static void t_report(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__ReportRequest *in,
                     Aioctl__V1__ReportReply_Closure closure, void *data)
{
	Aioctl__V1__ReportReply rep = AIOCTL__V1__REPORT_REPLY__INIT;

	rep.has_acked_seq = true;
	rep.acked_seq = in->seq;
	closure(&rep, data);
}

static void t_watch(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__WatchRequest *in,
                    Aioctl__V1__WatchReply_Closure closure, void *data)
{
	pthread_mutex_lock(&held_lock);
	cr_assert_lt(n_held, HELD_MAX);
	held_closure[n_held] = closure;
	held_data[n_held] = data;
	n_held++;
	pthread_mutex_unlock(&held_lock);
}

static int held_count(void)
{
	int n;

	pthread_mutex_lock(&held_lock);
	n = n_held;
	pthread_mutex_unlock(&held_lock);
	return n;
}

/* Answers every held Watch with one command, numbered by its slot. */
static void release_held(void)
{
	Aioctl__V1__WatchReply rep = AIOCTL__V1__WATCH_REPLY__INIT;
	Aioctl__V1__Command cmd = AIOCTL__V1__COMMAND__INIT, *cmds[1] = { &cmd };

	rep.commands = cmds;
	rep.n_commands = 1;
	pthread_mutex_lock(&held_lock);
	for (int i = 0; i < n_held; i++) {
		cmd.command_id = 4242;
		held_closure[i](&rep, held_data[i]);
	}
	n_held = 0;
	pthread_mutex_unlock(&held_lock);
}

static Aioctl__V1__Agent_Service service = {
	AIOCTL__V1__AGENT__BASE_INIT, .hello = t_hello, .report = t_report, .watch = t_watch,
	/* .ack stays NULL: declared, not served */
};

static int authorize(struct aio_rpc_call *call, void *arg)
{
	const Aioctl__V1__Credentials *c = aio_rpc_call_creds(call);

	if (c->host_id && strcmp(c->host_id, "intruder") == 0) {
		aio_rpc_call_fail(call, AIO_UNAUTHENTICATED, "go away");
		return AIO_UNAUTHENTICATED;
	}
	return AIO_OK;
}

static struct aio_rpc_client *client(const char *host_id)
{
	struct aio_rpc_client_opts o = { .url = url, .host_id = host_id, .wait_connect = true };
	struct aio_rpc_client *c;
	char err[256];

	cr_assert_eq(aio_rpc_client_open(&o, &c, err, sizeof(err)), 0, "%s", err);
	return c;
}

static void setup(void)
{
	struct aio_rpc_server_opts o = {
		.url = "tcp://127.0.0.1:0",
		.service = &service.base,
		.authorize = authorize,
		.recv_max = 64 * 1024,
		.pool = 4,
	};
	char err[256];

	cr_assert_eq(aio_rpc_server_start(&o, &srv, err, sizeof(err)), 0, "%s", err);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", aio_rpc_server_port(srv));
	cli = client("hv1");
}

static void teardown(void)
{
	release_held(); /* a failed test may leave calls held */
	aio_rpc_client_free(cli);
	aio_rpc_server_free(srv);
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 30);

static int hello(struct aio_rpc_client *c, const char *host, uint64_t *ret_seq,
                 struct aio_rpc_status *st)
{
	Aioctl__V1__HelloRequest in = AIOCTL__V1__HELLO_REQUEST__INIT;
	Aioctl__V1__HelloReply *out = NULL;
	int code;

	in.host_id = (char *)host;
	code = aio_rpc_invoke(c, &aioctl__v1__agent__descriptor, "Hello", &in.base, 5000, false,
	                      (ProtobufCMessage **)&out, st);
	if (code == AIO_OK) {
		*ret_seq = out->last_seq;
		protobuf_c_message_free_unpacked(&out->base, NULL);
	}
	return code;
}

Test(rpc, round_trip)
{
	struct aio_rpc_status st;
	uint64_t seq = 0;

	cr_assert_eq(hello(cli, "hv-0042", &seq, &st), AIO_OK, "%s", st.message);
	cr_expect_eq(seq, 7);
}

Test(rpc, handler_status_and_message)
{
	struct aio_rpc_status st;
	uint64_t seq = 99;

	cr_expect_eq(hello(cli, "fail", &seq, &st), AIO_FAILED_PRECONDITION);
	cr_expect_str_eq(st.message, "told to fail");
	cr_expect_eq(seq, 99);
}

Test(rpc, authorize_refuses)
{
	struct aio_rpc_client *bad = client("intruder");
	struct aio_rpc_status st;
	uint64_t seq;

	cr_expect_eq(hello(bad, "x", &seq, &st), AIO_UNAUTHENTICATED);
	cr_expect_str_eq(st.message, "go away");
	aio_rpc_client_free(bad);
}

Test(rpc, declared_but_not_served)
{
	Aioctl__V1__AckRequest in = AIOCTL__V1__ACK_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	struct aio_rpc_status st;

	in.command_id = 1;
	cr_expect_eq(aio_rpc_invoke(cli, &aioctl__v1__agent__descriptor, "Ack", &in.base, 5000,
	                            false, &out, &st),
	             AIO_UNIMPLEMENTED);
	cr_expect(strstr(st.message, "aioctl.v1.Agent/Ack"), "%s", st.message);
}

Test(rpc, other_service_unimplemented)
{
	Aioctl__V1__FleetStatusRequest in = AIOCTL__V1__FLEET_STATUS_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	struct aio_rpc_status st;

	cr_expect_eq(aio_rpc_invoke(cli, &aioctl__v1__admin__descriptor, "FleetStatus", &in.base,
	                            5000, false, &out, &st),
	             AIO_UNIMPLEMENTED);
}

/* Sends raw bytes on a REQ socket and decodes the reply envelope. */
static Aioctl__V1__Reply *raw_call(const void *bytes, size_t len)
{
	nng_socket s;
	nng_msg *m;
	Aioctl__V1__Reply *rep;

	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	cr_assert_eq(nng_dial(s, url, NULL, 0), 0);
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, bytes, len), 0);
	cr_assert_eq(nng_sendmsg(s, m, 0), 0);
	if (nng_recvmsg(s, &m, 0) != 0) {
		nng_close(s);
		return NULL;
	}
	rep = aioctl__v1__reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	nng_close(s);
	return rep;
}

static Aioctl__V1__Reply *envelope_call(Aioctl__V1__Request *req)
{
	size_t len = protobuf_c_message_get_packed_size(&req->base);
	uint8_t *buf = malloc(len + 1);
	Aioctl__V1__Reply *rep;

	protobuf_c_message_pack(&req->base, buf);
	rep = raw_call(buf, len);
	free(buf);
	return rep;
}

Test(rpc, garbage_envelope)
{
	Aioctl__V1__Reply *rep = raw_call("\xff\xff\xff\xff garbage", 12);

	cr_assert_not_null(rep);
	cr_expect_eq(rep->status, AIO_INVALID_ARGUMENT);
	cr_expect(strstr(rep->message, "envelope"), "%s", rep->message);
	aioctl__v1__reply__free_unpacked(rep, NULL);
}

Test(rpc, empty_message)
{
	Aioctl__V1__Reply *rep = raw_call("", 0);

	cr_assert_not_null(rep);
	cr_expect_eq(rep->status, AIO_INVALID_ARGUMENT, "required fields are missing");
	aioctl__v1__reply__free_unpacked(rep, NULL);
}

Test(rpc, unknown_method_and_bad_payload)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Reply *rep;

	req.method = "aioctl.v1.Agent/Nope";
	req.request_id = 77;
	rep = envelope_call(&req);
	cr_assert_not_null(rep);
	cr_expect_eq(rep->status, AIO_UNIMPLEMENTED);
	cr_expect_eq(rep->request_id, 77, "the reply names the request");
	aioctl__v1__reply__free_unpacked(rep, NULL);

	req.method = "aioctl.v1.Agent/Hello";
	req.has_payload = true;
	req.payload.data = (uint8_t *)"\x0a\xff\xff\xff";
	req.payload.len = 4;
	rep = envelope_call(&req);
	cr_assert_not_null(rep);
	cr_expect_eq(rep->status, AIO_INVALID_ARGUMENT);
	cr_expect(strstr(rep->message, "HelloRequest"), "%s", rep->message);
	aioctl__v1__reply__free_unpacked(rep, NULL);

	/* a valid message that lacks a required field (host_id) */
	req.payload.len = 0;
	rep = envelope_call(&req);
	cr_assert_not_null(rep);
	cr_expect_eq(rep->status, AIO_INVALID_ARGUMENT);
	aioctl__v1__reply__free_unpacked(rep, NULL);
}

Test(rpc, long_method_name)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	char name[300];
	Aioctl__V1__Reply *rep;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	req.method = name;
	req.request_id = 1;
	rep = envelope_call(&req);
	cr_assert_not_null(rep);
	cr_expect_eq(rep->status, AIO_INVALID_ARGUMENT);
	aioctl__v1__reply__free_unpacked(rep, NULL);
}

Test(rpc, expired_deadline)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	Aioctl__V1__Reply *rep;

	req.method = "aioctl.v1.Agent/Hello";
	req.request_id = 5;
	req.has_deadline_ms = true;
	req.deadline_ms = aio_now_ms() - 1000;
	rep = envelope_call(&req);
	cr_assert_not_null(rep);
	cr_expect_eq(rep->status, AIO_DEADLINE_EXCEEDED);
	aioctl__v1__reply__free_unpacked(rep, NULL);
}

Test(rpc, oversize_dropped_and_server_keeps_serving)
{
	size_t len = 128 * 1024; /* the server takes 64 KiB */
	char *big = calloc(1, len);
	struct aio_rpc_status st;
	nng_socket s;
	nng_msg *m;
	uint64_t seq;

	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500);
	cr_assert_eq(nng_dial(s, url, NULL, 0), 0);
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, big, len), 0);
	cr_assert_eq(nng_sendmsg(s, m, 0), 0);
	cr_expect_eq(nng_recvmsg(s, &m, 0), NNG_ETIMEDOUT, "no reply to an oversize message");
	nng_close(s);
	free(big);
	cr_expect_eq(hello(cli, "after", &seq, &st), AIO_OK, "%s", st.message);
}

static void *watch_thread(void *arg)
{
	Aioctl__V1__WatchRequest in = AIOCTL__V1__WATCH_REQUEST__INIT;
	Aioctl__V1__WatchReply *out = NULL;
	struct aio_rpc_client *watcher = client("watcher");
	struct aio_rpc_status st;
	uintptr_t result = 0;

	if (aio_rpc_invoke(watcher, &aioctl__v1__agent__descriptor, "Watch", &in.base, 10000, true,
	                   (ProtobufCMessage **)&out, &st) != AIO_OK)
		result = 1;
	else if (out->n_commands != 1 || out->commands[0]->command_id != 4242)
		result = 2;
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
	aio_rpc_client_free(watcher);
	return (void *)result;
}

Test(rpc, held_calls_do_not_block_others)
{
	struct aio_rpc_status st;
	pthread_t t[6];
	uint64_t seq, deadline;

	/* more held calls than the pool (4) has contexts */
	for (int i = 0; i < 6; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, watch_thread, NULL), 0);
	deadline = aio_mono_ms() + 5000;
	while (held_count() < 6 && aio_mono_ms() < deadline)
		usleep(10 * 1000);
	cr_assert_eq(held_count(), 6);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(hello(cli, "busy", &seq, &st), AIO_OK, "%s", st.message);
	release_held();
	for (int i = 0; i < 6; i++) {
		void *r;

		pthread_join(t[i], &r);
		cr_expect_null(r, "watch %d got its command", i);
	}
}

Test(rpc, client_timeout)
{
	Aioctl__V1__WatchRequest in = AIOCTL__V1__WATCH_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	struct aio_rpc_status st;
	uint64_t start = aio_mono_ms();

	cr_expect_eq(aio_rpc_invoke(cli, &aioctl__v1__agent__descriptor, "Watch", &in.base, 200,
	                            true, &out, &st),
	             AIO_DEADLINE_EXCEEDED);
	cr_expect_lt(aio_mono_ms() - start, 2000);
	cr_expect(strstr(st.message, url), "the message names the server: %s", st.message);
	release_held(); /* so the server can shut down */
}

static void *many_calls(void *arg)
{
	struct aio_rpc_status st;

	for (int i = 0; i < 200; i++) {
		Aioctl__V1__ReportRequest in = AIOCTL__V1__REPORT_REQUEST__INIT;
		Aioctl__V1__Sample smp = AIOCTL__V1__SAMPLE__INIT;
		Aioctl__V1__ReportReply *out = NULL;

		in.seq = (uint64_t)(uintptr_t)arg * 1000 + (uint64_t)i;
		in.sample = &smp;
		if (aio_rpc_invoke(cli, &aioctl__v1__agent__descriptor, "Report", &in.base, 5000,
		                   false, (ProtobufCMessage **)&out, &st) != AIO_OK)
			return (void *)1;
		if (out->acked_seq != in.seq)
			return (void *)2;
		protobuf_c_message_free_unpacked(&out->base, NULL);
	}
	return NULL;
}

Test(rpc, concurrent_calls_on_one_client)
{
	pthread_t t[8];

	for (uintptr_t i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, many_calls, (void *)(i + 1)), 0);
	for (int i = 0; i < 8; i++) {
		void *r;

		pthread_join(t[i], &r);
		cr_expect_null(r, "thread %d: every reply matches its request", i);
	}
}

Test(rpc, connect_refused)
{
	struct aio_rpc_client_opts o = { .url = "tcp://127.0.0.1:1", .wait_connect = true };
	struct aio_rpc_client *c = NULL;
	char err[256];

	cr_expect_lt(aio_rpc_client_open(&o, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "127.0.0.1:1"), "%s", err);
}

Test(rpc, status_names)
{
	cr_expect_str_eq(aio_status_name(AIO_UNAUTHENTICATED), "UNAUTHENTICATED");
	cr_expect_str_eq(aio_status_name(AIO_OK), "OK");
	cr_expect_str_eq(aio_status_name(99), "STATUS_99");
}
