/* aioctl report trend: which hosts are close to the limit, how fast they
 * grow, when they run out and what the limit should be. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "cli.h"
#include "clock.h"
#include "duration.h"

#define TOP_DEFAULT 20 /* host rows in the table; json and csv get all */
#define HTML_CHARTS 8  /* host charts in the HTML page (or --top, up to 50) */

struct group {
	const char *name;
	size_t hosts, act, watch, errors;
	double peak_utilization;
	const Aioctl__V1__HostTrend *first; /* the most urgent (the reply's order) */
	bool has_exhaustion;
	uint64_t exhaustion_ms;
	const char *exhaustion_host;
};

static void group_add(struct group *g, const Aioctl__V1__HostTrend *h)
{
	if (!g->hosts++)
		g->first = h;
	g->act += !strcmp(h->verdict, "act");
	g->watch += !strcmp(h->verdict, "watch");
	g->errors += h->errors;
	if (h->peak_utilization > g->peak_utilization)
		g->peak_utilization = h->peak_utilization;
	if (h->has_exhaustion_ms && (!g->has_exhaustion || h->exhaustion_ms < g->exhaustion_ms)) {
		g->has_exhaustion = true;
		g->exhaustion_ms = h->exhaustion_ms;
		g->exhaustion_host = h->host;
	}
}

/* Groups in order of their most urgent host; returns how many. */
static size_t groups_make(const Aioctl__V1__TrendReply *rep, struct group *gs)
{
	size_t n = 0;

	for (size_t i = 0; i < rep->n_hosts; i++) {
		const char *name = rep->hosts[i]->group ? rep->hosts[i]->group : "";
		size_t k = 0;

		while (k < n && strcmp(gs[k].name, name) != 0)
			k++;
		if (k == n)
			gs[n++] = (struct group){ .name = name };
		group_add(&gs[k], rep->hosts[i]);
	}
	return n;
}

static void day_format(uint64_t ms, char *buf, size_t len)
{
	char full[40];

	aio_time_format_rfc3339(ms, full, sizeof(full));
	snprintf(buf, len, "%.10s", full);
}

static json_t *group_json(const struct group *g)
{
	json_t *o = json_object();

	json_object_set_new(o, "hosts", json_integer((json_int_t)g->hosts));
	json_object_set_new(o, "act", json_integer((json_int_t)g->act));
	json_object_set_new(o, "watch", json_integer((json_int_t)g->watch));
	json_object_set_new(o, "errors", json_integer((json_int_t)g->errors));
	json_object_set_new(o, "peak_utilization", json_real(g->peak_utilization));
	json_object_set_new(o, "exhaustion",
	                    g->has_exhaustion ? cli_time_json(g->exhaustion_ms) : json_null());
	json_object_set_new(o, "exhaustion_host",
	                    g->has_exhaustion ? cli_json_text(g->exhaustion_host) : json_null());
	json_object_set_new(o, "first", g->first ? cli_json_text(g->first->host) : json_null());
	return o;
}

static json_t *host_json(const Aioctl__V1__HostTrend *h, bool grouped)
{
	json_t *o = json_object();

	json_object_set_new(o, "host", cli_json_text(h->host));
	if (grouped)
		json_object_set_new(o, "group", cli_json_text(h->group ? h->group : ""));
	json_object_set_new(o, "limit", json_integer((json_int_t)h->limit));
	json_object_set_new(o, "peak",
	                    h->has_peak ? json_integer((json_int_t)h->peak) : json_null());
	json_object_set_new(o, "p95", h->has_p95 ? json_integer((json_int_t)h->p95) : json_null());
	/* further 1024-event contexts under today's limit at the window's peak */
	json_object_set_new(o, "room_at_peak",
	                    h->has_peak
	                            ? json_integer((json_int_t)aio_room_contexts(h->limit, h->peak))
	                            : json_null());
	json_object_set_new(o, "peak_utilization",
	                    h->has_peak_utilization ? json_real(h->peak_utilization) : json_null());
	json_object_set_new(o, "growth_per_day",
	                    h->has_growth_per_day ? json_real(h->growth_per_day) : json_null());
	json_object_set_new(o, "exhaustion",
	                    h->has_exhaustion_ms ? cli_time_json(h->exhaustion_ms) : json_null());
	json_object_set_new(o, "exhaustion_ms",
	                    h->has_exhaustion_ms ? json_integer((json_int_t)h->exhaustion_ms)
	                                         : json_null());
	json_object_set_new(o, "errors", json_integer(h->errors));
	json_object_set_new(o, "recommended",
	                    h->has_recommended ? json_integer((json_int_t)h->recommended)
	                                       : json_null());
	json_object_set_new(o, "days", json_integer(h->days));
	json_object_set_new(o, "verdict", cli_json_text(h->verdict));
	if (h->n_daily) { /* asked for (series): the day's peak and limit */
		json_t *d = json_array();

		for (size_t i = 0; i < h->n_daily; i++) {
			json_t *p = json_object();

			json_object_set_new(p, "time", cli_time_json(h->daily[i]->time_ms));
			json_object_set_new(p, "peak",
			                    json_integer((json_int_t)h->daily[i]->aio_nr_max));
			json_object_set_new(p, "limit",
			                    json_integer((json_int_t)h->daily[i]->aio_max_nr));
			json_array_append_new(d, p);
		}
		json_object_set_new(o, "daily", d);
	}
	return o;
}

static int print_json(FILE *out, struct cli *c, const Aioctl__V1__TrendReply *rep,
                      const struct group *gs, size_t ng, const struct group *fleet)
{
	json_t *root = json_object(), *hosts = json_array();
	size_t top = c->top ? c->top : rep->n_hosts;

	json_object_set_new(root, "since", cli_time_json(rep->since_ms));
	json_object_set_new(root, "headroom_percent", json_integer(rep->headroom_percent));
	json_object_set_new(root, "horizon_ms", json_integer((json_int_t)rep->horizon_ms));
	for (size_t i = 0; i < rep->n_hosts && i < top; i++)
		json_array_append_new(hosts, host_json(rep->hosts[i], c->group_by != NULL));
	json_object_set_new(root, "hosts", hosts);
	if (c->group_by) {
		json_t *groups = json_object();

		for (size_t i = 0; i < ng; i++)
			json_object_set_new(groups, gs[i].name, group_json(&gs[i]));
		json_object_set_new(root, "group_by", cli_json_text(c->group_by));
		json_object_set_new(root, "groups", groups);
	}
	json_object_set_new(root, "fleet", group_json(fleet));
	{
		json_t *days = json_array();

		for (size_t i = 0; i < rep->n_fleet; i++) {
			const Aioctl__V1__FleetDay *d = rep->fleet[i];
			json_t *p = json_object();

			json_object_set_new(p, "time", cli_time_json(d->day_ms));
			json_object_set_new(p, "max_utilization", json_real(d->max_utilization));
			json_object_set_new(p, "mean_utilization", json_real(d->mean_utilization));
			json_object_set_new(p, "hosts", json_integer(d->hosts));
			json_array_append_new(days, p);
		}
		json_object_set_new(root, "fleet_days", days);
	}
	return cli_json_print(root, out) < 0 ? CLI_EXIT_FAILED : 0;
}

static void print_hosts(FILE *out, struct cli *c, const Aioctl__V1__TrendReply *rep, size_t top)
{
	static const char *const headers[] = { "HOST",   "GROUP",      "LIMIT",      "PEAK",
		                               "P95",    "UTIL(PEAK)", "GROWTH/DAY", "EXHAUSTION",
		                               "ERRORS", "RECOMMEND",  "VERDICT",    "ROOM(PEAK)" };
	static const char *const csv_headers[] = {
		"host",           "group",      "limit",
		"peak",           "p95",        "peak_utilization",
		"growth_per_day", "exhaustion", "errors",
		"recommended",    "verdict",    "room_at_peak"
	};
	const char *const *all = c->format == CLI_CSV ? csv_headers : headers;
	const char *hdr[12];
	size_t nc = 0;
	struct cli_table t;

	/* the GROUP column only with --group-by */
	for (size_t k = 0; k < 12; k++)
		if (k != 1 || c->group_by)
			hdr[nc++] = all[k];
	cli_table_init(&t, hdr, nc);
	for (size_t i = 0; i < rep->n_hosts && i < top; i++) {
		const Aioctl__V1__HostTrend *h = rep->hosts[i];
		char lim[24], peak[24], p95[24], util[24], growth[32], ex[40], err[16], rec[24];
		char room[24];
		const char *row[12] = { h->host,    h->group ? h->group : "",
			                lim,        peak,
			                p95,        util,
			                growth,     ex,
			                err,        rec,
			                h->verdict, room };
		const char *cells[12];

		snprintf(lim, sizeof(lim), "%" PRIu64, h->limit);
		snprintf(peak, sizeof(peak), h->has_peak ? "%" PRIu64 : "-", h->peak);
		snprintf(p95, sizeof(p95), h->has_p95 ? "%" PRIu64 : "-", h->p95);
		if (!h->has_peak_utilization)
			snprintf(util, sizeof(util), "-");
		else if (c->format == CLI_CSV)
			snprintf(util, sizeof(util), "%.6f", h->peak_utilization);
		else
			snprintf(util, sizeof(util), "%.1f%%", 100 * h->peak_utilization);
		if (!h->has_growth_per_day)
			snprintf(growth, sizeof(growth), "-");
		else
			snprintf(growth, sizeof(growth), "%+.0f", h->growth_per_day);
		if (!h->has_exhaustion_ms)
			snprintf(ex, sizeof(ex), "not within horizon");
		else if (c->format == CLI_CSV)
			aio_time_format_rfc3339(h->exhaustion_ms, ex, sizeof(ex));
		else
			day_format(h->exhaustion_ms, ex, sizeof(ex));
		snprintf(err, sizeof(err), "%u", h->errors);
		snprintf(rec, sizeof(rec), h->has_recommended ? "%" PRIu64 : "-", h->recommended);
		if (h->has_peak)
			snprintf(room, sizeof(room), "%" PRIu64,
			         aio_room_contexts(h->limit, h->peak));
		else
			snprintf(room, sizeof(room), "%s", c->format == CLI_CSV ? "" : "-");
		for (size_t k = 0, m = 0; k < 12; k++)
			if (k != 1 || c->group_by)
				cells[m++] = row[k];
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, c->format, out);
	cli_table_done(&t);
}

static void print_groups(FILE *out, const struct group *gs, size_t ng)
{
	static const char *const headers[] = { "GROUP",      "HOSTS",      "ACT",    "WATCH",
		                               "UTIL(PEAK)", "EXHAUSTION", "ERRORS", "FIRST" };
	struct cli_table t;

	cli_table_init(&t, headers, 8);
	for (size_t i = 0; i < ng; i++) {
		const struct group *g = &gs[i];
		char hosts[16], act[16], watch[16], util[24], ex[300], err[16];
		const char *cells[8] = { *g->name ? g->name : "(none)",
			                 hosts,
			                 act,
			                 watch,
			                 util,
			                 ex,
			                 err,
			                 g->first->host };

		snprintf(hosts, sizeof(hosts), "%zu", g->hosts);
		snprintf(act, sizeof(act), "%zu", g->act);
		snprintf(watch, sizeof(watch), "%zu", g->watch);
		snprintf(util, sizeof(util), "%.1f%%", 100 * g->peak_utilization);
		if (g->has_exhaustion)
			day_format(g->exhaustion_ms, ex, sizeof(ex));
		else
			snprintf(ex, sizeof(ex), "not within horizon");
		snprintf(err, sizeof(err), "%zu", g->errors);
		cli_table_add(&t, cells);
	}
	fprintf(out, "\n");
	cli_table_print(&t, CLI_TABLE, out);
	cli_table_done(&t);
}

int cli_report_trend(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__TrendRequest in = AIOCTL__V1__TREND_REQUEST__INIT;
	Aioctl__V1__TrendReply *rep = NULL;
	struct cli_selector sel;
	int r = 0;

	if (cli_selector(c, &sel) < 0)
		return CLI_EXIT_USAGE;
	if (c->n_select || c->hosts_glob)
		in.selector = &sel.sel;
	if (c->since_ms) {
		in.has_since_ms = true;
		in.since_ms = c->since_ms;
	}
	in.group_by = (char *)c->group_by;
	if (c->format == CLI_HTML) {
		in.has_series = true;
		in.series = c->top ? (c->top < 50 ? (uint32_t)c->top : 50) : HTML_CHARTS;
	}
	if ((r = cli_call(c, "Trend", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	r = cli_trend_print(c, rep, stdout);
	aioctl__v1__trend_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_trend_print(struct cli *c, const Aioctl__V1__TrendReply *rep, FILE *out)
{
	struct group *gs = NULL, fleet = { .name = "fleet" };
	size_t ng = 0;
	int r = 0;

	if (!(gs = calloc(rep->n_hosts + 1, sizeof(*gs)))) {
		fprintf(stderr, "aioctl: out of memory\n");
		r = CLI_EXIT_FAILED;
		goto out_free;
	}
	for (size_t i = 0; i < rep->n_hosts; i++)
		group_add(&fleet, rep->hosts[i]);
	if (c->group_by)
		ng = groups_make(rep, gs);
	if (c->format == CLI_JSON) {
		r = print_json(out, c, rep, gs, ng, &fleet);
		goto out_free;
	}
	if (c->format == CLI_HTML) {
		r = cli_trend_html(c, rep, fleet.act, fleet.watch, out);
		goto out_free;
	}
	if (c->format == CLI_CSV) {
		print_hosts(out, c, rep, c->top ? c->top : rep->n_hosts);
		goto out_free;
	}
	{
		char since[40], horizon[32];

		day_format(rep->since_ms, since, sizeof(since));
		aio_duration_format(rep->horizon_ms, horizon, sizeof(horizon));
		fprintf(out,
		        "Since %s; recommendations: peak + %u%%, a power of two; horizon %s\n\n",
		        since, rep->headroom_percent, horizon);
	}
	print_hosts(out, c, rep, c->top ? c->top : TOP_DEFAULT);
	if (rep->n_hosts > (c->top ? c->top : TOP_DEFAULT))
		fprintf(out, "(%zu more hosts: --top N or --output csv for all)\n",
		        rep->n_hosts - (c->top ? c->top : TOP_DEFAULT));
	if (c->group_by)
		print_groups(out, gs, ng);
	fprintf(out, "\nFleet: %zu hosts, %zu act, %zu watch; highest peak utilisation %.1f%%",
	        fleet.hosts, fleet.act, fleet.watch, 100 * fleet.peak_utilization);
	if (fleet.has_exhaustion) {
		char ex[40];

		day_format(fleet.exhaustion_ms, ex, sizeof(ex));
		fprintf(out, "; first exhaustion %s (%s)", ex, fleet.exhaustion_host);
	}
	fprintf(out, "\n");
out_free:
	free(gs);
	return r;
}
