/* Correctness at concurrency: 200 simulated agents (aio-sim, the real
 * protocol, one connection each) report, hold Watches and take a rollout;
 * nothing is lost or stored twice and every Watch is answered. And the
 * benchmark's catch-up, small: an hour of spool per host in batches. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define HOSTS 200

static struct h_env env;

static bool all_reported(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e), *h;
	size_t i, n = 0;

	json_array_foreach(json_object_get(fleet, "hosts"), i, h)
	{
		n += json_is_true(json_object_get(h, "online")) &&
		     json_is_integer(json_object_get(h, "aio_nr"));
	}
	json_decref(fleet);
	return n == HOSTS;
}

Test(sim, two_hundred_agents_report_and_take_a_rollout, .timeout = 120)
{
	const char *set[] = { "fleet",   "set",  "--max",  "2097152", "--canary", "0",
		              "--batch", "100%", "--soak", "0s",      "--yes",    NULL };
	const char *args[] = { "--hosts", "200", "--interval", "300ms", "--duration", "8s", NULL };
	char *out = NULL;
	json_t *ro, *sim;
	json_error_t jerr;
	pid_t pid;
	int status;

	h_env_init(&env);
	h_server_start(&env);
	pid = h_sim_start(&env, "sim", args);
	cr_assert(h_wait(all_reported, &env, NULL, 30000), "not every simulated agent reported");

	{
		const char *a[16];
		size_t n = 0;

		for (; set[n]; n++)
			a[n] = set[n];
		a[n++] = "--output";
		a[n++] = "json";
		a[n] = NULL;
		cr_assert_eq(h_aioctl(&env, &out, NULL, a), 0, "the rollout completes");
	}
	ro = json_loads(out, 0, &jerr);
	free(out);
	cr_assert_not_null(ro);
	cr_expect_str_eq(json_string_value(json_object_get(ro, "state")), "completed");
	{
		size_t i, done = 0;
		json_t *st;

		json_array_foreach(json_object_get(ro, "steps"), i, st)
		{
			done += !strcmp(json_string_value(json_object_get(st, "state")), "done");
		}
		cr_expect_eq(done, HOSTS, "every agent applied it");
	}
	json_decref(ro);

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sim = h_sim_figures(&env, "sim");
	cr_expect_eq(json_integer_value(json_object_get(sim, "reports_failed")), 0);
	cr_expect_eq(json_integer_value(json_object_get(sim, "commands")), HOSTS);
	cr_expect_eq(json_integer_value(json_object_get(sim, "acks")), HOSTS,
	             "every command acknowledged");
	cr_expect_geq(json_integer_value(json_object_get(sim, "watches")), HOSTS,
	              "every held Watch answered");
	/* what was acknowledged is stored, once, with no gap in any host's seq */
	cr_expect_geq(h_db_value(&env, "SELECT sum(reports) FROM series"),
	              json_integer_value(json_object_get(sim, "reports_ok")));
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series"
	                              " WHERE reports != seq_last - seq_first + 1"),
	             0);
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series s WHERE reports !="
	                              " (SELECT sum(count) FROM rollup_5m_all r"
	                              " WHERE r.host_id = s.host_id)"),
	             0, "each report in the rollups once");
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series"), HOSTS);
	json_decref(sim);
	h_env_fini(&env);
}

/* The catch-up after an outage, small: each host's hour of spooled
 * reports (360 at 10 s) comes in one ReportBatch, and every one is
 * stored exactly once, in the rollups too. */
Test(sim, an_hour_of_spooled_reports_per_host_in_batches, .timeout = 120)
{
	const char *args[] = { "--hosts", "200", "--backfill", "1h", "--batch", "360", NULL };
	json_t *sim;

	h_env_init(&env);
	h_server_start(&env);
	h_sim_run(&env, "sim", args);
	sim = h_sim_figures(&env, "sim");
	cr_expect_eq(json_integer_value(json_object_get(sim, "reports_ok")), HOSTS * 360);
	cr_expect_eq(json_integer_value(json_object_get(sim, "reports_failed")), 0);
	cr_expect_leq(json_integer_value(json_object_get(sim, "requests")) -
	                      json_integer_value(json_object_get(sim, "retries")),
	              HOSTS, "one call per host");
	cr_expect_eq(h_db_value(&env, "SELECT sum(reports) FROM series"), HOSTS * 360);
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series"
	                              " WHERE reports != 360 OR seq_first != 1 OR seq_last != 360"),
	             0, "every host's seqs 1..360, each once");
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series s WHERE reports !="
	                              " (SELECT sum(count) FROM rollup_5m_all r"
	                              " WHERE r.host_id = s.host_id)"),
	             0, "each report in the rollups once");
	json_decref(sim);
	h_env_fini(&env);
}
