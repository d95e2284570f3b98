/* The walking skeleton end to end: real aio-server, aio-agents on temporary
 * sysroots and aioctl, all on loopback. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aioctl.pb-c.h"
#include "clock.h"
#include "harness.h"

#define INTERVAL    "1s"
#define INTERVAL_MS 1000

static struct h_env env;
static char mounted[400]; /* a tmpfs of the test's, in its own namespace */

static void setup(void)
{
	h_env_init(&env);
}

static void teardown(void)
{
	if (mounted[0])
		umount2(mounted, MNT_DETACH);
	h_env_fini(&env);
}

static bool log_has(struct h_env *e, void *arg)
{
	return strstr(h_log_tail(e, "server", 8000), arg) != NULL;
}

TestSuite(fleet, .init = setup, .fini = teardown, .timeout = 120);

struct expect {
	const char *host;
	long long aio_nr, aio_max_nr;
	bool online;
};

static bool host_is(struct h_env *e, void *arg)
{
	const struct expect *x = arg;
	json_t *fleet = h_fleet(e), *h;
	bool ok;

	if (!fleet)
		return false;
	h = h_fleet_host(fleet, x->host);
	ok = h && json_integer_value(json_object_get(h, "aio_nr")) == x->aio_nr &&
	     json_integer_value(json_object_get(h, "aio_max_nr")) == x->aio_max_nr &&
	     json_is_true(json_object_get(h, "online")) == x->online;
	json_decref(fleet);
	return ok;
}

static void start_three(char roots[3][300])
{
	const char *rack[] = { "--label", "rack=r1", "--label", "role=compute", NULL };

	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 1024, 65536, roots[0], sizeof(roots[0]));
	h_sysroot_make(&env, "hv2", 63000, 65536, roots[1], sizeof(roots[1]));
	h_sysroot_make(&env, "hv3", 0, 1048576, roots[2], sizeof(roots[2]));
	h_agent_start(&env, "hv1", roots[0], INTERVAL, rack);
	h_agent_start(&env, "hv2", roots[1], INTERVAL, NULL);
	h_agent_start(&env, "hv3", roots[2], INTERVAL, NULL);
}

Test(fleet, three_agents_show_their_sysroots)
{
	char roots[3][300];
	struct expect want[] = { { "hv1", 1024, 65536, true },
		                 { "hv2", 63000, 65536, true },
		                 { "hv3", 0, 1048576, true } };
	json_t *fleet, *h, *labels;

	start_three(roots);
	for (int i = 0; i < 3; i++)
		cr_assert(h_wait(host_is, &env, &want[i], 10000), "%s never showed its values",
		          want[i].host);

	fleet = h_fleet(&env);
	cr_assert_eq(json_array_size(json_object_get(fleet, "hosts")), 3);
	h = h_fleet_host(fleet, "hv2");
	cr_expect_float_eq(json_real_value(json_object_get(h, "utilization")), 63000.0 / 65536,
	                   1e-9);
	h = h_fleet_host(fleet, "hv1");
	labels = json_object_get(h, "labels");
	cr_expect_str_eq(json_string_value(json_object_get(labels, "rack")), "r1");
	cr_expect_str_eq(json_string_value(json_object_get(labels, "role")), "compute");
	cr_expect(json_is_string(json_object_get(h, "last_seen")));
	cr_expect_eq(strlen(json_string_value(json_object_get(h, "last_seen"))), 24,
	             "RFC 3339 with milliseconds and Z");
	json_decref(fleet);
}

Test(fleet, table_sorted_by_utilization)
{
	const char *args[] = { "fleet", "status", "--sort", "util", NULL };
	char roots[3][300], *out;
	struct expect last = { "hv3", 0, 1048576, true };
	char *p1, *p2, *p3;

	start_three(roots);
	cr_assert(h_wait(host_is, &env, &last, 10000));
	cr_assert_eq(h_aioctl(&env, &out, NULL, args), 0);
	p1 = strstr(out, "\nhv1 ");
	p2 = strstr(out, "\nhv2 ");
	p3 = strstr(out, "\nhv3 ");
	cr_assert(p1 && p2 && p3, "%s", out);
	cr_expect(p2 < p1 && p1 < p3, "highest utilisation first:\n%s", out);
	cr_expect(strstr(out, "96.1%"), "%s", out);
	free(out);
}

Test(fleet, change_shows_within_three_intervals)
{
	char roots[3][300];
	struct expect before = { "hv1", 1024, 65536, true }, after = { "hv1", 4096, 2097152, true };

	start_three(roots);
	cr_assert(h_wait(host_is, &env, &before, 10000));
	h_sysroot_set(roots[0], 4096, 2097152);
	cr_expect(h_wait(host_is, &env, &after, 3 * INTERVAL_MS),
	          "a changed value must show within three intervals");
}

Test(fleet, stopped_agent_turns_offline)
{
	char root[300];
	struct expect on = { "hv1", 7, 65536, true }, off = { "hv1", 7, 65536, false };
	pid_t agent;

	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 7, 65536, root, sizeof(root));
	agent = h_agent_start(&env, "hv1", root, INTERVAL, NULL);
	cr_assert(h_wait(host_is, &env, &on, 10000));
	cr_assert_eq(h_stop(&env, agent), 0, "the agent exits cleanly on SIGTERM");
	cr_expect(h_wait(host_is, &env, &off, 3 * INTERVAL_MS + 2000),
	          "offline after three silent intervals");
}

Test(fleet, admin_needs_the_token)
{
	const char *args[] = { "fleet", "status", NULL };
	char *err = NULL;
	FILE *f;

	h_server_start(&env);
	snprintf(env.token_file, sizeof(env.token_file), "%s/wrong.token", env.dir);
	f = fopen(env.token_file, "w");
	cr_assert(f);
	fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	cr_expect_eq(h_aioctl(&env, NULL, &err, args), 4);
	cr_expect(strstr(err, "not accepted"), "%s", err);
	free(err);

	snprintf(env.token_file, sizeof(env.token_file), "%s/empty.token", env.dir);
	f = fopen(env.token_file, "w");
	fclose(f);
	cr_expect_eq(h_aioctl(&env, NULL, &err, args), 4);
	cr_expect(strstr(err, "need a token"), "%s", err);
	free(err);
}

Test(fleet, cli_exit_codes)
{
	const char *unknown[] = { "host", "show", "nope", NULL };
	const char *badflag[] = { "fleet", "status", "--sort", "bogus", NULL };
	const char *badopt[] = { "fleet", "status", "--frobnicate", NULL };
	char *err = NULL;
	struct h_env gone;

	h_server_start(&env);
	cr_expect_eq(h_aioctl(&env, NULL, &err, unknown), 3);
	cr_expect(strstr(err, "no host named nope"), "%s", err);
	free(err);
	cr_expect_eq(h_aioctl(&env, NULL, &err, badflag), 64);
	cr_expect(strstr(err, "--sort bogus"), "%s", err);
	free(err);
	cr_expect_eq(h_aioctl(&env, NULL, &err, badopt), 64);
	free(err);

	/* nothing listens on a fresh env's admin port */
	h_env_init(&gone);
	snprintf(gone.token_file, sizeof(gone.token_file), "%s", env.token_file);
	cr_expect_eq(h_aioctl(&gone, NULL, &err, unknown), 2);
	cr_expect(strstr(err, gone.admin_url), "names the URL: %s", err);
	free(err);
	h_env_fini(&gone);
}

/* A listener that takes connections and says nothing (a hung server, a
 * firewall that swallows the handshake): --timeout covers connecting. */
Test(fleet, timeout_covers_a_silent_server)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64], *err = NULL;
	const char *args[] = { "--server", url,     "--token-file", "/dev/null", "--timeout",
		               "1s",       "fleet", "status",       NULL };
	uint64_t t0;
	int code;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
	t0 = aio_mono_ms();
	code = h_aioctl(&env, NULL, &err, args);
	cr_expect_eq(code, 2, "%s", err);
	cr_expect_lt(aio_mono_ms() - t0, 5000, "gave up after %llu ms",
	             (unsigned long long)(aio_mono_ms() - t0));
	cr_expect(strstr(err, "no answer within 1s"), "%s", err);
	free(err);
	close(fd);
}

/* One raw request on the agent port; returns the reply status or -1. */
static int raw_status(const char *url, const void *bytes, size_t len, int timeout_ms)
{
	Aioctl__V1__Reply *rep;
	nng_socket s;
	nng_msg *m;
	int status = -1;

	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	cr_assert_eq(nng_dial(s, url, NULL, 0), 0);
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	cr_assert_eq(nng_msg_append(m, bytes, len), 0);
	cr_assert_eq(nng_sendmsg(s, m, 0), 0);
	if (nng_recvmsg(s, &m, 0) == 0) {
		rep = aioctl__v1__reply__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
		if (rep)
			status = rep->status;
		aioctl__v1__reply__free_unpacked(rep, NULL);
		nng_msg_free(m);
	}
	nng_close(s);
	return status;
}

Test(fleet, garbage_and_oversize_leave_others_served)
{
	char root[300];
	struct expect on = { "hv1", 1, 65536, true }, later = { "hv1", 2, 65536, true };

	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 1, 65536, root, sizeof(root));
	h_agent_start(&env, "hv1", root, INTERVAL, NULL);
	cr_assert(h_wait(host_is, &env, &on, 10000));

	cr_expect_eq(raw_status(env.agent_url, "\x12\x34garbage", 9, 5000), 3,
	             "garbage gets INVALID_ARGUMENT");
	cr_expect_eq(raw_status(env.admin_url, "\x0a\x05hello", 7, 5000), 3);
	cr_expect(h_sp_oversize(env.agent_url, 2 << 20, 5000),
	          "a message past the 1 MiB default: the connection is dropped");

	/* the agent and aioctl are still served */
	h_sysroot_set(root, 2, 65536);
	cr_expect(h_wait(host_is, &env, &later, 5000));
	cr_expect(h_alive(env.server));
}

static bool server_up(struct h_env *e, void *arg)
{
	const char *args[] = { "fleet", "status", NULL };

	(void)arg;
	return h_aioctl(e, NULL, NULL, args) == 0;
}

static bool exited(struct h_env *e, void *arg)
{
	int *status = arg;
	pid_t pid = waitpid(e->server, status, WNOHANG);

	return pid == e->server;
}

/* A lost database beside a state dir that held a server is not an empty
 * fleet: the server refuses until told to start one. */
Test(fleet, a_lost_database_is_not_an_empty_fleet)
{
	char db[600];
	int status = 0;

	h_server_start(&env);
	cr_assert_eq(h_stop(&env, env.server), 0);
	snprintf(db, sizeof(db), "%s/server.db", env.state_dir);
	if (env.db_url[0])
		h_db_sql(&env, NULL, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	else
		h_sh("rm -f '%s-wal' '%s-shm' && : > '%s'", db, db, db);
	env.server = h_server_spawn(&env, "server-lost");
	cr_assert(h_wait(exited, &env, &status, 10000), "the server refuses to start");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	cr_expect(strstr(h_log_tail(&env, "server-lost", 2000), "--initialize"), "%s",
	          h_log_tail(&env, "server-lost", 2000));
	env.server_extra[0] = "--initialize";
	env.server = h_server_spawn(&env, "server-init");
	cr_expect(h_wait(server_up, &env, NULL, 10000), "--initialize starts an empty fleet");
}

/* A damaged database once said "Input/output error" (or "not an error")
 * while loading credentials: the log names the real cause. */
Test(fleet, a_damaged_database_names_its_cause)
{
	const char *log;
	int status = 0;

	h_server_start(&env);
	cr_assert_eq(h_stop(&env, env.server), 0);
	h_db_sql(&env, "DROP TABLE tokens", "DROP TABLE tokens");
	env.server = h_server_spawn(&env, "server-damaged");
	cr_assert(h_wait(exited, &env, &status, 10000), "the server refuses to start");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	log = h_log_tail(&env, "server-damaged", 4000);
	cr_expect(strstr(log, env.db_url[0] ? "relation \"tokens\" does not exist"
	                                    : "no such table: tokens"),
	          "the cause is named:\n%s", log);
	cr_expect_not(strstr(log, "not an error"), "%s", log);
}

static bool stored_again(struct h_env *e, void *arg)
{
	return strstr(h_log_tail(e, "server", 8000), "batches stored again") != NULL;
}

/* A full disk under the server once logged 50 lines a second. A tmpfs of
 * the test's own, in its own mount namespace, filled up. */
Test(fleet, a_full_disk_is_logged_once_not_per_batch)
{
	char *state = mounted, root[300];
	struct expect a = { "hv1", 10, 65536, true }, b = { "hv1", 30, 65536, true };
	const char *log, *p;
	int lines = 0;

	if (env.db_url[0])
		cr_skip_test("SQLite's disk; PostgreSQL's own going away is test_pg's");

	if (geteuid() != 0)
		cr_skip_test("needs root for a mount namespace");
	cr_assert_eq(unshare(CLONE_NEWNS), 0);
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	snprintf(state, sizeof(mounted), "%s", env.state_dir);
	h_sh("mkdir -p '%s'", state);
	if (mount("tmpfs", state, "tmpfs", 0, "size=4m,mode=0700") < 0) {
		state[0] = '\0';
		cr_assert_fail("mount tmpfs: %s", strerror(errno));
	}

	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 10, 65536, root, sizeof(root));
	h_agent_start(&env, "hv1", root, "100ms", NULL);
	cr_assert(h_wait(host_is, &env, &a, 10000));
	h_sh("dd if=/dev/zero of='%s/filler' bs=64k 2>/dev/null; true", state);
	h_sysroot_set(root, 30, 65536);
	cr_assert(h_wait(log_has, &env, "not stored", 10000), "%s",
	          h_log_tail(&env, "server", 2000));
	/* some 30 reports (one a batch) fail while the disk stays full */
	usleep(3000 * 1000);
	h_sh("rm -f '%s/filler'", state);
	cr_assert(h_wait(stored_again, &env, NULL, 15000), "%s", h_log_tail(&env, "server", 2000));
	cr_expect(h_wait(host_is, &env, &b, 10000), "the agent kept what failed and sent it again");
	log = h_log_tail(&env, "server", 16000);
	for (p = log; (p = strstr(p, "not stored")); p++)
		lines++;
	cr_expect_leq(lines, 3, "%d lines for one full disk:\n%s", lines, log);
	cr_expect(strstr(log, "full"), "the cause is named:\n%s", log);
}

static bool in_fleet(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e);
	bool found = fleet && h_fleet_host(fleet, arg);

	json_decref(fleet);
	return found;
}

/* A decommissioned host could never be removed and cost memory for ever. */
Test(fleet, host_remove_forgets_a_decommissioned_host)
{
	const char *rm[] = { "host", "remove", "hv1", NULL };
	const char *show[] = { "host", "show", "hv1", NULL };
	struct expect a = { "hv1", 10, 65536, true }, gone = { "hv1", 10, 65536, false };
	struct expect b = { "hv2", 20, 65536, true };
	char root1[300], root2[300], *err = NULL;
	long long id;
	pid_t agent;

	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 10, 65536, root1, sizeof(root1));
	h_sysroot_make(&env, "hv2", 20, 65536, root2, sizeof(root2));
	agent = h_agent_start(&env, "hv1", root1, "100ms", NULL);
	h_agent_start(&env, "hv2", root2, "100ms", NULL);
	cr_assert(h_wait(host_is, &env, &a, 10000));
	cr_assert(h_wait(host_is, &env, &b, 10000));
	id = h_db_value(&env, "SELECT id FROM hosts WHERE name = 'hv1'");

	cr_expect_eq(h_aioctl(&env, NULL, &err, rm), 1, "a host that reports is not removed");
	cr_expect(err && strstr(err, "--force"), "%s", err ? err : "");
	free(err);
	cr_assert_eq(h_stop(&env, agent), 0);
	cr_assert(h_wait(host_is, &env, &gone, 10000), "hv1 offline");
	cr_assert_eq(h_aioctl(&env, NULL, NULL, rm), 0);
	cr_expect_not(in_fleet(&env, "hv1"));
	cr_expect(in_fleet(&env, "hv2"), "the others stay");
	cr_expect_neq(h_aioctl(&env, NULL, NULL, show), 0, "host show: no such host");
	cr_expect_eq(h_db_value(&env,
	                        "SELECT (SELECT count(*) FROM samples WHERE host_id = (SELECT"
	                        " id FROM hosts WHERE name LIKE 'removed:%'))"
	                        " + (SELECT count(*) FROM series WHERE host_id = (SELECT id"
	                        " FROM hosts WHERE name LIKE 'removed:%'))"
	                        " + (SELECT count(*) FROM rollup_5m WHERE host_id = (SELECT id"
	                        " FROM hosts WHERE name LIKE 'removed:%'))"),
	             0, "its history is gone");
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM audit WHERE action = 'host.remove'"
	                              " AND target = 'hv1'"),
	             1, "audited");

	/* still gone after a restart; enrolled again, it is a new host */
	cr_assert_eq(h_stop(&env, env.server), 0);
	env.server = h_server_spawn(&env, "server2");
	cr_assert(h_wait(in_fleet, &env, "hv2", 10000));
	cr_expect_not(in_fleet(&env, "hv1"));
	h_agent_start(&env, "hv1", root1, "100ms", NULL);
	cr_expect(h_wait(host_is, &env, &a, 15000), "a new enrollment brings it back: %s",
	          h_log_tail(&env, "agent-hv1", 1500));
	cr_expect_gt(h_db_value(&env, "SELECT id FROM hosts WHERE name = 'hv1'"), id,
	             "as a new host");
}

Test(fleet, agent_rides_out_a_server_restart)
{
	char root[300];
	struct expect a = { "hv1", 10, 65536, true }, b = { "hv1", 20, 65536, true };
	pid_t agent;
	int i;

	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 10, 65536, root, sizeof(root));
	agent = h_agent_start(&env, "hv1", root, INTERVAL, NULL);
	cr_assert(h_wait(host_is, &env, &a, 10000));

	cr_assert_eq(h_stop(&env, env.server), 0, "the server exits cleanly on SIGTERM");
	h_sysroot_set(root, 20, 65536);
	/* the agent keeps running through several intervals without a server */
	for (i = 0; i < 3; i++) {
		struct expect never = { "hv1", -1, -1, true };

		cr_expect_not(h_wait(host_is, &env, &never, INTERVAL_MS));
		cr_assert(h_alive(agent), "agent died while the server was away");
	}

	env.server = h_server_spawn(&env, "server2");
	cr_expect(h_wait(host_is, &env, &b, 15000), "listed again with fresh values");
}

struct history_want {
	long long min, max, last;
};

static bool history_is(struct h_env *e, void *arg)
{
	const struct history_want *w = arg;
	const char *args[] = { "history", "hv1", "--since", "10m", "--step", "1h", NULL };
	json_t *j = h_aioctl_json(e, args), *p = NULL;
	size_t i;
	long long mn = -1, mx = -1, last = -1;
	json_t *pt;

	/* the 10 minutes may straddle an hour: fold the points */
	json_array_foreach(json_object_get(j, "points"), i, pt)
	{
		long long a = json_integer_value(json_object_get(pt, "min"));
		long long b = json_integer_value(json_object_get(pt, "max"));

		mn = mn < 0 || a < mn ? a : mn;
		mx = b > mx ? b : mx;
		last = json_integer_value(json_object_get(pt, "last"));
		p = pt;
	}
	json_decref(j);
	return p && mn == w->min && mx == w->max && last == w->last;
}

Test(fleet, history_keeps_the_peak_between_reports)
{
	const char *fast[] = { "--sample-interval", "100ms", NULL };
	struct expect first = { "hv1", 100, 65536, true };
	struct history_want want = { 100, 5000, 300 };
	char root[300];

	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 100, 65536, root, sizeof(root));
	h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(host_is, &env, &first, 10000));
	h_sysroot_set(root, 5000, 65536); /* a short peak */
	{
		struct expect peak = { "hv1", 5000, 65536, true };

		cr_assert(h_wait(host_is, &env, &peak, 5000));
	}
	h_sysroot_set(root, 300, 65536);
	cr_expect(h_wait(history_is, &env, &want, 5000),
	          "history shows min 100, max 5000, last 300");
}
