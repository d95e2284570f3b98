/* The benchmark's soak, small: 3,000 simulated agents (aio-sim), each on
 * its own connection (as the server counts them), from two loopback
 * source addresses (as the server saw each enroll). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "harness.h"

static struct h_env env;

/* agent connections open, as the server counts them */
static long agent_connections(void)
{
	static const char series[] = "aioctl_server_connections{listener=\"agents\"} ";
	char *text = h_http_get(&env, "/metrics"), *p = strstr(text, series);
	long n = p ? strtol(p + strlen(series), NULL, 10) : -1;

	free(text);
	return n;
}

/* hosts the server saw enroll from address addr (its log names the peer) */
static long enrolled_from(const char *addr)
{
	char path[700], needle[64], *text = NULL, *p;
	long n = 0;

	snprintf(path, sizeof(path), "%s/server.log", env.dir);
	cr_assert_eq(aio_file_read_all(path, 64 << 20, &text, NULL), 0);
	snprintf(needle, sizeof(needle), " from %s\n", addr);
	for (p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
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
	cr_expect_eq(agent_connections(), 3000, "one connection each");
	one = enrolled_from("127.0.0.1");
	two = enrolled_from("127.0.0.2");
	cr_expect(one == 1500 && two == 1500, "half from each address: %ld and %ld", one, two);
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
