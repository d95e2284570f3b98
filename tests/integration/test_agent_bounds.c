/* The agent's own bounds hold whatever the server sends. A stand-in
 * server (the real RPC layer with a scripted Agent service) pushes limits
 * the real aio-agent must refuse, and one it must apply. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "harness.h"
#include "rpc_server.h"

static struct h_env env;
static struct aio_rpc_server *srv;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int watches;
static int acks[8]; /* status by command id */
static bool acked[8];

static void t_enroll(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__EnrollRequest *in,
                     Aioctl__V1__EnrollReply_Closure closure, void *data)
{
	Aioctl__V1__EnrollReply rep = AIOCTL__V1__ENROLL_REPLY__INIT;

	rep.host_secret = "stand-in-secret";
	closure(&rep, data);
}

static void t_hello(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__HelloRequest *in,
                    Aioctl__V1__HelloReply_Closure closure, void *data)
{
	Aioctl__V1__HelloReply rep = AIOCTL__V1__HELLO_REPLY__INIT;

	closure(&rep, data);
}

static void t_report(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__ReportRequest *in,
                     Aioctl__V1__ReportReply_Closure closure, void *data)
{
	Aioctl__V1__ReportReply rep = AIOCTL__V1__REPORT_REPLY__INIT;

	closure(&rep, data);
}

/* The first Watch gets the script; later ones wait a moment, empty. */
static void t_watch(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__WatchRequest *in,
                    Aioctl__V1__WatchReply_Closure closure, void *data)
{
	static const struct {
		uint64_t target;
		bool force;
	} script[] = {
		{ 999999999, true }, /* 1: above limit-max, even forced */
		{ 1000, true },      /* 2: below limit-min */
		{ 70000, false },    /* 3: under usage (68000) + margin (4096) */
		{ 131072, false },   /* 4: fine */
	};
	Aioctl__V1__WatchReply rep = AIOCTL__V1__WATCH_REPLY__INIT;
	Aioctl__V1__Command cmds[4], *ptrs[4];
	Aioctl__V1__SetLimit sets[4];
	int n;

	pthread_mutex_lock(&lock);
	n = watches++;
	pthread_mutex_unlock(&lock);
	if (n > 0) {
		usleep(200 * 1000);
		closure(&rep, data);
		return;
	}
	for (int i = 0; i < 4; i++) {
		aioctl__v1__command__init(&cmds[i]);
		aioctl__v1__set_limit__init(&sets[i]);
		cmds[i].command_id = (uint64_t)i + 1;
		sets[i].rollout_id = 1;
		sets[i].step_id = (uint64_t)i + 1;
		sets[i].target = script[i].target;
		sets[i].has_force = true;
		sets[i].force = script[i].force;
		cmds[i].set_limit = &sets[i];
		ptrs[i] = &cmds[i];
	}
	rep.commands = ptrs;
	rep.n_commands = 4;
	closure(&rep, data);
}

static void t_ack(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__AckRequest *in,
                  Aioctl__V1__AckReply_Closure closure, void *data)
{
	Aioctl__V1__AckReply rep = AIOCTL__V1__ACK_REPLY__INIT;

	pthread_mutex_lock(&lock);
	if (in->command_id < 8) {
		acks[in->command_id] = in->status;
		acked[in->command_id] = true;
	}
	pthread_mutex_unlock(&lock);
	closure(&rep, data);
}

static Aioctl__V1__Agent_Service service = {
	AIOCTL__V1__AGENT__BASE_INIT, .enroll = t_enroll, .hello = t_hello,
	.report = t_report,           .watch = t_watch,   .ack = t_ack,
};

static void setup(void)
{
	struct aio_rpc_server_opts o = { .url = "tcp://127.0.0.1:0", .service = &service.base };
	char err[256];

	h_env_init(&env);
	cr_assert_eq(aio_rpc_server_start(&o, &srv, err, sizeof(err)), 0, "%s", err);
	snprintf(env.agent_url, sizeof(env.agent_url), "tcp://127.0.0.1:%d",
	         aio_rpc_server_port(srv));
}

static void teardown(void)
{
	h_env_fini(&env); /* the agent goes first: no call is held after */
	aio_rpc_server_free(srv);
}

TestSuite(agent_bounds, .init = setup, .fini = teardown, .timeout = 60);

static bool all_acked(struct h_env *e, void *arg)
{
	bool all = true;

	pthread_mutex_lock(&lock);
	for (int i = 1; i <= 4; i++)
		all &= acked[i];
	pthread_mutex_unlock(&lock);
	return all;
}

Test(agent_bounds, refuses_what_its_policy_forbids)
{
	const char *policy[] = { "--limit-min",    "65536", "--limit-max", "1048576",
		                 "--limit-margin", "4096",  NULL };
	char root[300], path[400], *text = NULL;
	uint64_t live = 0;

	h_sysroot_make(&env, "hv1", 68000, 65536, root, sizeof(root));
	h_sh("mkdir -p '%s/etc/sysctl.d'", root);
	h_agent_start(&env, "hv1", root, "300ms", policy);
	cr_assert(h_wait(all_acked, &env, NULL, 10000), "the agent did not answer every command");

	cr_expect_eq(acks[1], AIOCTL__V1__STATUS_CODE__PERMISSION_DENIED, "above limit-max");
	cr_expect_eq(acks[2], AIOCTL__V1__STATUS_CODE__PERMISSION_DENIED, "below limit-min");
	cr_expect_eq(acks[3], AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION,
	             "under usage plus margin, not forced");
	cr_expect_eq(acks[4], AIOCTL__V1__STATUS_CODE__OK, "within every bound");

	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-max-nr", root);
	cr_assert_eq(aio_file_read_u64(path, &live), 0);
	cr_expect_eq(live, 131072, "only the allowed value was written");
	snprintf(path, sizeof(path), "%s/etc/sysctl.d/zz-aioctl.conf", root);
	cr_assert_eq(aio_file_read_all(path, 4096, &text, NULL), 0);
	cr_expect(strstr(text, "fs.aio-max-nr = 131072"), "%s", text);
	free(text);
}
