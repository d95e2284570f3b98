/* Alerts on the real server, fed by a real agent over a sysroot: each
 * kind starts when its condition begins and clears when it ends, aioctl
 * alerts lists them with both times, and a restart keeps them. */
#include <criterion/criterion.h>
#include <string.h>

#include "clock.h"
#include "harness.h"

static struct h_env env;
static char root[300];

TestSuite(alerts, .timeout = 120);

/* The alert of that kind about that subject, state "active" or
 * "cleared"; a new reference, or NULL. */
static json_t *find_alert(const char *kind, const char *subject, const char *state)
{
	const char *args[] = { "alerts", "--since", "1d", NULL };
	json_t *j = h_aioctl_json(&env, args), *a, *found = NULL;
	size_t i;

	if (!j)
		return NULL;
	json_array_foreach(json_object_get(j, "alerts"), i, a)
	{
		if (!strcmp(json_string_value(json_object_get(a, "kind")), kind) &&
		    !strcmp(json_string_value(json_object_get(a, "subject")), subject) &&
		    !strcmp(json_string_value(json_object_get(a, "state")), state)) {
			found = json_incref(a);
			break;
		}
	}
	json_decref(j);
	return found;
}

struct want {
	const char *kind, *subject, *state;
};

static bool alert_is(struct h_env *e, void *arg)
{
	const struct want *w = arg;
	json_t *a = find_alert(w->kind, w->subject, w->state);

	json_decref(a);
	return a != NULL;
}

static void wait_alert(const char *kind, const char *subject, const char *state)
{
	struct want w = { kind, subject, state };

	cr_assert(h_wait(alert_is, &env, &w, 20000), "%s %s: never %s", kind, subject, state);
}

static bool reported(struct h_env *e, void *arg)
{
	json_t *f = h_fleet(e), *h = f ? h_fleet_host(f, arg) : NULL;
	bool ok = h && json_is_integer(json_object_get(h, "aio_nr"));

	json_decref(f);
	return ok;
}

static long long active_count(void)
{
	const char *args[] = { "alerts", NULL };
	json_t *j = h_aioctl_json(&env, args);
	long long n = j ? (long long)json_integer_value(json_object_get(j, "active")) : -1;

	json_decref(j);
	return n;
}

Test(alerts, start_clear_and_survive_a_restart)
{
	const char *set[] = { "fleet",   "set",  "--max",  "131072", "--canary", "0",
		              "--batch", "100%", "--soak", "0s",     "--yes",    NULL };
	const char *table[] = { "alerts", NULL };
	char *out = NULL;
	json_t *a;
	long long started;
	pid_t agent;

	h_env_init(&env);
	env.server_extra[0] = "--alert-interval";
	env.server_extra[1] = "100ms";
	env.server_extra[2] = "--alert-utilization";
	env.server_extra[3] = "50";
	env.server_extra[4] = "--alert-silent";
	env.server_extra[5] = "2s";
	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 1000, 65536, root, sizeof(root));
	h_sh("mkdir -p '%s/var/log/libvirt/qemu' '%s/etc/sysctl.d'", root, root);
	agent = h_agent_start(&env, "hv1", root, "200ms", NULL);
	cr_assert(h_wait(reported, &env, "hv1", 10000), "hv1 reports");
	{
		struct want none = { "utilization", "hv1", "active" };

		/* ten evaluations */
		cr_assert_not(h_wait(alert_is, &env, &none, 1000), "1000 of 65536 is no alert");
	}
	cr_expect_eq(active_count(), 0);

	/* utilisation: 61% of the limit against a threshold of 50% */
	h_sysroot_set(root, 40000, 65536);
	wait_alert("utilization", "hv1", "active");
	a = find_alert("utilization", "hv1", "active");
	cr_expect_geq(json_real_value(json_object_get(a, "value")), 61.0);
	cr_expect_eq(json_real_value(json_object_get(a, "threshold")), 50.0);
	cr_expect(json_is_null(json_object_get(a, "cleared")));
	cr_expect_not_null(strstr(json_string_value(json_object_get(a, "message")), "40000"));
	json_decref(a);
	h_sysroot_set(root, 1000, 65536);
	wait_alert("utilization", "hv1", "cleared");
	a = find_alert("utilization", "hv1", "cleared");
	cr_expect(json_is_string(json_object_get(a, "cleared")), "a clear time");
	json_decref(a);

	/* errors: one AIO failure in a QEMU log */
	h_sh("printf '%%s\\n' 'failed to create linux AIO context: Resource temporarily "
	     "unavailable' >> '%s/var/log/libvirt/qemu/instance-00000001.log'",
	     root);
	wait_alert("errors", "hv1", "active");

	/* drift: a rollout sets 131072, then someone puts 65536 back by hand */
	cr_assert_eq(h_aioctl(&env, NULL, NULL, set), 0, "the rollout completes");
	h_sysroot_set(root, 1000, 65536);
	wait_alert("drift", "hv1", "active");
	a = find_alert("drift", "hv1", "active");
	cr_expect_not_null(strstr(json_string_value(json_object_get(a, "message")), "by hand"),
	                   "%s", json_string_value(json_object_get(a, "message")));
	json_decref(a);

	/* silent: the agent stops */
	cr_assert_eq(h_stop(&env, agent), 0);
	wait_alert("silent", "hv1", "active");
	a = find_alert("silent", "hv1", "active");
	started = (long long)json_integer_value(json_object_get(a, "started_ms"));
	json_decref(a);

	/* a restart keeps the active ones, with their start */
	cr_assert_eq(h_stop(&env, env.server), 0);
	h_server_start(&env);
	a = find_alert("silent", "hv1", "active");
	cr_assert_not_null(a, "still active after the restart");
	cr_expect_eq(json_integer_value(json_object_get(a, "started_ms")), started);
	json_decref(a);
	a = find_alert("utilization", "hv1", "cleared");
	cr_expect_not_null(a, "the cleared one is still listed");
	json_decref(a);

	/* the agent is back: silence clears, the rest stays as it is */
	agent = h_agent_start(&env, "hv1", root, "200ms", NULL);
	wait_alert("silent", "hv1", "cleared");
	cr_expect_geq(active_count(), 2, "drift and errors still active");

	cr_assert_eq(h_aioctl(&env, &out, NULL, table), 0);
	cr_expect_not_null(strstr(out, "ACTIVE"), "%s", out);
	cr_expect_not_null(strstr(out, "drift"));
	free(out);
	{
		const char *bad[] = { "alerts", "--since", "soon", NULL };
		char *err = NULL;

		cr_expect_eq(h_aioctl(&env, NULL, &err, bad), 64, "a bad flag is a usage error");
		cr_expect(err && strstr(err, "--since"), "names the flag: %s", err ? err : "");
		free(err);
	}
	h_env_fini(&env);
}

/* A rollout waiting on a host that went away stalls; aborting it clears
 * the alert. */
Test(alerts, rollout_stalled)
{
	const char *set[] = { "fleet", "set",       "--max",  "131072", "--canary",
		              "0",     "--yes",     "--soak", "0s",     "--offline-timeout",
		              "1h",    "--no-wait", NULL };
	const char *abort_[] = { "rollout", "abort", "1", NULL };
	json_t *a;
	pid_t agent;

	h_env_init(&env);
	env.server_extra[0] = "--alert-interval";
	env.server_extra[1] = "100ms";
	env.server_extra[2] = "--alert-rollout-stalled";
	env.server_extra[3] = "1s";
	env.server_extra[4] = "--alert-silent";
	env.server_extra[5] = "0";
	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 1000, 65536, root, sizeof(root));
	agent = h_agent_start(&env, "hv1", root, "200ms", NULL);
	cr_assert(h_wait(reported, &env, "hv1", 10000), "hv1 reports");
	cr_assert_eq(h_stop(&env, agent), 0);
	cr_assert_eq(h_aioctl(&env, NULL, NULL, set), 0, "the rollout starts");
	wait_alert("rollout-stalled", "rollout 1", "active");
	a = find_alert("rollout-stalled", "rollout 1", "active");
	cr_expect_not_null(strstr(json_string_value(json_object_get(a, "message")), "running"),
	                   "%s", json_string_value(json_object_get(a, "message")));
	json_decref(a);
	cr_assert_eq(h_aioctl(&env, NULL, NULL, abort_), 0);
	wait_alert("rollout-stalled", "rollout 1", "cleared");
	h_env_fini(&env);
}
