/* aioctl report trend against the real server, with ten days of history
 * backfilled through the real agent RPC by aio-sim: growing hosts are
 * projected to run out on the right day, flat ones not at all. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "harness.h"

#define DAY_MS    (24LL * 3600 * 1000)
#define DAYS      "10"
#define GROWTH    2048 /* aio-sim --behaviour growth: events a day */
#define LIMIT     65536
#define HEADROOM  1.5      /* the server's default trend-headroom, 50% */
#define BOUND_MAX 16777216 /* aio-sim's hosts say so in Hello */

static struct h_env env;

static void backfill(const char *prefix, const char *behaviour, const char *label,
                     const char *hosts)
{
	const char *args[] = { "--hosts", hosts, "--prefix",   prefix, "--behaviour",     behaviour,
		               "--label", label, "--interval", "1h",   "--backfill-days", DAYS,
		               NULL };

	h_sim_run(&env, prefix, args);
}

static json_t *host_of(json_t *report, const char *name)
{
	size_t i;
	json_t *h;

	json_array_foreach(json_object_get(report, "hosts"), i, h)
	{
		if (!strcmp(json_string_value(json_object_get(h, "host")), name))
			return h;
	}
	return NULL;
}

static bool pow2(json_int_t v)
{
	return v > 0 && !(v & (v - 1));
}

/* The SVG element of one chart: from the marker to `</svg>`. */
static char *chart(const char *html, const char *marker, char *buf, size_t len)
{
	const char *a = strstr(html, marker), *b;

	if (!a || !(b = strstr(a, "</svg>")) || (size_t)(b - a) >= len)
		return NULL;
	memcpy(buf, a, (size_t)(b - a));
	buf[b - a] = '\0';
	return buf;
}

static size_t points(const char *svg, const char *series)
{
	char key[64];
	const char *p;
	size_t n = 0;

	snprintf(key, sizeof(key), "data-series=\"%s\" points=\"", series);
	if (!(p = strstr(svg, key)))
		return 0;
	for (p += strlen(key); *p && *p != '"'; p++)
		n += *p == ',';
	return n;
}

/* Debian's chromium, headless, opens the page: the DOM it built has the
 * charts and their series, it logged no failed load or script error, and
 * a screenshot (trend.png beside the test binary) is the test's output. */
static void browse(void)
{
	char cmd[512], *dom = NULL, *log = NULL, path[400];

	cr_assert(access("/usr/bin/chromium", X_OK) == 0,
	          "chromium is missing: run deploy/install-deps.sh");
	snprintf(cmd, sizeof(cmd),
	         "timeout 60 chromium --headless=new --no-sandbox --disable-gpu "
	         "--hide-scrollbars --user-data-dir=%s/chromium --enable-logging=stderr",
	         env.dir);
	h_sh("%s --dump-dom file://%s/trend.html >%s/dom.html 2>%s/chromium.log", cmd,
	     AIO_TEST_BIN_DIR, env.dir, env.dir);
	h_sh("%s --window-size=900,1400 --screenshot=%s/trend.png file://%s/trend.html "
	     ">>%s/chromium.log 2>&1",
	     cmd, AIO_TEST_BIN_DIR, AIO_TEST_BIN_DIR, env.dir);
	snprintf(path, sizeof(path), "%s/dom.html", env.dir);
	cr_assert_eq(aio_file_read_all(path, 4 << 20, &dom, NULL), 0);
	cr_expect_not_null(strstr(dom, "<svg id=\"fleet\""), "the browser built the fleet chart");
	cr_expect_not_null(strstr(dom, "data-series=\"fleet-max\""));
	cr_expect_not_null(strstr(dom, "data-series=\"forecast\""));
	snprintf(path, sizeof(path), "%s/chromium.log", env.dir);
	cr_assert_eq(aio_file_read_all(path, 4 << 20, &log, NULL), 0);
	cr_expect_null(strstr(log, "Failed to load"), "%s", log);
	cr_expect_null(strstr(log, "Uncaught"), "%s", log);
	cr_expect_null(strstr(log, "CONSOLE"), "no console messages: %s", log);
	snprintf(path, sizeof(path), "%s/trend.png", AIO_TEST_BIN_DIR);
	cr_expect(access(path, R_OK) == 0, "a screenshot");
	cr_log_info("trend report: %s/trend.html, screenshot %s", AIO_TEST_BIN_DIR, path);
	free(dom);
	free(log);
}

/* One self-contained page: no scripts, no fetches; the fleet's two series
 * with a point per day, a chart per host with its daily peaks, and a
 * forecast line exactly where the host grows. The page is kept beside the
 * test binary (trend.html) for a look. */
static void check_html(void)
{
	const char *args[] = { "report", "trend", "--output", "html", NULL };
	static char svg[256 << 10];
	char *html = NULL;
	FILE *f;

	cr_assert_eq(h_aioctl(&env, &html, NULL, args), 0);
	cr_expect(!strncmp(html, "<!DOCTYPE html>", 15));
	cr_expect_null(strstr(html, "<script"), "no scripts");
	cr_expect_null(strstr(html, "http"), "no URL to fetch");
	cr_expect_null(strstr(html, "src="), "nothing loaded");
	cr_expect_null(strstr(html, "<link"), "no stylesheet to fetch");
	cr_assert_not_null(chart(html, "<svg id=\"fleet\"", svg, sizeof(svg)));
	/* ten days from mid-day touch 11 calendar days */
	cr_expect_geq(points(svg, "fleet-max"), 10);
	cr_expect_eq(points(svg, "fleet-max"), points(svg, "fleet-mean"));
	cr_assert_not_null(chart(html, "data-host=\"grow00002\"", svg, sizeof(svg)));
	cr_expect_geq(points(svg, "peak"), 10);
	cr_expect_not_null(strstr(svg, "data-series=\"forecast\""), "a growing host's forecast");
	cr_assert_not_null(chart(html, "data-host=\"flat00000\"", svg, sizeof(svg)));
	cr_expect_geq(points(svg, "peak"), 10);
	cr_expect_null(strstr(svg, "data-series=\"forecast\""), "a flat host has none");
	cr_assert_not_null(f = fopen(AIO_TEST_BIN_DIR "/trend.html", "w"));
	fputs(html, f);
	fclose(f);
	free(html);
	browse();
}

Test(report, trend_projects_growth_and_rolls_up_groups, .timeout = 120)
{
	const char *trend[] = { "report", "trend", "--group-by", "rack", NULL };
	long long t0 = (long long)aio_now_ms(), t1;
	json_t *rep, *h, *groups;

	h_env_init(&env);
	h_server_start(&env);
	backfill("grow", "growth", "rack=r1", "3");
	backfill("flat", "steady", "rack=r2", "2");
	t1 = (long long)aio_now_ms();
	cr_assert_not_null(rep = h_aioctl_json(&env, trend));

	for (int i = 0; i < 3; i++) {
		char name[16];
		long long base = 1024LL * (1 + i), truth_early, truth_late, at;

		snprintf(name, sizeof(name), "grow%05d", i);
		cr_assert_not_null(h = host_of(rep, name), "%s in the report", name);
		/* aio-sim's history starts 10 days before it started */
		truth_early = t0 - 10 * DAY_MS + (LIMIT - base) * DAY_MS / GROWTH;
		truth_late = t1 - 10 * DAY_MS + (LIMIT - base) * DAY_MS / GROWTH;
		cr_assert(json_is_integer(json_object_get(h, "exhaustion_ms")),
		          "%s: growing, it runs out within the horizon", name);
		at = json_integer_value(json_object_get(h, "exhaustion_ms"));
		cr_expect(at > truth_early - DAY_MS && at < truth_late + DAY_MS,
		          "%s: projected %lld, truly %lld: within a day", name, at, truth_early);
		cr_expect(json_real_value(json_object_get(h, "growth_per_day")) > GROWTH * 0.95);
		cr_expect_str_eq(json_string_value(json_object_get(h, "verdict")), "act",
		                 "runs out within a month");
		{
			json_int_t rec = json_integer_value(json_object_get(h, "recommended"));
			json_int_t peak = json_integer_value(json_object_get(h, "peak"));

			cr_expect(pow2(rec), "%s: %lld is a power of two", name, (long long)rec);
			cr_expect(rec >= (json_int_t)((double)peak * HEADROOM) && rec <= BOUND_MAX,
			          "%s: %lld covers peak %lld plus head room, within bounds", name,
			          (long long)rec, (long long)peak);
		}
	}
	for (int i = 0; i < 2; i++) {
		char name[16];

		snprintf(name, sizeof(name), "flat%05d", i);
		cr_assert_not_null(h = host_of(rep, name));
		cr_expect(json_is_null(json_object_get(h, "exhaustion")),
		          "%s: flat, not within horizon", name);
		cr_expect_str_eq(json_string_value(json_object_get(h, "verdict")), "ok");
		cr_expect_eq(json_integer_value(json_object_get(h, "recommended")), LIMIT);
	}
	/* the most urgent first: a growing host */
	h = json_array_get(json_object_get(rep, "hosts"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(h, "host")), "grow00002",
	                 "the highest grower runs out first");
	groups = json_object_get(rep, "groups");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(groups, "r1"), "act")), 3);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(groups, "r2"), "hosts")),
	             2);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(rep, "fleet"), "hosts")),
	             5);
	json_decref(rep);
	check_html();

	{
		const char *top[] = {
			"report", "trend", "--select", "rack=r2", "--top", "1", NULL
		};

		cr_assert_not_null(rep = h_aioctl_json(&env, top));
		cr_expect_eq(json_array_size(json_object_get(rep, "hosts")), 1);
		cr_expect_eq(
		        json_integer_value(json_object_get(json_object_get(rep, "fleet"), "hosts")),
		        2, "--select keeps rack r2 only; --top cuts rows, not the roll-up");
		json_decref(rep);
	}
	h_env_fini(&env);
}

Test(report, bad_requests_are_refused_clearly)
{
	const char *top0[] = { "report", "trend", "--top", "0", NULL };
	const char *since[] = { "report", "trend", "--since", "5m", NULL };
	const char *sel[] = { "report", "trend", "--select", "rack", NULL };
	char *err = NULL;

	h_env_init(&env);
	h_server_start(&env);
	cr_expect_eq(h_aioctl(&env, NULL, NULL, top0), 64);
	cr_expect_eq(h_aioctl(&env, NULL, NULL, sel), 64);
	cr_expect_eq(h_aioctl(&env, NULL, &err, since), 64,
	             "the server refuses it as a usage error");
	cr_expect(err && strstr(err, "--since"), "says what is wrong: %s", err);
	free(err);
	h_env_fini(&env);
}

static bool samples_each(struct h_env *e, void *arg)
{
	const char *sql = arg;

	return h_db_value(e, sql) >= 5;
}

/* The report on rollout 1 counts 5 samples after the change on each of
 * the 3 hosts (what is asserted, waited for; the database's clock and the
 * report's windows are not the same thing under the sanitizers). */
static bool report_has_5_after(struct h_env *e, void *arg)
{
	const char *args[] = { "report", "rollout", "1", "--window", "1h", NULL };
	json_t *rep = h_aioctl_json(e, args), *h;
	size_t i, n = 0;

	(void)arg;
	json_array_foreach(json_object_get(rep, "hosts"), i, h)
	{
		n += json_integer_value(json_object_get(json_object_get(h, "after"), "samples")) >=
		     5;
	}
	json_decref(rep);
	return n == 3;
}

/* aio-sim's agents take a real rollout; the report shows each host's limit
 * doubled, its peak utilisation halved and no AIO error, in equal windows
 * around its own change. */
Test(report, rollout_before_and_after, .timeout = 120)
{
	const char *sim[] = { "--hosts", "3", "--interval", "200ms", "--duration", "100s", NULL };
	const char *set[] = { "fleet",   "set",  "--max",  "131072", "--canary", "0",
		              "--batch", "100%", "--soak", "0s",     "--yes",    NULL };
	const char *report[] = { "report", "rollout", "1", "--window", "1h", NULL };
	const char *missing[] = { "report", "rollout", "99", NULL };
	const char *bad[] = { "report", "rollout", "1", "--window", "0", NULL };
	/* the host with the fewest reports before (and intervals after) its
	 * change */
	static char before_sql[] = "SELECT CASE WHEN count(*) < 3 THEN 0 ELSE min(reports) END"
	                           " FROM series";
	static char after_sql[] =
	        "SELECT CASE WHEN count(*) < 3 THEN 0 ELSE min((s.time_ms - r.finished_ms) / 200)"
	        " END FROM series s JOIN rollout_steps r ON r.host_id = s.host_id"
	        " WHERE r.finished_ms IS NOT NULL";
	json_t *rep, *h;
	size_t i;

	h_env_init(&env);
	h_server_start(&env);
	h_sim_start(&env, "sim", sim);
	cr_assert(h_wait(samples_each, &env, before_sql, 30000), "3 hosts reported 5 times");
	cr_assert_eq(h_aioctl(&env, NULL, NULL, set), 0, "the rollout completes");
	cr_assert(h_wait(samples_each, &env, after_sql, 30000), "5 reports after each change");
	cr_assert(h_wait(report_has_5_after, &env, NULL, 30000), "and the report counts them");

	cr_assert_not_null(rep = h_aioctl_json(&env, report));
	cr_expect_eq(json_integer_value(json_object_get(rep, "target")), 131072);
	cr_expect_eq(json_array_size(json_object_get(rep, "hosts")), 3);
	json_array_foreach(json_object_get(rep, "hosts"), i, h)
	{
		json_t *b = json_object_get(h, "before"), *a = json_object_get(h, "after");
		double ub = json_real_value(json_object_get(b, "peak_utilization"));
		double ua = json_real_value(json_object_get(a, "peak_utilization"));

		cr_expect_str_eq(json_string_value(json_object_get(h, "state")), "done");
		cr_expect_eq(json_integer_value(json_object_get(b, "limit")), 65536);
		cr_expect_eq(json_integer_value(json_object_get(a, "limit")), 131072);
		cr_expect(ua > 0 && ub > 0 && ua < ub * 0.6, "utilisation halves: %f -> %f", ub,
		          ua);
		cr_expect_eq(json_integer_value(json_object_get(b, "errors")), 0);
		cr_expect_eq(json_integer_value(json_object_get(a, "errors")), 0);
		cr_expect_geq(json_integer_value(json_object_get(a, "samples")), 5);
	}
	json_decref(rep);
	cr_expect_eq(h_aioctl(&env, NULL, NULL, missing), 3, "no such rollout");
	cr_expect_eq(h_aioctl(&env, NULL, NULL, bad), 64);
	h_env_fini(&env);
}

/* Ten days of history on a server that keeps raw samples two days and
 * 5-minute rollups three: retention prunes on its own, and aioctl history
 * answers each range from the tier that still holds it, with the same
 * peaks the hourly rollups keep. */
Test(report, history_tiers_and_retention, .timeout = 120)
{
	const char *week[] = { "history", "grow00000", "--since", "7d", "--step", "1h", NULL };
	const char *fine[] = { "history", "grow00000", "--since", "1d", "--step", "10m", NULL };
	const char *raw[] = { "history", "grow00000", "--since", "12h", "--step", "1m", NULL };
	const char *old[] = { "history", "grow00000", "--since", "9d", "--step", "1m", NULL };
	char pruned[200];
	long long hours;
	json_t *j, *p;
	size_t i;

	h_env_init(&env);
	env.server_extra[0] = "--raw-retention";
	env.server_extra[1] = "2d";
	env.server_extra[2] = "--rollup-5m-retention";
	env.server_extra[3] = "3d";
	env.server_extra[4] = "--prune-interval";
	env.server_extra[5] = "200ms";
	env.server_extra[6] = "--prune-batch";
	env.server_extra[7] = "50";
	h_server_start(&env);
	backfill("grow", "growth", "rack=r1", "2");

	/* each host keeps the one block its raw range starts in */
	snprintf(pruned, sizeof(pruned),
	         "SELECT count(*) FROM (SELECT host_id FROM raw WHERE last_ms < %lld"
	         " GROUP BY host_id HAVING count(*) > 1) AS kept",
	         (long long)aio_now_ms() - 2 * DAY_MS);
	cr_assert(h_wait(h_db_zero, &env, pruned, 30000), "raw samples past 2 days pruned");
	cr_expect_gt(h_db_value(&env, "SELECT (SELECT coalesce(sum(n), 0) FROM raw) +"
	                              " (SELECT sum(raw_n) FROM series)"),
	             40, "the last 2 days kept");
	snprintf(pruned, sizeof(pruned), "SELECT count(*) FROM rollup_5m WHERE start_ms < %lld",
	         (long long)aio_now_ms() - 3 * DAY_MS - 3600 * 1000);
	cr_expect_eq(h_db_value(&env, pruned), 0, "5-minute rollups past 3 days pruned");
	hours = h_db_value(&env, "SELECT count(*) FROM rollup_1h_all r JOIN hosts h"
	                         " ON h.id = r.host_id WHERE h.name = 'grow00000'");
	cr_expect_geq(hours, 10 * 24, "the hourly tier keeps all ten days: %lld hours", hours);

	cr_assert_not_null(j = h_aioctl_json(&env, week));
	cr_expect_str_eq(json_string_value(json_object_get(j, "tier")), "1h");
	cr_expect_geq(json_array_size(json_object_get(j, "points")), 7 * 24 - 1);
	json_array_foreach(json_object_get(j, "points"), i, p)
	{
		cr_expect_eq(json_integer_value(json_object_get(p, "reports")), 1,
		             "one hourly report per hour");
		cr_expect_eq(json_integer_value(json_object_get(p, "max")),
		             json_integer_value(json_object_get(p, "last")));
	}
	json_decref(j);
	cr_assert_not_null(j = h_aioctl_json(&env, fine));
	cr_expect_str_eq(json_string_value(json_object_get(j, "tier")), "5m");
	json_decref(j);
	cr_assert_not_null(j = h_aioctl_json(&env, raw));
	cr_expect_str_eq(json_string_value(json_object_get(j, "tier")), "raw");
	cr_expect_geq(json_array_size(json_object_get(j, "points")), 11, "12 hourly reports");
	json_decref(j);
	/* a fine step over a range raw no longer holds: the 5-minute tier
	 * does not either past 3 days, so the hourly one answers */
	cr_assert_not_null(j = h_aioctl_json(&env, old));
	cr_expect_str_eq(json_string_value(json_object_get(j, "tier")), "1h");
	cr_expect_eq(json_integer_value(json_object_get(j, "step_ms")), 3600000);
	cr_expect_geq(json_array_size(json_object_get(j, "points")), 9 * 24 - 1);
	json_decref(j);
	h_env_fini(&env);
}
