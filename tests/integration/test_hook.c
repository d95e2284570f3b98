/* The qemu hook as libvirt runs it: the installed script (built from
 * deploy/libvirt-hook-qemu.in) with NAME OPERATION SUB-OPERATION EXTRA and
 * the domain XML on stdin, running the real aio-agent guard on a sysroot. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "harness.h"

static struct h_env env;
static char root[300], conf[400];

static void setup(void)
{
	FILE *f;

	h_env_init(&env);
	h_sysroot_make(&env, "hv1", 64512, 65536, root, sizeof(root)); /* room for 1 */
	snprintf(conf, sizeof(conf), "%s/agent.conf", env.dir);
	cr_assert((f = fopen(conf, "w")));
	fprintf(f, "sysroot = %s\nstate-dir = %s/state\nguard = refuse\n", root, env.dir);
	fclose(f);
}

static void teardown(void)
{
	h_env_fini(&env);
}

TestSuite(hook, .init = setup, .fini = teardown, .timeout = 30);

/* Runs the hook script for op with a fixture's XML, as libvirt does;
 * its exit status, stderr in *ret_err (malloc'd). */
static int run(const char *script, const char *op, const char *xml, char **ret_err)
{
	char cmd[2048], out[400];
	int status;

	snprintf(out, sizeof(out), "%s/hook.err", env.dir);
	snprintf(cmd, sizeof(cmd),
	         "AIOCTL_AGENT='%s' AIOCTL_AGENT_CONF='%s' '%s' vm1 %s begin - "
	         "< '%s/tests/fixtures/domains/%s' 2> '%s'",
	         H_BIN("aio-agent"), conf, script, op, AIO_SOURCE_DIR, xml, out);
	status = system(cmd);
	cr_assert(WIFEXITED(status), "%s", cmd);
	cr_assert_eq(aio_file_read_all(out, 1 << 16, ret_err, NULL), 0);
	return WEXITSTATUS(status);
}

/* The hook linked into a qemu.d directory, as the README says. */
static int hook(const char *op, const char *xml, char **ret_err)
{
	char link[400];

	snprintf(link, sizeof(link), "%s/qemu.d/10-aioctl-guard", env.dir);
	if (access(link, X_OK) != 0)
		h_sh("mkdir -p '%s/qemu.d' && ln -s '%s/../libvirt-hook-qemu' '%s'", env.dir,
		     AIO_BIN_DIR, link);
	return run(link, op, xml, ret_err);
}

Test(hook, refuses_a_start_that_does_not_fit_with_one_line)
{
	char *err = NULL;

	cr_expect_eq(hook("prepare", "iothreads.xml", &err), 1, "3 contexts, room for 1");
	cr_expect(strstr(err, "aio-guard: domain iothreads needs 3 AIO contexts"), "%s", err);
	cr_expect(strstr(err, "sysctl -w fs.aio-max-nr="), "%s", err);
	cr_expect_eq(strchr(err, '\n') - err + 1, (long)strlen(err), "one line: %s", err);
	free(err);
	cr_expect_eq(hook("prepare", "main-loop-native.xml", &err), 0, "1 context fits: %s", err);
	free(err);
	cr_expect_eq(hook("started", "iothreads.xml", &err), 0, "not the guard's moment");
	cr_expect_str_eq(err, "");
	free(err);
	cr_expect_eq(hook("prepare", "mixed-io.xml", &err), 0, "no native AIO");
	free(err);
}

/* A host with one qemu hook script calls the guard first, as the README
 * shows, and its own work still gets the XML. */
Test(hook, chained_from_a_hook_a_host_already_has)
{
	char script[400], *err = NULL, *seen = NULL, path[400];
	FILE *f;

	snprintf(script, sizeof(script), "%s/qemu", env.dir);
	snprintf(path, sizeof(path), "%s/seen.xml", env.dir);
	cr_assert((f = fopen(script, "w")));
	fprintf(f,
	        "#!/bin/sh\nPATH='%s':$PATH\n"
	        "xml=$(cat); printf '%%s' \"$xml\" | aio-agent guard --config "
	        "\"$AIOCTL_AGENT_CONF\" "
	        "\"$@\" || exit 1\n"
	        "printf '%%s' \"$xml\" > '%s'\n",
	        AIO_BIN_DIR, path);
	fclose(f);
	cr_assert_eq(chmod(script, 0755), 0);
	cr_expect_eq(run(script, "prepare", "iothreads.xml", &err), 1, "the guard refuses");
	cr_expect(strstr(err, "needs 3 AIO contexts"), "%s", err);
	free(err);
	cr_expect_eq(run(script, "prepare", "main-loop-native.xml", &err), 0, "%s", err);
	free(err);
	cr_assert_eq(aio_file_read_all(path, 1 << 20, &seen, NULL), 0);
	cr_expect(strstr(seen, "<name>main-loop-native</name>"), "the host's own hook got the XML");
	free(seen);
}

struct kinds {
	int refused, raised;
	long long errors;
};

static bool reported(struct h_env *e, void *arg)
{
	const char *args[] = { "errors", "--host", "hv1", NULL };
	json_t *j = h_aioctl_json(e, args), *ev, *fleet, *h;
	struct kinds *want = arg, got = { 0, 0, -1 };
	size_t i;

	json_array_foreach(json_object_get(j, "events"), i, ev)
	{
		const char *k = json_string_value(json_object_get(ev, "kind"));
		const char *vm = json_string_value(json_object_get(ev, "vm"));

		if (k && vm && !strcmp(vm, "iothreads")) {
			got.refused += !strcmp(k, "guard-refused");
			got.raised += !strcmp(k, "guard-raised");
		}
	}
	json_decref(j);
	if ((fleet = h_fleet(e)) && (h = h_fleet_host(fleet, "hv1")))
		got.errors = json_integer_value(json_object_get(h, "errors_24h"));
	json_decref(fleet);
	return got.refused == want->refused && got.raised == want->raised &&
	       got.errors == want->errors;
}

static bool guard_alert(struct h_env *e, void *arg)
{
	const char *args[] = { "alerts", NULL };
	json_t *j = h_aioctl_json(e, args), *a;
	bool found = false;
	size_t i;

	(void)arg;
	json_array_foreach(json_object_get(j, "alerts"), i, a)
	{
		found |= !strcmp(json_string_value(json_object_get(a, "kind")), "guard") &&
		         !strcmp(json_string_value(json_object_get(a, "subject")), "hv1") &&
		         !strcmp(json_string_value(json_object_get(a, "state")), "active");
	}
	json_decref(j);
	return found;
}

/* The guard's decisions reach the fleet through the agent: a refusal is
 * an AIO error of its host, a raise is listed and is not; either is an
 * alert. */
Test(hook, decisions_reach_the_fleet)
{
	struct kinds refused = { 1, 0, 1 }, raised = { 1, 1, 1 };
	char *err = NULL;
	FILE *f;

	cr_assert((f = fopen(conf, "w")));
	fprintf(f, "sysroot = %s\nstate-dir = %s/agent-hv1\nguard = refuse\n", root, env.dir);
	fclose(f);
	env.server_extra[0] = "--alert-interval";
	env.server_extra[1] = "100ms";
	h_server_start(&env);
	h_agent_start(&env, "hv1", root, "200ms", NULL);
	cr_expect_eq(hook("prepare", "iothreads.xml", &err), 1, "%s", err);
	free(err);
	cr_expect(h_wait(reported, &env, &refused, 10000), "guard-refused, one AIO error");
	cr_assert((f = fopen(conf, "w")));
	fprintf(f, "sysroot = %s\nstate-dir = %s/agent-hv1\nguard = raise\n", root, env.dir);
	fclose(f);
	cr_expect_eq(hook("prepare", "iothreads.xml", &err), 0, "%s", err);
	free(err);
	cr_expect(h_wait(reported, &env, &raised, 10000), "guard-raised listed, not an error");
	{
		const char *show[] = { "host", "show", "hv1", NULL };
		json_t *fleet = h_fleet(&env);
		json_t *h = h_fleet_host(fleet, "hv1");

		cr_expect_eq(json_integer_value(json_object_get(h, "largest_demand_contexts")), 3,
		             "the largest domain that asked to start");
		json_decref(fleet);
		cr_expect_eq(h_aioctl(&env, &err, NULL, show), 0);
		cr_expect(
		        strstr(err, "Guard:       the largest domain that asked to start wanted 3"),
		        "%s", err);
		free(err);
	}
	cr_expect(h_wait(guard_alert, &env, NULL, 10000), "a guard alert for hv1");
	err = h_http_get(&env, "/metrics");
	cr_expect(strstr(err, "aioctl_guard_decisions_total{decision=\"refused\"} 1\n"), "%s", err);
	cr_expect(strstr(err, "aioctl_guard_decisions_total{decision=\"raised\"} 1\n"), "%s", err);
	free(err);
}
