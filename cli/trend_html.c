/* report trend --output html: one self-contained page (no scripts, no
 * fetches) with inline SVG charts, readable on screen and on paper. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "aio.h"
#include "cli.h"
#include "clock.h"
#include "duration.h"

#define W            760.0
#define H            230.0
#define ML           64.0 /* margins: left (the y labels), right, top, bottom */
#define MR           16.0
#define MT           12.0
#define MB           28.0
#define AHEAD_MAX_MS (180 * AIO_DAY_MS) /* forecasts drawn at most this far */

struct chart {
	uint64_t x0, x1;
	double y1; /* y runs from 0 */
};

static double px(const struct chart *ch, uint64_t t)
{
	return ML + (W - ML - MR) * (double)(t - ch->x0) / (double)(ch->x1 - ch->x0);
}

static double py(const struct chart *ch, double v)
{
	return H - MB - (H - MT - MB) * (v > ch->y1 ? 1 : v / ch->y1);
}

/* A day's (or an hour's: step) point: its middle, inside [since, now]. */
static uint64_t mid_day(uint64_t day_ms, uint64_t step, uint64_t since, uint64_t now)
{
	uint64_t t = day_ms + step / 2;

	return t < since ? since : t > now ? now : t;
}

static void esc(FILE *out, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
}

static void day(uint64_t ms, char *buf, size_t len)
{
	char full[40];

	aio_time_format_rfc3339(ms, full, sizeof(full));
	snprintf(buf, len, "%.10s", full);
}

/* Frame, the y labels given and the first and last day under the x axis. */
static void axes(FILE *out, const struct chart *ch, const double *ys, const char *const *labels,
                 size_t n)
{
	char a[16], b[16];

	fprintf(out,
	        "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
	        ML, MT, W - ML - MR, H - MT - MB);
	for (size_t i = 0; i < n; i++)
		fprintf(out,
		        "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
		        "<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
		        ML, W - MR, py(ch, ys[i]), py(ch, ys[i]), ML - 4, py(ch, ys[i]) + 4,
		        labels[i]);
	day(ch->x0, a, sizeof(a));
	day(ch->x1, b, sizeof(b));
	fprintf(out,
	        "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%s</text>"
	        "<text class=\"xl end\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
	        ML, H - 8, a, W - MR, H - 8, b);
}

/* Each point also as a dot: one day (or hour) of data is one point, which
 * a polyline alone does not draw. */
static void dot(FILE *out, const char *series, double x, double y)
{
	fprintf(out,
	        "<circle class=\"%s\" data-series=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n",
	        series, series, x, y);
}

static void fleet_chart(FILE *out, const Aioctl__V1__TrendReply *rep, uint64_t now)
{
	uint64_t step = rep->has_step_ms && rep->step_ms ? rep->step_ms : AIO_DAY_MS;
	struct chart ch = { rep->since_ms, now, 1.1 };
	static const double ys[] = { 0, 0.5, 1 };
	static const char *const labels[] = { "0%", "50%", "100%" };
	static const char *const names[] = { "fleet-max", "fleet-mean" };

	for (size_t i = 0; i < rep->n_fleet; i++)
		if (rep->fleet[i]->max_utilization * 1.1 > ch.y1)
			ch.y1 = rep->fleet[i]->max_utilization * 1.1;
	fprintf(out,
	        "<svg id=\"fleet\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
	        "aria-label=\"fleet utilisation per day\">\n",
	        W, H);
	axes(out, &ch, ys, labels, 3);
	for (int s = 0; s < 2; s++) {
		fprintf(out, "<polyline class=\"%s\" data-series=\"%s\" points=\"",
		        s ? "mean" : "peak", names[s]);
		for (size_t i = 0; i < rep->n_fleet; i++) {
			const Aioctl__V1__FleetDay *d = rep->fleet[i];

			fprintf(out, "%s%.1f,%.1f", i ? " " : "",
			        px(&ch, mid_day(d->day_ms, step, rep->since_ms, now)),
			        py(&ch, s ? d->mean_utilization : d->max_utilization));
		}
		fprintf(out, "\"/>\n");
		for (size_t i = 0; i < rep->n_fleet; i++)
			dot(out, s ? "mean" : "peak",
			    px(&ch, mid_day(rep->fleet[i]->day_ms, step, rep->since_ms, now)),
			    py(&ch, s ? rep->fleet[i]->mean_utilization
			              : rep->fleet[i]->max_utilization));
	}
	fprintf(out, "</svg>\n<p class=\"legend\"><span class=\"k peak\"></span> highest host "
	             "&nbsp; <span class=\"k mean\"></span> mean over hosts, per day; 100%% is "
	             "each host's own limit</p>\n");
}

static void host_chart(FILE *out, const Aioctl__V1__HostTrend *h, uint64_t step, uint64_t since,
                       uint64_t now)
{
	struct chart ch = { since, now, 1 };
	bool forecast = h->has_growth_per_day && h->growth_per_day > 0 && h->n_daily;
	double f0 = 0, f1 = 0, top = (double)h->limit;
	uint64_t t0 = 0, t1 = 0;
	char lim[24], mid[24], ex[16];
	double ys[3];
	const char *labels[3] = { "0", mid, lim };

	if (forecast) {
		const Aioctl__V1__Sample *last = h->daily[h->n_daily - 1];

		t0 = mid_day(last->time_ms, step, since, now);
		t1 = h->has_exhaustion_ms ? h->exhaustion_ms : now + AHEAD_MAX_MS;
		if (t1 > now + AHEAD_MAX_MS)
			t1 = now + AHEAD_MAX_MS;
		if (t1 <= t0)
			t1 = t0 + AIO_DAY_MS;
		f0 = (double)last->aio_nr_max;
		f1 = f0 + h->growth_per_day * (double)(t1 - t0) / (double)AIO_DAY_MS;
		ch.x1 = t1 > now ? t1 : now;
		if (f1 > top)
			top = f1;
	}
	for (size_t i = 0; i < h->n_daily; i++)
		if ((double)h->daily[i]->aio_nr_max > top)
			top = (double)h->daily[i]->aio_nr_max;
	ch.y1 = top * 1.1 + 1;
	snprintf(lim, sizeof(lim), "%" PRIu64, h->limit);
	snprintf(mid, sizeof(mid), "%" PRIu64, h->limit / 2);
	ys[0] = 0;
	ys[1] = (double)(h->limit / 2);
	ys[2] = (double)h->limit;
	fprintf(out, "<figure><svg data-host=\"");
	esc(out, h->host);
	fprintf(out, "\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n", W, H);
	axes(out, &ch, ys, labels, 3);
	fprintf(out, "<polyline class=\"limit\" data-series=\"limit\" points=\"");
	for (size_t i = 0; i < h->n_daily; i++) {
		const Aioctl__V1__Sample *d = h->daily[i];

		fprintf(out, "%s%.1f,%.1f %.1f,%.1f", i ? " " : "",
		        px(&ch, d->time_ms < since ? since : d->time_ms),
		        py(&ch, (double)d->aio_max_nr),
		        px(&ch, d->time_ms + step > now ? now : d->time_ms + step),
		        py(&ch, (double)d->aio_max_nr));
	}
	if (ch.x1 > now) /* the limit as it stands, on to the forecast's end */
		fprintf(out, " %.1f,%.1f", px(&ch, ch.x1), py(&ch, (double)h->limit));
	fprintf(out, "\"/>\n<polyline class=\"peak\" data-series=\"peak\" points=\"");
	for (size_t i = 0; i < h->n_daily; i++)
		fprintf(out, "%s%.1f,%.1f", i ? " " : "",
		        px(&ch, mid_day(h->daily[i]->time_ms, step, since, now)),
		        py(&ch, (double)h->daily[i]->aio_nr_max));
	fprintf(out, "\"/>\n");
	for (size_t i = 0; i < h->n_daily; i++)
		dot(out, "peak", px(&ch, mid_day(h->daily[i]->time_ms, step, since, now)),
		    py(&ch, (double)h->daily[i]->aio_nr_max));
	if (forecast)
		fprintf(out,
		        "<line class=\"forecast\" data-series=\"forecast\" x1=\"%.1f\" y1=\"%.1f\" "
		        "x2=\"%.1f\" y2=\"%.1f\"/>\n",
		        px(&ch, t0), py(&ch, f0), px(&ch, t1), py(&ch, f1));
	fprintf(out, "</svg><figcaption><b>");
	esc(out, h->host);
	fprintf(out,
	        "</b> (%s): peak %" PRIu64 " of %" PRIu64 " (%.1f%%), room for %" PRIu64
	        " more contexts at the peak",
	        h->verdict, h->peak, h->limit, 100 * h->peak_utilization,
	        aio_room_contexts(h->limit, h->peak));
	if (h->has_growth_per_day)
		fprintf(out, ", %+.0f a day", h->growth_per_day);
	if (h->has_exhaustion_ms) {
		day(h->exhaustion_ms, ex, sizeof(ex));
		fprintf(out, ", runs out %s", ex);
	}
	if (h->has_recommended)
		fprintf(out, "; recommended %" PRIu64, h->recommended);
	fprintf(out, ".</figcaption></figure>\n");
}

static void host_table(FILE *out, const Aioctl__V1__TrendReply *rep, size_t top)
{
	fprintf(out, "<table><thead><tr><th>Host</th><th>Group</th><th>Limit</th><th>Peak</th>"
	             "<th>P95</th><th>Util (peak)</th><th>Growth/day</th><th>Exhaustion</th>"
	             "<th>Errors</th><th>Recommend</th><th>Verdict</th><th>Room (peak)</th></tr>"
	             "</thead><tbody>\n");
	for (size_t i = 0; i < rep->n_hosts && i < top; i++) {
		const Aioctl__V1__HostTrend *h = rep->hosts[i];
		char ex[24] = "not within horizon";

		if (h->has_exhaustion_ms)
			day(h->exhaustion_ms, ex, sizeof(ex));
		fprintf(out, "<tr class=\"%s\"><td>", h->verdict);
		esc(out, h->host);
		fprintf(out, "</td><td>");
		esc(out, h->group ? h->group : "");
		fprintf(out,
		        "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
		        "</td><td>%.1f%%</td><td>%+.0f</td><td>%s</td><td>%u</td><td>%" PRIu64
		        "</td><td>%s</td><td>%" PRIu64 "</td></tr>\n",
		        h->limit, h->peak, h->p95, 100 * h->peak_utilization, h->growth_per_day, ex,
		        h->errors, h->recommended, h->verdict,
		        aio_room_contexts(h->limit, h->peak));
	}
	fprintf(out, "</tbody></table>\n");
}

static const char style[] =
        "body{font:14px/1.4 sans-serif;color:#111;max-width:800px;margin:2em auto;padding:0 1em}"
        "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}"
        ".meta{color:#555}svg{width:100%;height:auto;display:block}"
        ".frame{fill:none;stroke:#999}.grid{stroke:#ddd}"
        ".yl{font-size:11px;text-anchor:end;fill:#333}.xl{font-size:11px;fill:#333}"
        ".end{text-anchor:end}"
        "polyline,line.forecast{fill:none;stroke-width:2}"
        ".peak{stroke:#b00020}.mean{stroke:#1a56db;stroke-dasharray:6 3}"
        ".limit{stroke:#111;stroke-width:1.5}.forecast{stroke:#b00020;stroke-dasharray:2 4}"
        "circle.peak{fill:#b00020;stroke:none}circle.mean{fill:#1a56db;stroke:none}"
        ".legend .k{display:inline-block;width:2em;border-top:2px solid}"
        ".legend .k.peak{border-color:#b00020}"
        ".legend .k.mean{border-color:#1a56db;border-top-style:dashed}"
        "figure{margin:1em 0;break-inside:avoid}figcaption{font-size:13px}"
        "table{border-collapse:collapse;width:100%;font-size:12px}"
        "th,td{border-bottom:1px solid #ccc;padding:3px 5px;text-align:right}"
        "th:first-child,td:first-child,td:nth-child(2){text-align:left}"
        "tr.act td:last-child{color:#b00020;font-weight:bold}"
        "@media print{body{margin:0;max-width:none}h2{break-after:avoid}}";

int cli_trend_html(const struct cli *c, const Aioctl__V1__TrendReply *rep, size_t act, size_t watch,
                   FILE *out)
{
	uint64_t now = aio_now_ms();
	char since[16], today[16], horizon[32];
	size_t charts = 0;

	day(rep->since_ms, since, sizeof(since));
	day(now, today, sizeof(today));
	aio_duration_format(rep->horizon_ms, horizon, sizeof(horizon));
	fprintf(out,
	        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	        "<title>AIO capacity %s to %s</title><style>%s</style></head><body>\n"
	        "<h1>AIO capacity review</h1>\n<p class=\"meta\">%s to %s. Recommendations: the "
	        "peak (or, growing, the trend 90 days ahead) plus %u%%, rounded up to a power of "
	        "two. Exhaustion is projected %s ahead from daily peaks.</p>\n"
	        "<p><b>%zu hosts: %zu to act on, %zu to watch.</b></p>\n",
	        since, today, style, since, today, rep->headroom_percent, horizon, rep->n_hosts,
	        act, watch);
	fprintf(out, "<h2>Fleet utilisation</h2>\n");
	fleet_chart(out, rep, now);
	fprintf(out,
	        "<h2>Most urgent hosts</h2>\n<p class=\"legend\"><span class=\"k peak\"></span>"
	        " daily peak of aio-nr &nbsp; black: fs.aio-max-nr &nbsp; dotted: the "
	        "trend to exhaustion</p>\n");
	for (size_t i = 0; i < rep->n_hosts; i++)
		if (rep->hosts[i]->n_daily) {
			host_chart(out, rep->hosts[i],
			           rep->has_step_ms && rep->step_ms ? rep->step_ms : AIO_DAY_MS,
			           rep->since_ms, now);
			charts++;
		}
	if (!charts)
		fprintf(out, "<p>No host has samples in the window.</p>\n");
	fprintf(out, "<h2>Hosts</h2>\n");
	host_table(out, rep, c->top ? c->top : rep->n_hosts);
	fprintf(out, "</body></html>\n");
	return fflush(out) == 0 && !ferror(out) ? 0 : CLI_EXIT_FAILED;
}
