/* Coordinated limit rollouts end to end: real aio-server, aio-agents on
 * sysroots, aioctl fleet set / rollout / drift / reconcile on loopback. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "harness.h"

#define INTERVAL "300ms"
#define TARGET   2097152
#define OUR_FILE "/etc/sysctl.d/zz-aioctl.conf"

static struct h_env env;
static char roots[32][256];
static pid_t agents[32];

static void setup(void)
{
	h_env_init(&env);
}

static void teardown(void)
{
	h_env_fini(&env);
}

TestSuite(rollout, .init = setup, .fini = teardown, .timeout = 180);

static const char *name_of(int i)
{
	static char names[32][16];

	snprintf(names[i], sizeof(names[i]), "hv-%02d", i);
	return names[i];
}

static pid_t start_agent(int i, const char *const *extra)
{
	const char *argv[16] = { "--attribution-interval", "1s" };
	size_t n = 2;

	for (size_t k = 0; extra && extra[k] && n < 15; k++)
		argv[n++] = extra[k];
	argv[n] = NULL;
	return agents[i] = h_agent_start(&env, name_of(i), roots[i], INTERVAL, argv);
}

static bool all_online(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e), *h;
	size_t i, n = 0;

	if (!fleet)
		return false;
	json_array_foreach(json_object_get(fleet, "hosts"), i, h)
	{
		n += json_is_true(json_object_get(h, "online")) &&
		     json_is_object(json_object_get(h, "persisted"));
	}
	json_decref(fleet);
	return n >= (size_t) * (int *)arg;
}

/* n hosts at 65536 with 100 in use, their agents running. */
static void fleet_of(int n)
{
	h_server_start(&env);
	for (int i = 0; i < n; i++) {
		h_sysroot_make(&env, name_of(i), 100, 65536, roots[i], sizeof(roots[i]));
		h_sh("mkdir -p '%s/etc/sysctl.d'", roots[i]);
		start_agent(i, NULL);
	}
	cr_assert(h_wait(all_online, &env, &n, 20000), "agents did not all report");
}

static uint64_t live_value(int i)
{
	return h_sysroot_max(roots[i]);
}

static char *our_file(int i)
{
	char path[8600], *text = NULL;

	snprintf(path, sizeof(path), "%s" OUR_FILE, roots[i]);
	if (aio_file_read_all(path, 65536, &text, NULL) < 0)
		return NULL;
	return text;
}

static int aioctl_json(json_t **ret, const char *const *args)
{
	const char *argv[40];
	json_error_t jerr;
	size_t n = 0;
	char *out = NULL;
	int code;

	for (; args[n] && n < 37; n++)
		argv[n] = args[n];
	argv[n++] = "--output";
	argv[n++] = "json";
	argv[n] = NULL;
	code = h_aioctl(&env, &out, NULL, argv);
	*ret = json_loads(out, 0, &jerr);
	free(out);
	return code;
}

static json_t *step_of(json_t *ro, const char *host)
{
	size_t i;
	json_t *st;

	json_array_foreach(json_object_get(ro, "steps"), i, st)
	{
		if (!strcmp(json_string_value(json_object_get(st, "host")), host))
			return st;
	}
	return NULL;
}

static const char *state_of(json_t *ro, const char *host)
{
	json_t *st = step_of(ro, host);

	return st ? json_string_value(json_object_get(st, "state")) : "(no step)";
}

Test(rollout, twenty_hosts_then_nothing_to_do)
{
	const char *set[] = { "fleet",  "set", "--max",   "2097152", "--yes",
		              "--soak", "0s",  "--batch", "50%",     NULL };
	json_t *ro;
	int n = 20;

	fleet_of(n);
	cr_assert_eq(aioctl_json(&ro, set), 0, "the rollout completes");
	cr_expect_str_eq(json_string_value(json_object_get(ro, "state")), "completed");
	cr_expect_eq(json_array_size(json_object_get(ro, "steps")), 20);
	json_decref(ro);
	for (int i = 0; i < n; i++) {
		char *text = our_file(i);

		cr_expect_eq(live_value(i), TARGET, "%s live", name_of(i));
		cr_assert_not_null(text, "%s has no " OUR_FILE, name_of(i));
		cr_expect(strstr(text, "fs.aio-max-nr = 2097152\n"), "%s: %s", name_of(i), text);
		free(text);
	}
	/* the same again: every host is at the target live and after reboot */
	cr_assert_eq(aioctl_json(&ro, set), 0);
	cr_expect_eq(json_array_size(json_object_get(ro, "steps")), 0, "nothing to do");
	cr_expect_eq(json_array_size(json_object_get(ro, "skipped")), 20);
	json_decref(ro);
}

/* A later-sorting file on host i that keeps 65536 at boot. */
static void shadow(int i)
{
	h_sh("echo 'fs.aio-max-nr = 65536' > '%s/etc/sysctl.d/zzz-local.conf'", roots[i]);
}

Test(rollout, failure_pauses_then_resume_and_abort)
{
	const char *set[] = { "fleet", "set",      "--max", "2097152", "--yes", "--soak",
		              "0s",    "--canary", "1",     "--batch", "2",     "--max-failures",
		              "0",     NULL };
	const char *show[] = { "rollout", "show", "1", NULL };
	const char *resume[] = { "rollout", "resume", "1", NULL };
	const char *abort_[] = { "rollout", "abort", "2", NULL };
	const char *set2[] = { "fleet",   "set",    "--max",     "1048576",  "--allow-lower",
		               "--yes",   "--soak", "5s",        "--canary", "1",
		               "--batch", "1",      "--no-wait", NULL };
	json_t *ro, *st;
	int n = 5;

	fleet_of(n);
	shadow(0); /* hv-00 is the canary and fails */
	cr_assert_eq(aioctl_json(&ro, set), 5, "paused by the failure: exit 5");
	cr_expect_str_eq(json_string_value(json_object_get(ro, "state")), "paused");
	st = step_of(ro, "hv-00");
	cr_expect_str_eq(json_string_value(json_object_get(st, "state")), "failed");
	cr_expect(strstr(json_string_value(json_object_get(st, "message")),
	                 "/etc/sysctl.d/zzz-local.conf"),
	          "the failure names the file that wins at boot: %s",
	          json_string_value(json_object_get(st, "message")));
	for (int i = 1; i < n; i++)
		cr_expect_str_eq(state_of(ro, name_of(i)), "pending", "later waves untouched");
	json_decref(ro);
	for (int i = 0; i < n; i++) {
		char *text = our_file(i);

		cr_expect_null(text, "%s: no file written", name_of(i));
		free(text);
		cr_expect_eq(live_value(i), 65536);
	}

	/* resume: the failure so far is accepted, the rest goes ahead */
	cr_assert_eq(aioctl_json(&ro, resume), 0);
	json_decref(ro);
	for (int tries = 0; tries < 100; tries++) {
		cr_assert_eq(aioctl_json(&ro, show), 0);
		if (!strcmp(json_string_value(json_object_get(ro, "state")), "completed"))
			break;
		json_decref(ro);
		ro = NULL;
		usleep(100 * 1000);
	}
	cr_assert_not_null(ro, "resumed rollout did not complete");
	for (int i = 1; i < n; i++) {
		cr_expect_str_eq(state_of(ro, name_of(i)), "done");
		cr_expect_eq(live_value(i), TARGET);
	}
	json_decref(ro);

	/* abort: a slow rollout stops; hosts not reached keep their value */
	h_sh("rm '%s/etc/sysctl.d/zzz-local.conf'", roots[0]);
	cr_assert_eq(aioctl_json(&ro, set2), 0);
	json_decref(ro);
	cr_assert_eq(aioctl_json(&ro, abort_), 0);
	cr_expect_str_eq(json_string_value(json_object_get(ro, "state")), "aborted");
	json_decref(ro);
	cr_expect_eq(live_value(4), TARGET, "the last wave never started");
}

Test(rollout, rollback_restores_exactly)
{
	const char *set[] = { "fleet", "set",          "--max",    "2097152",
		              "--yes", "--soak",       "0s",       "--canary",
		              "1",     "--batch",      "2",        "--max-failures",
		              "0",     "--on-failure", "rollback", NULL };
	static const char old_content[] = "# set by hand in 2019\nfs.aio-max-nr = 262144\n";
	char path[8600], *before;
	json_t *ro;
	int n = 4;

	fleet_of(n);
	/* hv-01 had a file of the same name: it must come back byte for byte */
	snprintf(path, sizeof(path), "%s" OUR_FILE, roots[1]);
	cr_assert_eq(aio_file_write_atomic(path, old_content, strlen(old_content), 0644), 0);
	h_sysroot_set(roots[1], 100, 262144);
	shadow(3); /* the last wave fails */
	/* the server must know hv-01's new state before planning */
	for (int tries = 0; tries < 50; tries++) {
		json_t *fleet = h_fleet(&env);
		json_t *h = h_fleet_host(fleet, "hv-01");
		bool seen = json_integer_value(json_object_get(h, "aio_max_nr")) == 262144;

		json_decref(fleet);
		if (seen)
			break;
		usleep(100 * 1000);
	}

	cr_assert_eq(aioctl_json(&ro, set), 6, "rolled back: exit 6");
	cr_expect_str_eq(json_string_value(json_object_get(ro, "state")), "rolled-back");
	cr_expect_str_eq(state_of(ro, "hv-03"), "failed");
	json_decref(ro);
	cr_expect_eq(live_value(0), 65536);
	cr_expect_eq(live_value(1), 262144);
	cr_expect_eq(live_value(2), 65536);
	before = our_file(1);
	cr_assert_not_null(before);
	cr_expect_str_eq(before, old_content, "the old file, byte for byte");
	free(before);
	for (int i = 0; i < n; i++) {
		char *text = i == 1 ? NULL : our_file(i);

		cr_expect_null(text, "%s: the file the agent created is gone", name_of(i));
		free(text);
	}
}

static bool host_offline(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e);
	json_t *h = h_fleet_host(fleet, (const char *)arg);
	bool off = h && json_is_false(json_object_get(h, "online"));

	json_decref(fleet);
	return off;
}

Test(rollout, offline_host_pending_then_applied)
{
	const char *set[] = { "fleet",  "set", "--max",   "2097152", "--yes",
		              "--soak", "0s",  "--batch", "100%",    NULL };
	const char *show[] = { "rollout", "show", "1", NULL };
	json_t *ro;
	int n = 3;

	fleet_of(n);
	cr_assert_eq(h_stop(&env, agents[2]), 0);
	cr_assert(h_wait(host_offline, &env, (void *)"hv-02", 5000));
	cr_assert_eq(aioctl_json(&ro, set), 9, "done but for an offline host: exit 9");
	cr_expect_str_eq(state_of(ro, "hv-02"), "offline");
	cr_expect_str_eq(state_of(ro, "hv-00"), "done");
	json_decref(ro);
	cr_expect_eq(live_value(2), 65536);

	start_agent(2, NULL);
	for (int tries = 0; tries < 100; tries++) {
		cr_assert_eq(aioctl_json(&ro, show), 0);
		if (!strcmp(state_of(ro, "hv-02"), "done"))
			break;
		json_decref(ro);
		ro = NULL;
		usleep(100 * 1000);
	}
	cr_assert_not_null(ro, "the returning host never got the change");
	cr_expect_str_eq(json_string_value(json_object_get(ro, "state")), "completed");
	json_decref(ro);
	cr_expect_eq(live_value(2), TARGET);
}

static int count_in_log(int i, const char *needle)
{
	char log[32];

	snprintf(log, sizeof(log), "agent-%.15s", name_of(i));
	return h_count_in_log(&env, log, needle);
}

Test(rollout, server_killed_mid_rollout_finishes_once)
{
	const char *set[] = { "fleet",    "set", "--max",   "2097152", "--yes",     "--soak", "1s",
		              "--canary", "1",   "--batch", "1",       "--no-wait", NULL };
	const char *show[] = { "rollout", "show", "1", NULL };
	json_t *ro = NULL;
	int n = 8, done = 0;

	fleet_of(n);
	cr_assert_eq(aioctl_json(&ro, set), 0);
	json_decref(ro);
	/* wait until the rollout is under way, then kill the server hard */
	for (int tries = 0; tries < 200 && done < 3; tries++) {
		done = 0;
		for (int i = 0; i < n; i++)
			done += live_value(i) == TARGET;
		usleep(50 * 1000);
	}
	cr_assert_geq(done, 3);
	cr_assert_lt(done, n, "killed before the end");
	kill(env.server, SIGKILL);
	waitpid(env.server, NULL, 0);
	env.server = h_server_spawn(&env, "server2");

	for (int tries = 0; tries < 300; tries++) {
		if (aioctl_json(&ro, show) == 0 &&
		    !strcmp(json_string_value(json_object_get(ro, "state")), "completed"))
			break;
		json_decref(ro);
		ro = NULL;
		usleep(100 * 1000);
	}
	cr_assert_not_null(ro, "the rollout did not finish after the restart");
	json_decref(ro);
	for (int i = 0; i < n; i++) {
		cr_expect_eq(live_value(i), TARGET);
		cr_expect_eq(count_in_log(i, "fs.aio-max-nr 65536 -> 2097152"), 1,
		             "%s applied exactly once", name_of(i));
	}
}

Test(rollout, dry_run_conflicts_drift_reconcile)
{
	const char *dry[] = { "fleet", "set", "--max", "2097152", "--dry-run", NULL };
	const char *slow[] = { "fleet",  "set",       "--max",    "2097152", "--yes",
		               "--soak", "60s",       "--canary", "1",       "--batch",
		               "1",      "--no-wait", NULL };
	const char *again[] = { "fleet",         "set",   "--max",  "1048576",
		                "--allow-lower", "--yes", "--soak", "0s",
		                "--batch",       "100%",  NULL };
	const char *supersede[] = { "fleet",  "set", "--max",   "1048576", "--allow-lower", "--yes",
		                    "--soak", "0s",  "--batch", "100%",    "--supersede",   NULL };
	const char *list[] = { "rollout", "list", NULL };
	const char *drift[] = { "fleet", "drift", NULL };
	const char *reconcile[] = { "fleet", "reconcile", "--yes", NULL };
	char *err = NULL;
	json_t *ro, *d;
	int n = 3;

	fleet_of(n);
	/* --dry-run: a plan, nothing anywhere */
	cr_assert_eq(aioctl_json(&ro, dry), 0);
	cr_expect(json_is_true(json_object_get(ro, "dry_run")));
	cr_expect_eq(json_array_size(json_object_get(ro, "steps")), 3);
	json_decref(ro);
	cr_assert_eq(aioctl_json(&ro, list), 0);
	cr_expect_eq(json_array_size(json_object_get(ro, "rollouts")), 0, "no rollout stored");
	json_decref(ro);
	for (int i = 0; i < n; i++) {
		char *text = our_file(i);

		cr_expect_null(text);
		free(text);
		cr_expect_eq(live_value(i), 65536);
	}

	/* a second rollout over the same hosts is refused, naming the first */
	cr_assert_eq(aioctl_json(&ro, slow), 0);
	json_decref(ro);
	{
		const char *argv[] = { "fleet",         "set",   "--max", "1048576",
			               "--allow-lower", "--yes", NULL };

		cr_expect_eq(h_aioctl(&env, NULL, &err, argv), 1);
		cr_expect(strstr(err, "rollout 1"), "%s", err);
		free(err);
	}
	(void)again;
	cr_assert_eq(aioctl_json(&ro, supersede), 0, "--supersede takes over");
	json_decref(ro);
	{
		const char *show1[] = { "rollout", "show", "1", NULL };

		cr_assert_eq(aioctl_json(&ro, show1), 0);
		cr_expect_str_eq(json_string_value(json_object_get(ro, "state")), "aborted");
		json_decref(ro);
	}
	for (int i = 0; i < n; i++)
		cr_expect_eq(live_value(i), 1048576);

	/* a hand edit of the live value is drift, with its cause */
	h_sysroot_set(roots[1], 100, 65536);
	for (int tries = 0; tries < 100; tries++) {
		cr_assert_eq(aioctl_json(&d, drift), 0);
		if (json_array_size(json_object_get(d, "hosts")) == 1)
			break;
		json_decref(d);
		d = NULL;
		usleep(100 * 1000);
	}
	cr_assert_not_null(d, "drift not seen");
	{
		json_t *h = json_array_get(json_object_get(d, "hosts"), 0);

		cr_expect_str_eq(json_string_value(json_object_get(h, "host")), "hv-01");
		cr_expect(strstr(json_string_value(json_object_get(h, "cause")), "by hand"), "%s",
		          json_string_value(json_object_get(h, "cause")));
		cr_expect_eq(json_integer_value(json_object_get(h, "desired")), 1048576);
	}
	json_decref(d);
	cr_assert_eq(aioctl_json(&ro, reconcile), 0, "reconcile puts it back");
	json_decref(ro);
	cr_expect_eq(live_value(1), 1048576);
}

Test(rollout, live_status_names_the_silent)
{
	const char *live[] = { "fleet", "status", "--live", "--timeout", "2s", NULL };
	uint64_t start;
	json_t *st;
	int n = 3;

	fleet_of(n);
	h_sysroot_set(roots[0], 777, 65536);
	kill(agents[2], SIGSTOP); /* alive to the server a little longer, but silent */
	start = h_mono_ms();
	cr_assert_eq(aioctl_json(&st, live), 0);
	cr_expect_lt(h_mono_ms() - start, 2000 + 500, "answered within the timeout");
	cr_assert_eq(json_array_size(json_object_get(st, "not_answered")), 1);
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(st, "not_answered"), 0)),
	                 "hv-02");
	cr_expect_eq(json_integer_value(json_object_get(h_fleet_host(st, "hv-00"), "aio_nr")), 777,
	             "a fresh value, not the last report's");
	json_decref(st);
	kill(agents[2], SIGCONT);
}
