/* The benchmark's soak, small: 3,000 simulated agents (aio-sim), each on
 * its own connection, from two loopback source addresses. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;

/* established connections to the agent port from 127.0.0.k (the
 * kernel's table: local and remote address as hex, state 01) */
static long connections_from(int k)
{
	unsigned port = (unsigned)atoi(strrchr(env.agent_url, ':') + 1);
	char line[256], want[32];
	long n = 0;
	FILE *f = fopen("/proc/net/tcp", "r");

	cr_assert_not_null(f);
	snprintf(want, sizeof(want), "%02X00007F:", (unsigned)k);
	while (fgets(line, sizeof(line), f)) {
		char local[64], remote[64], state[8];
		unsigned rport;

		if (sscanf(line, "%*s %63s %63s %7s", local, remote, state) == 3 &&
		    !strncmp(local, want, strlen(want)) &&
		    sscanf(strchr(remote, ':') + 1, "%x", &rport) == 1 && rport == port &&
		    !strcmp(state, "01"))
			n++;
	}
	fclose(f);
	return n;
}

/* aio-sim says so once every host is connected, enrolled and said Hello */
static bool all_connected(struct h_env *e, void *arg)
{
	(void)arg;
	return strstr(h_log_tail(e, "sim", 4096), "hosts connected and enrolled") != NULL;
}

/* The soak, small: thousands of agents, each on its own connection, from
 * two loopback source addresses, report every 2 s with a Watch held
 * and take a push to all of them meanwhile; every acknowledged report is
 * stored once, no host has a gap, every host applied the limit. */
Test(soak, three_thousand_agents_from_two_addresses, .timeout = 180)
{
	const char *args[] = { "--hosts", "3000",       "--sources", "2", "--interval",
		               "2s",      "--duration", "10s",       NULL };
	const char *set[] = { "fleet", "set",    "--max", "2097152", "--canary", "0",    "--batch",
		              "100%",  "--soak", "0s",    "--yes",   "--output", "json", NULL };
	size_t i, done = 0;
	json_t *ro, *st;
	char *out = NULL;
	json_t *sim;
	long one, two;
	pid_t pid;
	int status;

	h_env_init(&env);
	h_server_start(&env);
	pid = h_sim_start(&env, "sim", args);
	cr_assert(h_wait(all_connected, &env, NULL, 120000), "%s", h_log_tail(&env, "sim", 2000));
	/* the connections stay for the run's 10 s */
	one = connections_from(1);
	two = connections_from(2);
	cr_expect_eq(one + two, 3000, "one connection each: %ld and %ld", one, two);
	cr_expect_eq(two, 1500, "half from the second address");
	cr_assert_eq(h_aioctl(&env, &out, NULL, set), 0, "the push completes: %s", out);
	cr_assert_not_null(ro = json_loads(out, 0, NULL), "%s", out);
	free(out);
	json_array_foreach(json_object_get(ro, "steps"), i, st)
	{
		done += !strcmp(json_string_value(json_object_get(st, "state")), "done");
	}
	cr_expect_eq(done, 3000, "every agent applied it");
	json_decref(ro);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sim = h_sim_figures(&env, "sim");
	cr_expect_eq(json_integer_value(json_object_get(sim, "reports_failed")), 0);
	cr_expect_geq(json_integer_value(json_object_get(sim, "reports_ok")), 3000,
	              "every agent reported");
	cr_expect_eq(json_integer_value(json_object_get(sim, "acks")), 3000,
	             "every command acknowledged");
	cr_expect_geq(h_db_value(&env, "SELECT sum(reports) FROM series"),
	              json_integer_value(json_object_get(sim, "reports_ok")), "nothing lost");
	cr_expect_leq(h_db_value(&env, "SELECT sum(reports) FROM series"),
	              json_integer_value(json_object_get(sim, "reports_sent")), "nothing twice");
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series"
	                              " WHERE reports != seq_last - seq_first + 1"),
	             0);
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series"), 3000);
	json_decref(sim);
	h_env_fini(&env);
}
