/* A capacity review at fleet scale: 1,000 hosts with 30 days of hourly
 * history backfilled through the real agent RPC by aio-sim, into a server
 * that keeps raw samples only a day. Once retention has removed the older
 * raw samples, report trend --since 30d still sees all 30 days of every
 * host: it answers from the hourly rollups. (Release builds only: under
 * the sanitizers the backfill alone takes minutes.) */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "harness.h"

#define HOSTS  1000
#define DAYS   30
#define GROWTH 2048 /* aio-sim --behaviour growth: events a day */

static struct h_env env;

static void backfill(const char *prefix, const char *behaviour)
{
	const char *args[] = { "--hosts",         "500",     "--prefix",   prefix,
		               "--behaviour",     behaviour, "--interval", "1h",
		               "--backfill-days", "30",      NULL };

	h_sim_run(&env, prefix, args);
}

Test(capacity, thousand_hosts_thirty_days_from_rollups, .timeout = 600)
{
	const char *trend[] = { "report", "trend", "--since", "30d", NULL };
	char pruned[200];
	long long t0, t1;
	json_t *rep, *h;
	size_t i, growing = 0, steady = 0;

	h_env_init(&env);
	env.server_extra[0] = "--raw-retention";
	env.server_extra[1] = "1d";
	env.server_extra[2] = "--prune-interval";
	env.server_extra[3] = "1s";
	env.server_extra[4] = "--log-level";
	env.server_extra[5] = "info";
	h_server_start(&env);
	t0 = (long long)h_mono_ms();
	backfill("grow", "growth");
	backfill("flat", "steady");
	t1 = (long long)h_mono_ms();
	cr_log_info("backfill: %d reports in %lld ms", HOSTS * DAYS * 24, t1 - t0);
	cr_assert_eq(h_db_value(&env, "SELECT sum(reports) FROM series"), HOSTS * DAYS * 24,
	             "every report stored once");

	/* each host keeps the one block its raw range starts in */
	snprintf(pruned, sizeof(pruned),
	         "SELECT count(*) FROM (SELECT host_id FROM raw WHERE last_ms < %lld"
	         " GROUP BY host_id HAVING count(*) > 1) AS kept",
	         (long long)aio_now_ms() - 24LL * 3600 * 1000);
	cr_assert(h_wait(h_db_zero, &env, pruned, 120000), "raw samples past a day pruned");
	cr_assert_lt(h_db_value(&env, "SELECT (SELECT coalesce(sum(n), 0) FROM raw) +"
	                              " (SELECT sum(raw_n) FROM series)"),
	             HOSTS * 26, "a day of raw samples is left");

	t0 = (long long)h_mono_ms();
	cr_assert_not_null(rep = h_aioctl_json(&env, trend));
	t1 = (long long)h_mono_ms();
	cr_log_info("report trend --since 30d over %d hosts: %lld ms", HOSTS, t1 - t0);
	cr_assert_eq(json_array_size(json_object_get(rep, "hosts")), HOSTS);
	json_array_foreach(json_object_get(rep, "hosts"), i, h)
	{
		const char *name = json_string_value(json_object_get(h, "host"));
		double g = json_real_value(json_object_get(h, "growth_per_day"));

		/* 30 days from mid-day touch 31 calendar days */
		cr_assert_geq(json_integer_value(json_object_get(h, "days")), 30,
		              "%s: all 30 days, not the last one raw still holds", name);
		if (!strncmp(name, "grow", 4)) {
			cr_assert(g > GROWTH * 0.95 && g < GROWTH * 1.05, "%s grows %f a day", name,
			          g);
			growing++;
		} else {
			cr_assert(g < 1 && g > -1, "%s is flat: %f", name, g);
			steady++;
		}
	}
	cr_expect_eq(growing, HOSTS / 2);
	cr_expect_eq(steady, HOSTS / 2);
	json_decref(rep);
	h_env_fini(&env);
}
