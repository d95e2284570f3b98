/* aioctl report trend: the capacity model over each host's stored history,
 * answered on the query thread so ingest never waits for it. */
#include "trend.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "config.h"
#include "history.h"
#include "hosts.h"
#include "log.h"
#include "names.h"
#include "query.h"
#include "rollout_store.h"
#include "rollouts.h"
#include "rpc_server.h"
#include "store_events.h"

#define TREND_SINCE_DEFAULT_MS (30 * AIO_DAY_MS)
#define TREND_SINCE_MAX_MS     (400 * AIO_DAY_MS)
#define TREND_HOURS_MAX        (401 * 24)
#define TREND_DAYS_MAX         402 /* 400 days touch at most 402 calendar days */
#define TREND_SERIES_MAX       50  /* hosts whose daily peaks are sent */
/* ranges up to this long are charted by the hour (73 points at most) */
#define TREND_HOURLY_MAX_MS    (3 * AIO_DAY_MS)

/* Verdicts: act when AIO already failed, the peak is within 10% of the
 * limit or the limit runs out within a month; watch at 70% or a quarter. */
#define ACT_UTILIZATION   0.90
#define WATCH_UTILIZATION 0.70
#define ACT_WITHIN_MS     (30 * AIO_DAY_MS)
#define WATCH_WITHIN_MS   (90 * AIO_DAY_MS)
/* A growing host's recommendation covers where the fit puts it this far
 * ahead, so the new limit does not itself run out within a quarter. */
#define PLAN_AHEAD_DAYS   90.0

/* The k-th smallest peak (0-based), in linear time on average: the hours
 * are partitioned around it (Hoare's selection), not sorted. */
static uint64_t select_peak(struct server_history_hour *h, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint64_t pivot = h[lo + (hi - lo) / 2].peak;
		size_t i = lo, j = hi;

		while (i <= j) {
			while (h[i].peak < pivot)
				i++;
			while (h[j].peak > pivot)
				j--;
			if (i <= j) {
				struct server_history_hour t = h[i];

				h[i++] = h[j];
				h[j] = t;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break; /* between the two: equal to the pivot */
	}
	return h[k].peak;
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v && p < (1ULL << 62))
		p <<= 1;
	return p;
}

static uint64_t pow2_at_most(uint64_t v)
{
	uint64_t p = 1;

	while (p <= v / 2)
		p <<= 1;
	return p;
}

/* Least squares over the daily peaks, each placed at the middle of the
 * hour it happened in: the slope in events per day and the line's value
 * at x_mean (days after the first peak). */
static bool fit_daily_peaks(const struct server_history_hour *hours, size_t n, unsigned *ret_days,
                            double *ret_slope, double *ret_x_mean, double *ret_y_mean,
                            uint64_t *ret_t0)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, x, y;
	uint64_t t0 = 0;
	unsigned days = 0;

	for (size_t i = 0; i < n;) {
		uint64_t day = hours[i].start_ms / AIO_DAY_MS, peak = 0, at = 0;

		for (; i < n && hours[i].start_ms / AIO_DAY_MS == day; i++)
			if (hours[i].peak >= peak) {
				peak = hours[i].peak;
				at = hours[i].start_ms + AIO_HOUR_MS / 2;
			}
		if (!days)
			t0 = at;
		x = (double)(at - t0) / (double)AIO_DAY_MS;
		y = (double)peak;
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		days++;
	}
	*ret_days = days;
	*ret_t0 = t0;
	if (days < 2)
		return false;
	*ret_x_mean = sx / days;
	*ret_y_mean = sy / days;
	if (sxx - sx * sx / days <= 1e-9)
		return false;
	*ret_slope = (sxy - sx * sy / days) / (sxx - sx * sx / days);
	if (fabs(*ret_slope) * 365 < 0.5) /* rounding noise: less than one event a year */
		*ret_slope = 0;
	return true;
}

void server_trend_compute(struct server_history_hour *hours, size_t n, uint64_t limit,
                          uint32_t errors, uint64_t now_ms, const struct trend_policy *p,
                          struct trend_result *r)
{
	double x_mean = 0, y_mean = 0, slope = 0, need;
	uint64_t t0 = 0, last_day_peak = 0, rec;

	memset(r, 0, sizeof(*r));
	if (!n) {
		r->verdict = "unknown";
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double u = server_history_util(hours[i].umax);

		if (hours[i].peak > r->peak)
			r->peak = hours[i].peak;
		if (u > r->peak_utilization)
			r->peak_utilization = u;
		if (hours[i].start_ms / AIO_DAY_MS == hours[n - 1].start_ms / AIO_DAY_MS &&
		    hours[i].peak > last_day_peak)
			last_day_peak = hours[i].peak;
	}
	if ((r->has_growth = fit_daily_peaks(hours, n, &r->days, &slope, &x_mean, &y_mean, &t0)))
		r->growth_per_day = slope;
	if (limit && last_day_peak >= limit) {
		r->has_exhaustion = true; /* already there */
		r->exhaustion_ms = now_ms;
	} else if (r->has_growth && slope > 0 && limit) {
		double x = x_mean + ((double)limit - y_mean) / slope;
		double at = (double)t0 + x * (double)AIO_DAY_MS;

		if (at < (double)now_ms)
			at = (double)now_ms;
		if (at <= (double)(now_ms + p->horizon_ms)) {
			r->has_exhaustion = true;
			r->exhaustion_ms = (uint64_t)at;
		}
	}
	r->p95 = select_peak(hours, n, (95 * n + 99) / 100 - 1); /* ceil(0.95 n) - 1 */

	need = (double)r->peak;
	if (r->has_growth && slope > 0) {
		double ahead = y_mean + slope * ((double)(now_ms - t0) / (double)AIO_DAY_MS +
		                                 PLAN_AHEAD_DAYS - x_mean);

		if (ahead > need)
			need = ahead;
	}
	need = ceil(need * (100.0 + p->headroom_percent) / 100.0);
	if (need > (double)(1ULL << 62))
		need = (double)(1ULL << 62);
	rec = pow2_at_least(need < AIO_KERNEL_DEFAULT_MAX ? AIO_KERNEL_DEFAULT_MAX
	                                                  : (uint64_t)need);
	if (p->bound_max && rec > p->bound_max)
		rec = pow2_at_most(p->bound_max) >= p->bound_min ? pow2_at_most(p->bound_max)
		                                                 : p->bound_max;
	if (p->bound_min && rec < p->bound_min)
		rec = !p->bound_max || pow2_at_least(p->bound_min) <= p->bound_max
		              ? pow2_at_least(p->bound_min)
		              : p->bound_min;
	r->recommended = rec;

	if (errors || r->peak_utilization >= ACT_UTILIZATION ||
	    (r->has_exhaustion && r->exhaustion_ms - now_ms <= ACT_WITHIN_MS))
		r->verdict = "act";
	else if (r->peak_utilization >= WATCH_UTILIZATION ||
	         (r->has_exhaustion && r->exhaustion_ms - now_ms <= WATCH_WITHIN_MS))
		r->verdict = "watch";
	else
		r->verdict = "ok";
}

/* ------------------------------------------------------------ the RPC */

struct trend_host {
	int64_t id;
	char *name, *group;
	uint64_t limit, bound_min, bound_max;
};

struct trend_job {
	struct trend_host *hosts;
	size_t n;
	uint64_t since_ms, now_ms;
	/* the charts' points: a day each, an hour each for a short range, so
	 * a page about one day still draws lines */
	uint64_t step_ms;
	unsigned headroom_percent;
	uint64_t horizon_ms;
	size_t series;
	Aioctl__V1__TrendReply_Closure closure;
	void *data;
};

static int verdict_rank(const char *v)
{
	return !strcmp(v, "act") ? 0 : !strcmp(v, "watch") ? 1 : !strcmp(v, "ok") ? 2 : 3;
}

/* Most urgent first: verdict, then the nearest exhaustion, then the
 * highest peak utilisation, then the name. */
static int by_urgency(const void *a, const void *b)
{
	const Aioctl__V1__HostTrend *x = *(Aioctl__V1__HostTrend *const *)a;
	const Aioctl__V1__HostTrend *y = *(Aioctl__V1__HostTrend *const *)b;
	int r = verdict_rank(x->verdict) - verdict_rank(y->verdict);

	if (r)
		return r;
	if (x->has_exhaustion_ms != y->has_exhaustion_ms)
		return x->has_exhaustion_ms ? -1 : 1;
	if (x->has_exhaustion_ms && x->exhaustion_ms != y->exhaustion_ms)
		return x->exhaustion_ms < y->exhaustion_ms ? -1 : 1;
	if (x->peak_utilization != y->peak_utilization)
		return x->peak_utilization > y->peak_utilization ? -1 : 1;
	return strcmp(x->host, y->host);
}

static void trend_job_free(struct trend_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->hosts[i].name);
		free(j->hosts[i].group);
	}
	free(j->hosts);
	free(j);
}

struct fleet_day {
	double sum, max;
	uint32_t n;
};

/* Adds a host's peak utilisation per step (hours oldest first) to the
 * fleet's. */
static void fleet_add(struct fleet_day *fl, uint64_t day0, uint64_t step,
                      const struct server_history_hour *hours, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint64_t day = hours[i].start_ms / step;
		double u = 0;

		for (; i < n && hours[i].start_ms / step == day; i++)
			if (server_history_util(hours[i].umax) > u)
				u = server_history_util(hours[i].umax);
		if (day < day0 || day - day0 >= TREND_DAYS_MAX)
			continue;
		fl[day - day0].sum += u;
		fl[day - day0].n++;
		if (u > fl[day - day0].max)
			fl[day - day0].max = u;
	}
}

static int by_start(const void *a, const void *b)
{
	uint64_t x = ((const struct server_history_hour *)a)->start_ms;
	uint64_t y = ((const struct server_history_hour *)b)->start_ms;

	return (x > y) - (x < y);
}

/* A host's hours from the daily tier, oldest first (TREND_HOURS_MAX at
 * most): sorted only when a day's hours closed out of order or the open
 * one is not the newest (a report's time went back); an hour found twice
 * merges. */
static int read_hours(struct server_reader *rd, int64_t host_id, uint64_t since_ms,
                      struct server_history_hour *hours, size_t *ret_n)
{
	size_t n = 0, k = 0;
	bool ordered = true;
	int r;

	if ((r = server_history_hours(rd, host_id, since_ms, hours, TREND_HOURS_MAX, &n)) < 0)
		return r;
	for (size_t i = 1; i < n && ordered; i++)
		ordered = hours[i - 1].start_ms <= hours[i].start_ms;
	if (!ordered)
		qsort(hours, n, sizeof(*hours), by_start);
	for (size_t i = 0; i < n; i++) {
		if (k && hours[k - 1].start_ms == hours[i].start_ms) {
			if (hours[i].peak > hours[k - 1].peak)
				hours[k - 1].peak = hours[i].peak;
			if (hours[i].umax > hours[k - 1].umax)
				hours[k - 1].umax = hours[i].umax;
			continue;
		}
		hours[k++] = hours[i];
	}
	*ret_n = k;
	return 0;
}

/* A host's peaks and lowest limits per step into out (TREND_DAYS_MAX
 * long). */
static size_t daily_series(struct server_reader *rd, int64_t host_id, uint64_t since_ms,
                           uint64_t step, Aioctl__V1__Sample *out, Aioctl__V1__Sample **pout)
{
	struct server_history_step st[TREND_DAYS_MAX];
	size_t n = 0;

	if (server_history_steps(rd, host_id, since_ms - since_ms % AIO_HOUR_MS, step, st,
	                         TREND_DAYS_MAX, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		aioctl__v1__sample__init(&out[i]);
		out[i].time_ms = st[i].start_ms;
		out[i].aio_nr = out[i].aio_nr_min = out[i].aio_nr_max = st[i].peak;
		out[i].aio_max_nr = st[i].limit;
		pout[i] = &out[i];
	}
	return n;
}

/* A share of the hosts, read on its own connection: on a multi-core
 * server two shares run at once (the reading is SQLite decoding rows). */
struct trend_part {
	const struct trend_job *j;
	Aioctl__V1__HostTrend *v;
	struct server_reader *rd;
	size_t from, to;
	struct fleet_day fl[TREND_DAYS_MAX];
	bool failed;
	char err[256];
};

/* Hosts at least this many are read in two shares. */
#define TREND_PARALLEL_MIN 1000

static void *trend_part_run(void *arg)
{
	struct trend_part *pt = arg;
	const struct trend_job *j = pt->j;
	struct server_history_hour *hours = calloc(TREND_HOURS_MAX, sizeof(*hours));
	uint64_t day0 = j->since_ms / j->step_ms;

	if (!hours) {
		pt->failed = true;
		snprintf(pt->err, sizeof(pt->err), "server out of memory");
		return NULL;
	}
	for (size_t i = pt->from; i < pt->to; i++) {
		const struct trend_host *th = &j->hosts[i];
		struct trend_policy pol = { j->headroom_percent, j->horizon_ms, th->bound_min,
			                    th->bound_max };
		Aioctl__V1__HostTrend *v = &pt->v[i];
		struct trend_result res;
		uint32_t errors = 0;
		size_t n = 0;
		int r;

		if ((r = read_hours(pt->rd, th->id, j->since_ms - j->since_ms % AIO_HOUR_MS, hours,
		                    &n)) < 0 ||
		    (r = server_store_events_count(pt->rd, th->id, j->since_ms, 0, &errors)) < 0) {
			pt->failed = true;
			snprintf(pt->err, sizeof(pt->err), "cannot read %s's history: %s", th->name,
			         r == -EBADMSG ? "a damaged daily row"
			                       : server_reader_error(pt->rd));
			break;
		}
		fleet_add(pt->fl, day0, j->step_ms, hours, n);
		server_trend_compute(hours, n, th->limit, errors, j->now_ms, &pol, &res);

		aioctl__v1__host_trend__init(v);
		v->host = th->name;
		v->group = th->group;
		v->has_limit = true;
		v->limit = th->limit;
		v->has_peak = v->has_p95 = v->has_peak_utilization = n > 0;
		v->peak = res.peak;
		v->p95 = res.p95;
		v->peak_utilization = res.peak_utilization;
		v->has_growth_per_day = res.has_growth;
		v->growth_per_day = res.growth_per_day;
		v->has_exhaustion_ms = res.has_exhaustion;
		v->exhaustion_ms = res.exhaustion_ms;
		v->has_errors = true;
		v->errors = errors;
		v->has_recommended = n > 0;
		v->recommended = res.recommended;
		v->verdict = (char *)res.verdict;
		v->has_days = true;
		v->days = res.days;
	}
	free(hours);
	return NULL;
}

static void trend_query(struct server_reader *rd, void *arg)
{
	struct trend_job *j = arg;
	Aioctl__V1__TrendReply rep = AIOCTL__V1__TREND_REPLY__INIT;
	Aioctl__V1__HostTrend *v = calloc(j->n + 1, sizeof(*v));
	Aioctl__V1__HostTrend **pv = calloc(j->n + 1, sizeof(*pv));
	struct trend_part *parts = calloc(2, sizeof(*parts));
	size_t n_series = j->series < j->n ? j->series : j->n, n_fleet = 0;
	Aioctl__V1__Sample *days = calloc(n_series * TREND_DAYS_MAX + 1, sizeof(*days));
	Aioctl__V1__Sample **pdays = calloc(n_series * TREND_DAYS_MAX + 1, sizeof(*pdays));
	Aioctl__V1__FleetDay *fd = calloc(TREND_DAYS_MAX, sizeof(*fd));
	Aioctl__V1__FleetDay **pfd = calloc(TREND_DAYS_MAX, sizeof(*pfd));
	uint64_t day0 = j->since_ms / j->step_ms;
	pthread_t helper;
	bool threaded = false;

	if (!v || !pv || !parts || !days || !pdays || !fd || !pfd) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_free;
	}
	for (int k = 0; k < 2; k++) {
		parts[k].j = j;
		parts[k].v = v;
		parts[k].rd = rd;
	}
	parts[0].to = parts[1].from = parts[1].to = j->n;
	if (j->n >= TREND_PARALLEL_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
	    (parts[1].rd = server_reader_twin(rd))) {
		parts[0].to = parts[1].from = j->n / 2;
		threaded = pthread_create(&helper, NULL, trend_part_run, &parts[1]) == 0;
	}
	trend_part_run(&parts[0]);
	if (threaded)
		pthread_join(helper, NULL);
	else if (parts[1].from < parts[1].to)
		trend_part_run(&parts[1]); /* no thread: this one does it */
	if (parts[1].rd != rd)
		server_reader_close(parts[1].rd);
	for (int k = 0; k < 2; k++) {
		if (parts[k].failed) {
			AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "%s", parts[k].err);
			goto out_free;
		}
	}
	for (size_t i = 0; i < j->n; i++)
		pv[i] = &v[i];
	qsort(pv, j->n, sizeof(*pv), by_urgency);
	for (size_t k = 0; k < n_series; k++) {
		Aioctl__V1__Sample *out = &days[k * TREND_DAYS_MAX];
		Aioctl__V1__Sample **pout = &pdays[k * TREND_DAYS_MAX];

		pv[k]->n_daily = daily_series(rd, j->hosts[pv[k] - v].id, j->since_ms, j->step_ms,
		                              out, pout);
		pv[k]->daily = pout;
	}
	for (size_t d = 0; d < TREND_DAYS_MAX; d++) {
		struct fleet_day f = parts[0].fl[d];

		f.sum += parts[1].fl[d].sum;
		f.n += parts[1].fl[d].n;
		f.max = parts[1].fl[d].max > f.max ? parts[1].fl[d].max : f.max;
		if (!f.n)
			continue;
		aioctl__v1__fleet_day__init(&fd[n_fleet]);
		fd[n_fleet].day_ms = (day0 + d) * j->step_ms;
		fd[n_fleet].max_utilization = f.max;
		fd[n_fleet].mean_utilization = f.sum / f.n;
		fd[n_fleet].hosts = f.n;
		pfd[n_fleet] = &fd[n_fleet];
		n_fleet++;
	}
	rep.fleet = pfd;
	rep.n_fleet = n_fleet;
	rep.hosts = pv;
	rep.n_hosts = j->n;
	rep.has_since_ms = true;
	rep.since_ms = j->since_ms;
	rep.has_step_ms = true;
	rep.step_ms = j->step_ms;
	rep.has_headroom_percent = true;
	rep.headroom_percent = j->headroom_percent;
	rep.has_horizon_ms = true;
	rep.horizon_ms = j->horizon_ms;
	j->closure(&rep, j->data);
out_free:
	free(parts);
	free(days);
	free(pdays);
	free(fd);
	free(pfd);
	free(v);
	free(pv);
	trend_job_free(j);
}

static const char *trend_invalid(const Aioctl__V1__TrendRequest *in)
{
	if (in->has_since_ms && (in->since_ms < AIO_HOUR_MS || in->since_ms > TREND_SINCE_MAX_MS))
		return "--since: between 1h and 400d";
	if (in->group_by && (!*in->group_by || !aio_text_valid(in->group_by, AIO_LABEL_KEY_MAX)))
		return "--group-by: a label key of up to 63 characters";
	return server_selector_invalid(in->selector);
}

struct select {
	struct trend_job *j;
	const Aioctl__V1__TrendRequest *in;
};

static int select_hosts(const struct server_host *const *all, size_t n, void *arg)
{
	struct select *sel = arg;
	struct trend_job *j = sel->j;
	const Aioctl__V1__TrendRequest *in = sel->in;

	if (!(j->hosts = calloc(n + 1, sizeof(*j->hosts))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct server_host *h = all[i];
		struct trend_host *th = &j->hosts[j->n];
		const char *group = "";

		if (h->revoked_ms || !server_host_selected(h, in->selector))
			continue;
		for (size_t k = 0; in->group_by && k < h->n_labels; k++)
			if (!strcmp(h->labels[k].key, in->group_by))
				group = h->labels[k].value;
		th->id = h->id;
		th->limit = h->has_sample ? h->sample.aio_max_nr : 0;
		th->bound_min = h->limit_min;
		th->bound_max = h->limit_max;
		th->name = strdup(h->name);
		th->group = strdup(group);
		j->n++;
		if (!th->name || !th->group)
			return -ENOMEM;
	}
	return 0;
}

void server_trend(const struct server_trend_ctx *t, const Aioctl__V1__TrendRequest *in,
                  Aioctl__V1__TrendReply_Closure closure, void *data)
{
	struct select sel = { NULL, in };
	struct trend_job *j;
	const char *why;

	if ((why = trend_invalid(in))) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "%s", why);
		return;
	}
	if (!(j = calloc(1, sizeof(*j))))
		goto out_oom;
	j->now_ms = aio_now_ms();
	j->since_ms = j->now_ms - (in->has_since_ms ? in->since_ms : TREND_SINCE_DEFAULT_MS);
	j->step_ms = j->now_ms - j->since_ms <= TREND_HOURLY_MAX_MS ? AIO_HOUR_MS : AIO_DAY_MS;
	j->headroom_percent = t->conf->trend_headroom;
	j->horizon_ms = t->conf->trend_horizon_ms;
	j->series = in->has_series ? in->series : 0;
	if (j->series > TREND_SERIES_MAX)
		j->series = TREND_SERIES_MAX;
	j->closure = closure;
	j->data = data;
	sel.j = j;
	if (server_hosts_read_all(t->hosts, select_hosts, &sel) < 0) {
		trend_job_free(j);
		goto out_oom;
	}
	if (server_query_submit(t->query, trend_query, j) < 0) {
		trend_job_free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
	return;
out_oom:
	AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
}

/* ------------------------------------------------- report rollout ID */

#define ROLLOUT_WINDOW_DEFAULT_MS AIO_DAY_MS
#define ROLLOUT_WINDOW_MAX_MS     (30 * AIO_DAY_MS)
#define ROLLOUT_HOSTS_MAX         100000

struct rollout_report_job {
	uint64_t id, window_ms, now_ms;
	uint64_t retention_ms[SERVER_TIER_COUNT];
	struct server_hosts *hosts;
	Aioctl__V1__RolloutReportReply_Closure closure;
	void *data;
};

/* A step as stored, with its host's name and report interval. */
struct report_step {
	struct server_rollout_store_step p;
	char *host, *state;
	uint64_t interval_ms;
};

struct report_steps {
	struct server_hosts *hosts;
	struct report_step *v;
	size_t n, cap;
};

static int step_host(const struct server_host *h, void *arg)
{
	struct report_step *r = arg;

	r->host = strdup(h->name);
	r->interval_ms = h->interval_ms;
	return r->host ? 0 : -ENOMEM;
}

static int collect_step(const struct server_rollout_store_step *p, void *arg)
{
	struct report_steps *l = arg;
	struct report_step *r;
	int e;

	if (l->n >= ROLLOUT_HOSTS_MAX)
		return 0;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		void *v = realloc(l->v, nc * sizeof(*l->v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	r = &l->v[l->n];
	memset(r, 0, sizeof(*r));
	r->p = *p;
	if ((e = server_hosts_read_id(l->hosts, p->host_id, step_host, r)) == -ENOENT)
		return 0; /* a host no longer known */
	if (e < 0 || !(r->state = strdup(p->state))) {
		free(r->host);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static int by_host_name(const void *a, const void *b)
{
	return strcmp(((const struct report_step *)a)->host, ((const struct report_step *)b)->host);
}

/* One window as one step of the finest tier that still holds it: raw
 * samples are exact at the window's edges, a rollup tier rounds them to
 * its buckets. */
static int window_read(struct server_reader *rd, const struct rollout_report_job *j,
                       const struct report_step *r, uint64_t from, uint64_t to,
                       Aioctl__V1__Window *w)
{
	struct server_history_point pt;
	uint64_t step = 5 * 60 * 1000;
	enum server_tier tier = SERVER_TIER_RAW;
	uint32_t errors = 0;
	size_t n = 0;

	aioctl__v1__window__init(w);
	if (j->retention_ms[SERVER_TIER_RAW] && from + j->retention_ms[SERVER_TIER_RAW] < j->now_ms)
		tier = server_history_tier(j->retention_ms, j->now_ms, from, &step);
	if (server_history_read(rd, r->p.host_id, r->interval_ms, tier, from, to, to - from, &pt, 1,
	                        &n) < 0 ||
	    server_store_events_count(rd, r->p.host_id, from, to, &errors) < 0)
		return -EIO;
	if (n) {
		w->has_peak = w->has_limit = w->has_peak_utilization = true;
		w->peak = pt.max;
		/* the limit in force at the window's end; a window that spans a
		 * change keeps its real peak: each report counts against its own */
		w->limit = pt.limit;
		w->peak_utilization = server_history_util(pt.umax);
	}
	w->has_samples = true;
	w->samples = n ? (uint32_t)pt.count : 0;
	w->has_errors = true;
	w->errors = errors;
	return 0;
}

static void rollout_report_query(struct server_reader *rd, void *arg)
{
	struct rollout_report_job *j = arg;
	Aioctl__V1__RolloutReportReply rep = AIOCTL__V1__ROLLOUT_REPORT_REPLY__INIT;
	struct report_steps l = { .hosts = j->hosts };
	Aioctl__V1__RolloutHostReport *v = NULL, **pv = NULL;
	Aioctl__V1__Window *w = NULL;
	int r;

	r = server_rollout_store_read(rd, j->id, &rep.state, collect_step, &l);
	if (r == -ENOENT) {
		aio_rpc_call_fail(j->data, AIO_NOT_FOUND, "no rollout %" PRIu64, j->id);
		goto out_fail;
	}
	if (r < 0) {
		aio_rpc_call_fail(j->data, r == -ENOMEM ? AIO_RESOURCE_EXHAUSTED : AIO_INTERNAL,
		                  "cannot read the rollout: %s",
		                  r == -ENOMEM ? "out of memory" : server_reader_error(rd));
		goto out_fail;
	}
	rep.id = j->id;
	rep.has_state_code = true;
	rep.state_code =
	        server_rollouts_state_code((enum server_rollout_state)server_rollouts_state_parse(
	                server_rollouts_state_names, RO_STATES, rep.state, RO_RUNNING));
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_host_name);
	v = calloc(l.n + 1, sizeof(*v));
	w = calloc(2 * l.n + 1, sizeof(*w));
	pv = calloc(l.n + 1, sizeof(*pv));
	if (!v || !w || !pv) {
		aio_rpc_call_fail(j->data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_fail;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct report_step *st = &l.v[i];
		Aioctl__V1__RolloutHostReport *h = &v[i];

		aioctl__v1__rollout_host_report__init(h);
		h->host = st->host;
		h->state = st->state;
		h->has_state_code = true;
		h->state_code = server_rollouts_step_code(
		        (enum server_step_state)server_rollouts_state_parse(
		                server_rollouts_step_state_names, STEP_CANCELLED + 1, st->state,
		                STEP_PENDING),
		        false);
		pv[i] = h;
		rep.has_target = true;
		rep.target = st->p.target;
		if (st->p.has_changed) {
			/* the change: when the agent applied it (its ack), not the
			 * end of the soak, which reports under the new limit precede */
			uint64_t at = st->p.changed_ms;
			uint64_t len = at < j->now_ms ? j->now_ms - at : 0;

			if (len > j->window_ms)
				len = j->window_ms;
			h->has_changed_ms = h->has_window_ms = true;
			h->changed_ms = at;
			h->window_ms = len;
			h->before = &w[2 * i];
			h->after = &w[2 * i + 1];
			aioctl__v1__window__init(h->before);
			aioctl__v1__window__init(h->after);
			if (len && (window_read(rd, j, st, at - len, at, h->before) < 0 ||
			            window_read(rd, j, st, at, at + len, h->after) < 0)) {
				aio_rpc_call_fail(j->data, AIO_INTERNAL, "cannot read history: %s",
				                  server_reader_error(rd));
				goto out_fail;
			}
			/* before: the limit the host had until the change */
			if (len && st->p.has_runtime_before) {
				h->before->has_limit = true;
				h->before->limit = st->p.runtime_before;
			}
		}
	}
	rep.hosts = pv;
	rep.n_hosts = l.n;
	j->closure(&rep, j->data);
	goto out_free;
out_fail:
	j->closure(NULL, j->data);
out_free:
	for (size_t i = 0; i < l.n; i++) {
		free(l.v[i].host);
		free(l.v[i].state);
	}
	free(l.v);
	free(rep.state);
	free(v);
	free(w);
	free(pv);
	free(j);
}

void server_trend_rollout_report(const struct server_trend_ctx *t,
                                 const Aioctl__V1__RolloutReportRequest *in,
                                 Aioctl__V1__RolloutReportReply_Closure closure, void *data)
{
	struct rollout_report_job *j;

	if (in->has_window_ms && (in->window_ms < 60000 || in->window_ms > ROLLOUT_WINDOW_MAX_MS)) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "--window: between 1m and 30d");
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	j->id = in->id;
	j->window_ms = in->has_window_ms ? in->window_ms : ROLLOUT_WINDOW_DEFAULT_MS;
	j->now_ms = aio_now_ms();
	j->retention_ms[SERVER_TIER_RAW] = t->conf->raw_retention_ms;
	j->retention_ms[SERVER_TIER_5M] = t->conf->rollup_5m_retention_ms;
	j->retention_ms[SERVER_TIER_1H] = t->conf->rollup_1h_retention_ms;
	j->hosts = t->hosts;
	j->closure = closure;
	j->data = data;
	if (server_query_submit(t->query, rollout_report_query, j) < 0) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
}
