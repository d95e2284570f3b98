/* /metrics: the Prometheus text format, checked line by line and by
 * promtool, with values that match fleet status. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;

static char *http_get(const char *path)
{
	return h_http_get(&env, path);
}

static bool metric_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/* Every line is a HELP, a TYPE, or a sample of a family typed before it. */
static void check_format(char *text)
{
	char typed[64][64];
	size_t n_typed = 0;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64], *sp, *end;
		size_t nl;

		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (!strncmp(line, "# TYPE ", 7)) {
			char type[16];

			cr_assert_eq(sscanf(line + 7, "%63s %15s", name, type), 2, "%s", line);
			cr_expect(!strcmp(type, "gauge") || !strcmp(type, "counter"), "%s", line);
			cr_assert_lt(n_typed, 64);
			snprintf(typed[n_typed++], sizeof(typed[0]), "%s", name);
			continue;
		}
		nl = strcspn(line, "{ ");
		cr_assert(metric_name(line, nl), "bad metric name: %s", line);
		snprintf(name, sizeof(name), "%.*s", (int)nl, line);
		{
			bool known = false;

			for (size_t i = 0; i < n_typed; i++)
				known |= !strcmp(typed[i], name);
			cr_expect(known, "sample before its TYPE: %s", line);
		}
		if (line[nl] == '{')
			cr_assert(strstr(line, "\"} ") || strstr(line, "\"}"), "%s", line);
		cr_assert((sp = strrchr(line, ' ')), "%s", line);
		strtod(sp + 1, &end);
		cr_expect(*end == '\0', "value is not a number: %s", line);
	}
}

/* The value of a sample line that starts with series (not a HELP line). */
static double value_of(const char *text, const char *series)
{
	char needle[160];
	const char *p;

	snprintf(needle, sizeof(needle), "\n%s", series);
	p = strstr(text, needle);
	cr_assert(p, "no %s in /metrics", series);
	return strtod(p + strlen(needle), NULL);
}

static bool both_reported(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e);
	bool ok = h_fleet_host(fleet, "hv1") && h_fleet_host(fleet, "hv2") &&
	          json_is_integer(json_object_get(h_fleet_host(fleet, "hv2"), "aio_nr"));

	json_decref(fleet);
	return ok;
}

static bool both_watching(struct h_env *e, void *arg)
{
	char *text = http_get("/metrics");
	bool ok = strstr(text, "\naioctl_server_connected_agents 2\n") != NULL;

	free(text);
	return ok;
}

/* Prometheus's own linter (Debian's prometheus package) agrees. */
static void promtool(const char *text)
{
	char path[400];
	FILE *f;

	cr_assert(access("/usr/bin/promtool", X_OK) == 0,
	          "promtool is missing: run deploy/install-deps.sh");
	snprintf(path, sizeof(path), "%s/metrics.txt", env.dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	h_sh("promtool check metrics <%s >%s/promtool.log 2>&1 || { cat %s/promtool.log; exit 1; }",
	     path, env.dir, env.dir);
}

Test(metrics, prometheus_text_matching_fleet_status, .timeout = 60)
{
	char r1[300], r2[300], *text, *copy;
	json_t *fleet;

	h_env_init(&env);
	h_server_start(&env);
	h_sysroot_make(&env, "hv1", 1000, 65536, r1, sizeof(r1));
	h_sysroot_make(&env, "hv2", 30000, 1048576, r2, sizeof(r2));
	h_agent_start(
	        &env, "hv1", r1, "300ms",
	        (const char *[]){ "--label", "rack=r1", "--label", "odd.key-x=a\"b\\c", NULL });
	h_agent_start(&env, "hv2", r2, "300ms", NULL);
	cr_assert(h_wait(both_reported, &env, NULL, 10000));
	cr_assert(h_wait(both_watching, &env, NULL, 10000), "agents hold their Watch");

	text = http_get("/metrics");
	fleet = h_fleet(&env);
	cr_expect_eq(value_of(text, "aioctl_host_aio_nr{host=\"hv2\"} "),
	             json_integer_value(json_object_get(h_fleet_host(fleet, "hv2"), "aio_nr")));
	cr_expect_eq(value_of(text, "aioctl_host_aio_max_nr{host=\"hv1\"} "), 65536);
	cr_expect_float_eq(value_of(text, "aioctl_host_utilization{host=\"hv2\"} "),
	                   30000.0 / 1048576, 1e-9);
	cr_expect_eq(value_of(text, "aioctl_host_online{host=\"hv1\"} "), 1);
	cr_expect_eq(value_of(text, "aioctl_fleet_hosts "), 2);
	cr_expect_eq(value_of(text, "aioctl_fleet_aio_nr "), 31000);
	cr_expect_geq(value_of(text, "aioctl_server_reports_total "), 2);
	cr_expect_eq(value_of(text, "aioctl_server_connected_agents "), 2);
	/* the names that fit the Prometheus stack, beside the old ones */
	cr_expect_eq(value_of(text, "aioctl_host_aio_nr_peak{host=\"hv2\"} "), 30000);
	cr_expect_float_eq(value_of(text, "aioctl_host_utilization_ratio{host=\"hv2\"} "),
	                   30000.0 / 1048576, 1e-9);
	cr_expect_eq(value_of(text, "aioctl_host_last_seen_timestamp_seconds{host=\"hv1\"} "),
	             value_of(text, "aioctl_host_last_seen_seconds{host=\"hv1\"} "));
	cr_expect_eq(value_of(text, "aioctl_host_aio_room_contexts{host=\"hv1\"} "),
	             (65536 - 1000) / 1024);
	cr_expect(strstr(text, "\naioctl_host_info{host=\"hv1\",rack=\"r1\","
	                       "odd_key_x=\"a\\\"b\\\\c\",kernel=\""),
	          "labels as label names, values escaped:\n%s", text);
	cr_expect(strstr(text, "\naioctl_build_info{version=\"" AIO_VERSION "\"} 1\n"));
	json_decref(fleet);
	copy = strdup(text);
	check_format(copy);
	free(copy);
	promtool(text);
	free(text);
	text = http_get("/");
	cr_expect(strstr(text, "<a href=\"metrics\">"), "%s", text);
	free(text);
	text = http_get("/healthz");
	cr_expect_str_eq(text, "ok\n");
	free(text);
	text = http_get("/readyz");
	cr_expect_str_eq(text, "ready\n");
	free(text);
	h_env_fini(&env);
}
