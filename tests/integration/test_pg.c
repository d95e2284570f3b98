/* Several aio-servers on one real PostgreSQL (Debian's, started by the
 * pg_cluster fixture or, for the outage, by the test itself): real agents
 * on sysroots spread over them, driven with the real aioctl. */
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

#define SERVERS  3
#define INTERVAL "300ms"
#define TARGET   2097152
#define OUR_FILE "/etc/sysctl.d/zz-aioctl.conf"

struct srv {
	char name[8];
	char state[256], agent_url[64], admin_url[64], http_url[64];
	pid_t pid;
};

static struct h_env env;
static struct srv srv[SERVERS];
static char roots[16][256];
static char own_pg[400];   /* a cluster of the test's own, or "" */
static char suite_db[320]; /* the test's database on the suite's cluster */

static void setup(void)
{
	h_env_init(&env);
	if (!env.db_url[0])
		cr_skip_test("needs AIO_TEST_PG (the pg_cluster fixture)");
	own_pg[0] = '\0';
	snprintf(suite_db, sizeof(suite_db), "%s", env.db_url);
}

static void teardown(void)
{
	/* the servers first, then the database they used */
	for (size_t k = 0; k < env.n_procs; k++)
		if (env.procs[k] > 0)
			kill(env.procs[k], SIGKILL);
	snprintf(env.db_url, sizeof(env.db_url), "%s", suite_db);
	h_env_fini(&env);
	if (own_pg[0])
		h_sh("sh '%s/tests/pg/pg-cluster.sh' stop '%s'", AIO_SOURCE_DIR, own_pg);
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 240);

static const char *name_of(int i)
{
	static char names[16][16];

	snprintf(names[i], sizeof(names[i]), "hv-%02d", i);
	return names[i];
}

/* aioctl calls go to server i from now on. */
static void use(int i)
{
	snprintf(env.admin_url, sizeof(env.admin_url), "%s", srv[i].admin_url);
	snprintf(env.token_file, sizeof(env.token_file), "%s/admin.token", srv[i].state);
}

static bool answers(struct h_env *e, void *arg)
{
	const char *list[] = { "server", "list", NULL };

	(void)arg;
	return h_aioctl(e, NULL, NULL, list) == 0;
}

static void srv_spawn(int i)
{
	const char *argv[] = {
		H_BIN("aio-server"), "--db",           env.db_url,       "--server-name",
		srv[i].name,         "--state-dir",    srv[i].state,     "--listen",
		srv[i].agent_url,    "--admin-listen", srv[i].admin_url, "--http-listen",
		srv[i].http_url,     "--log-level",    "debug",          NULL
	};
	char log[64];

	snprintf(log, sizeof(log), "server-%.7s", srv[i].name);
	srv[i].pid = h_spawn(&env, log, argv);
}

/* Server i on the test's database; the fleet has one admin token, the
 * first server's, copied as the README says. */
static void srv_start(int i)
{
	snprintf(srv[i].name, sizeof(srv[i].name), "S%d", i);
	snprintf(srv[i].state, sizeof(srv[i].state), "%.200s/S%d", env.dir, i);
	snprintf(srv[i].agent_url, sizeof(srv[i].agent_url), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(srv[i].admin_url, sizeof(srv[i].admin_url), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(srv[i].http_url, sizeof(srv[i].http_url), "http://127.0.0.1:%d", h_free_port());
	h_sh("mkdir -p -m 0700 '%s'", srv[i].state);
	if (i > 0)
		h_sh("install -m 0600 '%s/admin.token' '%s/admin.token'", srv[0].state,
		     srv[i].state);
	srv_spawn(i);
	use(i);
	cr_assert(h_wait(answers, &env, NULL, 15000), "server %s did not answer: %s", srv[i].name,
	          h_log_tail(&env, i ? "server-S1" : "server-S0", 2000));
}

/* The agents' URLs, server first first. */
static void urls_from(int first, char *buf, size_t len)
{
	size_t n = 0;

	for (int k = 0; k < SERVERS; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? "," : "",
		                      srv[(first + k) % SERVERS].agent_url);
}

static pid_t agent_on(int i, int server)
{
	static char urls[16][256];
	const char *extra[] = { "--server", urls[i], "--call-timeout", "1s", NULL };

	urls_from(server, urls[i], sizeof(urls[i]));
	use(server);                  /* its enrollment token made where it enrolls */
	env.server = srv[server].pid; /* a real server: h_agent_start enrolls */
	return h_agent_start(&env, name_of(i), roots[i], INTERVAL, extra);
}

struct want_online {
	int server, n;
};

/* n hosts online as the server aioctl calls now sees them. */
static bool online_here(struct h_env *e, void *arg)
{
	json_t *fleet, *h;
	size_t i, n = 0;

	if (!(fleet = h_fleet(e)))
		return false;
	json_array_foreach(json_object_get(fleet, "hosts"), i, h)
	{
		n += json_is_true(json_object_get(h, "online"));
	}
	json_decref(fleet);
	return n == (size_t) * (int *)arg;
}

static bool online_on(struct h_env *e, void *arg)
{
	const struct want_online *w = arg;
	json_t *fleet, *h;
	size_t i, n = 0;

	use(w->server);
	if (!(fleet = h_fleet(e)))
		return false;
	json_array_foreach(json_object_get(fleet, "hosts"), i, h)
	{
		n += json_is_true(json_object_get(h, "online"));
	}
	json_decref(fleet);
	return n == (size_t)w->n;
}

/* Three servers, n hosts spread over them, every host online as every
 * server sees it. */
static void fleet_of(int n)
{
	for (int i = 0; i < SERVERS; i++)
		srv_start(i);
	for (int i = 0; i < n; i++) {
		h_sysroot_make(&env, name_of(i), 100, 65536, roots[i], sizeof(roots[i]));
		h_sh("mkdir -p '%s/etc/sysctl.d'", roots[i]);
		agent_on(i, i % SERVERS);
	}
	for (int s = 0; s < SERVERS; s++) {
		struct want_online w = { s, n };

		cr_assert(h_wait(online_on, &env, &w, 20000),
		          "%s does not show all %d hosts online", srv[s].name, n);
	}
}

/* The server that leads, as server i says; -1 if none. */
static int leader_as_seen_by(int i)
{
	const char *list[] = { "server", "list", NULL };
	json_t *j, *s;
	size_t k;
	int found = -1;

	use(i);
	if (!(j = h_aioctl_json(&env, list)))
		return -1;
	json_array_foreach(json_object_get(j, "servers"), k, s)
	{
		if (json_is_true(json_object_get(s, "leader")) &&
		    json_is_true(json_object_get(s, "alive")))
			for (int x = 0; x < SERVERS; x++)
				if (!strcmp(json_string_value(json_object_get(s, "name")),
				            srv[x].name))
					found = x;
	}
	json_decref(j);
	return found;
}

static uint64_t live_value(int i)
{
	return h_sysroot_max(roots[i]);
}

static bool persisted(int i)
{
	char path[512], *text = NULL;
	bool ok;

	snprintf(path, sizeof(path), "%s" OUR_FILE, roots[i]);
	if (aio_file_read_all(path, 65536, &text, NULL) < 0)
		return false;
	ok = strstr(text, "fs.aio-max-nr = 2097152") != NULL;
	free(text);
	return ok;
}

static int count_in_log(int i, const char *needle)
{
	char log[32];

	snprintf(log, sizeof(log), "agent-%.15s", name_of(i));
	return h_count_in_log(&env, log, needle);
}

/* The agents stop (SIGTERM, as systemd would), the servers stay up. */
static void stop_agents(void)
{
	for (size_t k = 0; k < env.n_procs; k++) {
		bool server = false;

		for (int s = 0; s < SERVERS; s++)
			server |= env.procs[k] == srv[s].pid;
		if (!server && env.procs[k] > 0)
			h_stop(&env, env.procs[k]);
	}
}

static const char *rollout_state(int server)
{
	static char state[32];
	const char *show[] = { "rollout", "show", "1", NULL };
	json_t *ro;

	use(server);
	state[0] = '\0';
	if ((ro = h_aioctl_json(&env, show))) {
		snprintf(state, sizeof(state), "%s",
		         json_string_value(json_object_get(ro, "state"))
		                 ? json_string_value(json_object_get(ro, "state"))
		                 : "");
		json_decref(ro);
	}
	return state;
}

struct completed {
	int server;
};

static bool rollout_completed(struct h_env *e, void *arg)
{
	(void)e;
	return !strcmp(rollout_state(((struct completed *)arg)->server), "completed");
}

/* Every report each host's agent had acknowledged is stored once: the
 * stored count is the span of sequence numbers, no gap, no double. */
static void reports_exactly_once(int n)
{
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM series"), n, "a series row per host");
	cr_expect_eq(
	        h_db_value(&env,
	                   "SELECT count(*) FROM series WHERE reports <> seq_last - seq_first + 1"),
	        0, "every report stored once, none lost");
}

Test(pg, a_rollout_through_one_server_completes_on_hosts_held_by_the_others)
{
	const char *set[] = { "fleet", "set",     "--max", "2097152",   "--yes", "--soak",
		              "0s",    "--batch", "100%",  "--no-wait", NULL };
	struct completed done;
	int n = 6, leader, via;

	fleet_of(n);
	/* a live query through one server reaches the agents of all three */
	{
		const char *live[] = { "fleet", "status", "--live", "--timeout", "5s", NULL };
		json_t *j;

		use(1);
		cr_assert_not_null(j = h_aioctl_json(&env, live));
		cr_expect_eq(json_array_size(json_object_get(j, "hosts")), (size_t)n);
		cr_expect_eq(json_array_size(json_object_get(j, "not_answered")), 0,
		             "every agent answered, whichever server holds it");
		json_decref(j);
	}
	cr_assert_geq(leader = leader_as_seen_by(0), 0, "a leader");
	for (int i = 1; i < SERVERS; i++)
		cr_expect_eq(leader_as_seen_by(i), leader, "every server names the same leader");
	/* through a server that does not lead: the call goes to the leader */
	via = (leader + 1) % SERVERS;
	use(via);
	cr_assert_eq(h_aioctl(&env, NULL, NULL, set), 0);
	done.server = (leader + 2) % SERVERS;
	cr_assert(h_wait(rollout_completed, &env, &done, 30000), "rollout state %s",
	          rollout_state(done.server));
	for (int i = 0; i < n; i++) {
		cr_expect_eq(live_value(i), TARGET, "%s live", name_of(i));
		cr_expect(persisted(i), "%s after reboot", name_of(i));
		cr_expect_eq(count_in_log(i, "fs.aio-max-nr 65536 -> 2097152"), 1,
		             "%s applied once", name_of(i));
	}
	reports_exactly_once(n);
}

/* A server other than *arg (the killed leader) says it leads: *arg
 * becomes that server. */
static bool taken_over(struct h_env *e, void *arg)
{
	int *who = arg;

	for (int x = 0; x < SERVERS; x++) {
		char log[64];

		snprintf(log, sizeof(log), "server-S%d", x);
		if (x != *who && strstr(h_log_tail(e, log, 64000), " leads (rollouts taken over")) {
			*who = x;
			return true;
		}
	}
	return false;
}

Test(pg, the_leader_killed_mid_rollout_another_finishes_it_once)
{
	const char *set[] = { "fleet",    "set", "--max",   "2097152", "--yes",     "--soak", "1s",
		              "--canary", "1",   "--batch", "1",       "--no-wait", NULL };
	struct completed done;
	int n = 6, leader, applied = 0, next;
	uint64_t killed_ms, took_ms = 0;

	fleet_of(n);
	cr_assert_geq(leader = leader_as_seen_by(0), 0);
	use(leader);
	cr_assert_eq(h_aioctl(&env, NULL, NULL, set), 0);
	for (int tries = 0; tries < 400 && applied < 2; tries++) {
		applied = 0;
		for (int i = 0; i < n; i++)
			applied += live_value(i) == TARGET;
		usleep(25 * 1000);
	}
	cr_assert_geq(applied, 2, "the rollout got under way");
	cr_assert_lt(applied, n, "killed before the end");
	kill(srv[leader].pid, SIGKILL);
	waitpid(srv[leader].pid, NULL, 0);
	killed_ms = h_mono_ms();
	/* the target: another server leads within 10 s */
	next = leader;
	cr_assert(h_wait(taken_over, &env, &next, 10000), "no server took the lead within 10 s");
	took_ms = h_mono_ms() - killed_ms;
	fprintf(stderr, "pg: leader takeover seen %llu ms after kill -9\n",
	        (unsigned long long)took_ms);
	done.server = next;
	cr_assert(h_wait(rollout_completed, &env, &done, 60000), "rollout state %s",
	          rollout_state(next));
	for (int i = 0; i < n; i++) {
		cr_expect_eq(live_value(i), TARGET, "%s live", name_of(i));
		cr_expect(persisted(i), "%s after reboot", name_of(i));
		cr_expect_eq(count_in_log(i, "fs.aio-max-nr 65536 -> 2097152"), 1,
		             "%s applied exactly once", name_of(i));
	}
}

struct moved {
	int host, server;
	long long seq;
};

/* Host's reports go on, past seq, as the database has them. */
static bool reports_past(struct h_env *e, void *arg)
{
	const struct moved *m = arg;
	char sql[200];

	snprintf(sql, sizeof(sql),
	         "SELECT s.seq_last FROM series s JOIN hosts h ON h.id = s.host_id"
	         " WHERE h.name = '%s'",
	         name_of(m->host));
	return h_db_value(e, sql) > m->seq + 5;
}

Test(pg, agents_of_a_killed_server_fail_over_and_lose_nothing)
{
	int n = 6, victim = 2;
	struct moved m[6];

	fleet_of(n);
	for (int i = 0; i < n; i++) {
		char sql[200];

		snprintf(sql, sizeof(sql),
		         "SELECT s.seq_last FROM series s JOIN hosts h ON h.id = s.host_id"
		         " WHERE h.name = '%s'",
		         name_of(i));
		m[i] = (struct moved){ i, victim, h_db_value(&env, sql) };
	}
	kill(srv[victim].pid, SIGKILL);
	waitpid(srv[victim].pid, NULL, 0);
	for (int i = 0; i < n; i++)
		cr_assert(h_wait(reports_past, &env, &m[i], 20000), "%s reports again", name_of(i));
	for (int i = victim; i < n; i += SERVERS)
		cr_expect_geq(count_in_log(i, "does not answer: reporting to"), 1,
		              "%s moved to another server", name_of(i));
	/* the agents stop cleanly, having sent what they had */
	stop_agents();
	reports_exactly_once(n);
}

static bool log_has(struct h_env *e, void *arg)
{
	return strstr(h_log_tail(e, "server-S0", 64000), arg) != NULL;
}

Test(pg, postgresql_stopped_then_started_again_loses_nothing)
{
	const char *set[] = { "fleet",    "set", "--max",   "2097152", "--yes",     "--soak", "1s",
		              "--canary", "1",   "--batch", "1",       "--no-wait", NULL };
	char url[420], *out = NULL;
	struct completed done = { 0 };
	int n = 3, applied = 0;
	FILE *f;

	/* an outage of a PostgreSQL of the test's own, not the suite's */
	/* in /tmp, where its unprivileged user can reach it */
	snprintf(own_pg, sizeof(own_pg), "/tmp/aioctl-pg-outage-XXXXXX");
	cr_assert(mkdtemp(own_pg));
	h_sh("sh '%s/tests/pg/pg-cluster.sh' start '%s' -c fsync=off >/dev/null", AIO_SOURCE_DIR,
	     own_pg);
	snprintf(url, sizeof(url), "%s/url", own_pg);
	cr_assert((f = fopen(url, "r")));
	cr_assert(fgets(url, sizeof(url), f));
	fclose(f);
	url[strcspn(url, "\n")] = '\0';
	snprintf(env.db_url, sizeof(env.db_url), "%.300s/postgres", url);
	fleet_of(n);
	use(0);
	cr_assert_eq(h_aioctl(&env, &out, NULL, set), 0);
	free(out);
	for (int tries = 0; tries < 400 && applied < 1; tries++) {
		applied = 0;
		for (int i = 0; i < n; i++)
			applied += live_value(i) == TARGET;
		usleep(25 * 1000);
	}
	h_sh("sh '%s/tests/pg/pg-cluster.sh' pause '%s'", AIO_SOURCE_DIR, own_pg);
	cr_assert(h_wait(log_has, &env, "not stored", 10000), "the servers noticed");
	/* several report intervals with no database: the agents spool */
	usleep(2000 * 1000);
	h_sh("sh '%s/tests/pg/pg-cluster.sh' resume '%s'", AIO_SOURCE_DIR, own_pg);
	cr_assert(h_wait(log_has, &env, "batches stored again", 20000), "%s",
	          h_log_tail(&env, "server-S0", 3000));
	done.server = 0;
	cr_assert(h_wait(rollout_completed, &env, &done, 60000), "rollout state %s",
	          rollout_state(0));
	for (int i = 0; i < n; i++) {
		cr_expect_eq(live_value(i), TARGET, "%s live", name_of(i));
		cr_expect_eq(count_in_log(i, "fs.aio-max-nr 65536 -> 2097152"), 1,
		             "%s: no step applied twice", name_of(i));
	}
	stop_agents();
	reports_exactly_once(n);
}

static long long sqlite_count(const char *table)
{
	char sql[128], keep[sizeof(env.db_url)];
	long long n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	snprintf(keep, sizeof(keep), "%s", env.db_url);
	env.db_url[0] = '\0'; /* STATE-DIR/server.db */
	n = h_db_value(&env, sql);
	snprintf(env.db_url, sizeof(env.db_url), "%s", keep);
	return n;
}

static bool exited(struct h_env *e, void *arg)
{
	(void)e;
	return waitpid(((pid_t *)arg)[0], &((int *)arg)[1], WNOHANG) == ((pid_t *)arg)[0];
}

Test(pg, migrate_from_carries_an_sqlite_fleet_over_row_for_row)
{
	static const char *const tables[] = { "hosts", "host_labels", "series",     "rollup_5m",
		                              "raw",   "events",      "rollouts",   "rollout_steps",
		                              "audit", "tokens",      "enrollments" };
	const char *set[] = { "fleet", "set",     "--max", "2097152",        "--yes", "--soak",
		              "0s",    "--batch", "100%",  "--wait-timeout", "30s",   NULL };
	const char *token[] = { "token", "create", "--name", "carol", "--role", "viewer", NULL };
	const char *show[] = { "rollout", "show", "1", NULL };
	const char *tokens[] = { "token", "list", NULL };
	char db[600], *out = NULL;
	long long want[sizeof(tables) / sizeof(tables[0])];
	int n = 3, status[2] = { 0 };
	json_t *j;

	/* a fleet on SQLite, as it ran before */
	snprintf(env.db_url, sizeof(env.db_url), "%s", "");
	h_server_start(&env);
	for (int i = 0; i < n; i++) {
		h_sysroot_make(&env, name_of(i), 100, 65536, roots[i], sizeof(roots[i]));
		h_sh("mkdir -p '%s/etc/sysctl.d'", roots[i]);
		h_agent_start(&env, name_of(i), roots[i], INTERVAL, NULL);
	}
	cr_assert(h_wait(online_here, &env, &n, 20000), "the agents report on SQLite");
	cr_assert_eq(h_aioctl(&env, NULL, NULL, set), 0, "the rollout on SQLite");
	/* and two days of history: every tier, events, labels */
	{
		const char *fill[] = {
			"--hosts",      "4",       "--prefix",        "sim-",       "--behaviour",
			"growth",       "--label", "rack=r1",         "--interval", "5m",
			"--error-rate", "2",       "--backfill-days", "2",          NULL
		};

		h_sim_run(&env, "fill", fill);
	}
	cr_assert_eq(h_aioctl(&env, &out, NULL, token), 0);
	free(out);
	for (size_t k = 0; k < env.n_procs; k++)
		h_stop(&env, env.procs[k]);
	snprintf(env.db_url, sizeof(env.db_url), "%s", suite_db);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		cr_assert_geq(want[t] = sqlite_count(tables[t]), 0);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		cr_assert_gt(want[t], 0, "%s has rows to copy", tables[t]);

	/* copied, and checked by the server itself */
	snprintf(db, sizeof(db), "%s/server.db", env.state_dir);
	{
		const char *argv[] = { H_BIN("aio-server"), "--db", env.db_url,
			               "--migrate-from",    db,     NULL };
		pid_t pid = h_spawn(&env, "migrate", argv);

		status[0] = pid;
		cr_assert(h_wait(exited, &env, status, 60000), "the copy ends");
		cr_assert(WIFEXITED(status[1]) && WEXITSTATUS(status[1]) == 0, "%s",
		          h_log_tail(&env, "migrate", 3000));
	}
	cr_expect(strstr(h_log_tail(&env, "migrate", 8000), "every table checked row for row"),
	          "%s", h_log_tail(&env, "migrate", 3000));
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		char sql[128];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[t]);
		cr_expect_eq(h_db_value(&env, sql), want[t], "%s: the same rows", tables[t]);
	}

	/* a second copy into a database that holds a fleet is refused */
	{
		const char *argv[] = { H_BIN("aio-server"), "--db", env.db_url,
			               "--migrate-from",    db,     NULL };
		pid_t pid = h_spawn(&env, "migrate2", argv);

		status[0] = pid;
		cr_assert(h_wait(exited, &env, status, 60000));
		cr_expect(WIFEXITED(status[1]) && WEXITSTATUS(status[1]) != 0);
		cr_expect(strstr(h_log_tail(&env, "migrate2", 3000), "already holds a fleet"), "%s",
		          h_log_tail(&env, "migrate2", 3000));
	}

	/* servers on PostgreSQL carry on: the fleet's admin token, its hosts,
	 * its rollout, its tokens */
	snprintf(srv[0].name, sizeof(srv[0].name), "S0");
	h_sh("mkdir -p -m 0700 '%s/S0' && install -m 0600 '%s' '%s/S0/admin.token'", env.dir,
	     env.token_file, env.dir);
	snprintf(srv[0].state, sizeof(srv[0].state), "%.200s/S0", env.dir);
	snprintf(srv[0].agent_url, sizeof(srv[0].agent_url), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(srv[0].admin_url, sizeof(srv[0].admin_url), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(srv[0].http_url, sizeof(srv[0].http_url), "http://127.0.0.1:%d", h_free_port());
	srv_spawn(0);
	use(0);
	cr_assert(h_wait(answers, &env, NULL, 15000), "%s", h_log_tail(&env, "server-S0", 2000));
	cr_assert_not_null(j = h_aioctl_json(&env, show));
	cr_expect_str_eq(json_string_value(json_object_get(j, "state")), "completed");
	json_decref(j);
	cr_assert_not_null(j = h_fleet(&env));
	cr_expect_eq(json_array_size(json_object_get(j, "hosts")), (size_t)n + 4);
	json_decref(j);
	cr_assert_eq(h_aioctl(&env, &out, NULL, tokens), 0);
	cr_expect(strstr(out, "carol"), "%s", out);
	free(out);
}

Test(pg, an_unreachable_postgresql_stops_the_server_with_its_cause)
{
	char url[128], state[400];
	const char *argv[] = { H_BIN("aio-server"),
		               "--db",
		               url,
		               "--state-dir",
		               state,
		               "--listen",
		               "tcp://127.0.0.1:0",
		               "--admin-listen",
		               "tcp://127.0.0.1:0",
		               "--http-listen",
		               "",
		               NULL };
	int status[2] = { 0 };

	snprintf(url, sizeof(url), "postgresql://aio:secret-word@127.0.0.1:%d/aioctl",
	         h_free_port());
	snprintf(state, sizeof(state), "%.300s/unreachable", env.dir);
	status[0] = h_spawn(&env, "unreachable", argv);
	cr_assert(h_wait(exited, &env, status, 30000), "the server gives up");
	cr_expect(WIFEXITED(status[1]) && WEXITSTATUS(status[1]) != 0);
	cr_expect(strstr(h_log_tail(&env, "unreachable", 3000), "PostgreSQL unreachable"), "%s",
	          h_log_tail(&env, "unreachable", 3000));
	cr_expect_not(strstr(h_log_tail(&env, "unreachable", 3000), "secret-word"),
	              "no password in the log: %s", h_log_tail(&env, "unreachable", 3000));
}
