/* aioctl report trend: the capacity model over each host's stored history,
 * answered on the query thread so ingest never waits for it. */
#include "trend.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "history.h"
#include "log.h"
#include "names.h"
#include "query.h"
#include "rpc_server.h"
#include "server.h"

#define DAY_MS  (24ULL * 3600 * 1000)
#define HOUR_MS (3600ULL * 1000)

#define TREND_SINCE_DEFAULT_MS (30 * DAY_MS)
#define TREND_SINCE_MAX_MS     (400 * DAY_MS)
#define TREND_HOURS_MAX        (401 * 24)
#define TREND_DAYS_MAX         402 /* 400 days touch at most 402 calendar days */
#define TREND_SERIES_MAX       50  /* hosts whose daily peaks are sent */
/* ranges up to this long are charted by the hour (73 points at most) */
#define TREND_HOURLY_MAX_MS    (3 * DAY_MS)

/* Verdicts: act when AIO already failed, the peak is within 10% of the
 * limit or the limit runs out within a month; watch at 70% or a quarter. */
#define ACT_UTILIZATION   0.90
#define WATCH_UTILIZATION 0.70
#define ACT_WITHIN_MS     (30 * DAY_MS)
#define WATCH_WITHIN_MS   (90 * DAY_MS)
/* A growing host's recommendation covers where the fit puts it this far
 * ahead, so the new limit does not itself run out within a quarter. */
#define PLAN_AHEAD_DAYS   90.0

/* The k-th smallest peak (0-based), in linear time on average: the hours
 * are partitioned around it (Hoare's selection), not sorted. */
static uint64_t select_peak(struct trend_hour *h, size_t n, size_t k)
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
				struct trend_hour t = h[i];

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
static bool fit_daily_peaks(const struct trend_hour *hours, size_t n, unsigned *ret_days,
                            double *ret_slope, double *ret_x_mean, double *ret_y_mean,
                            uint64_t *ret_t0)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, x, y;
	uint64_t t0 = 0;
	unsigned days = 0;

	for (size_t i = 0; i < n;) {
		uint64_t day = hours[i].start_ms / DAY_MS, peak = 0, at = 0;

		for (; i < n && hours[i].start_ms / DAY_MS == day; i++)
			if (hours[i].peak >= peak) {
				peak = hours[i].peak;
				at = hours[i].start_ms + HOUR_MS / 2;
			}
		if (!days)
			t0 = at;
		x = (double)(at - t0) / (double)DAY_MS;
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

void server_trend_compute(struct trend_hour *hours, size_t n, uint64_t limit, uint32_t errors,
                          uint64_t now_ms, const struct trend_policy *p, struct trend_result *r)
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
		if (hours[i].start_ms / DAY_MS == hours[n - 1].start_ms / DAY_MS &&
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
		double at = (double)t0 + x * (double)DAY_MS;

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
		double ahead = y_mean + slope * ((double)(now_ms - t0) / (double)DAY_MS +
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
                      const struct trend_hour *hours, size_t n)
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
	uint64_t x = ((const struct trend_hour *)a)->start_ms;
	uint64_t y = ((const struct trend_hour *)b)->start_ms;

	return (x > y) - (x < y);
}

/* A host's hours from the hourly tier, oldest first (TREND_HOURS_MAX at
 * most): the closed ones in key order, then the open one, which is the
 * newest unless a report's time went back; an hour found twice merges. */
static size_t read_hours(sqlite3_stmt *hq, int64_t host_id, uint64_t since_ms,
                         struct trend_hour *hours)
{
	size_t n = 0, k = 0;
	bool ordered = true;

	sqlite3_reset(hq);
	sqlite3_bind_int64(hq, 1, host_id);
	sqlite3_bind_int64(hq, 2, (int64_t)since_ms);
	while (n < TREND_HOURS_MAX && sqlite3_step(hq) == SQLITE_ROW) {
		hours[n].start_ms = (uint64_t)sqlite3_column_int64(hq, 0);
		hours[n].peak = (uint64_t)sqlite3_column_int64(hq, 1);
		hours[n].limit = (uint64_t)sqlite3_column_int64(hq, 2);
		hours[n].umax = sqlite3_column_int64(hq, 3);
		ordered = ordered && (!n || hours[n - 1].start_ms <= hours[n].start_ms);
		n++;
	}
	if (!ordered)
		qsort(hours, n, sizeof(*hours), by_start);
	for (size_t i = 0; i < n; i++) {
		if (k && hours[k - 1].start_ms == hours[i].start_ms) {
			if (hours[i].peak > hours[k - 1].peak)
				hours[k - 1].peak = hours[i].peak;
			if (hours[i].limit < hours[k - 1].limit)
				hours[k - 1].limit = hours[i].limit;
			if (hours[i].umax > hours[k - 1].umax)
				hours[k - 1].umax = hours[i].umax;
			continue;
		}
		hours[k++] = hours[i];
	}
	return k;
}

/* A host's peaks and lowest limits per step into out (TREND_DAYS_MAX
 * long). */
static size_t daily_series(sqlite3_stmt *dq, int64_t host_id, uint64_t since_ms, uint64_t step,
                           Aioctl__V1__Sample *out, Aioctl__V1__Sample **pout)
{
	size_t n = 0;

	sqlite3_reset(dq);
	sqlite3_bind_int64(dq, 1, host_id);
	sqlite3_bind_int64(dq, 2, (int64_t)(since_ms - since_ms % HOUR_MS));
	sqlite3_bind_int64(dq, 3, (int64_t)step);
	while (n < TREND_DAYS_MAX && sqlite3_step(dq) == SQLITE_ROW) {
		aioctl__v1__sample__init(&out[n]);
		out[n].time_ms = (uint64_t)sqlite3_column_int64(dq, 0) * step;
		out[n].aio_nr = out[n].aio_nr_min = out[n].aio_nr_max =
		        (uint64_t)sqlite3_column_int64(dq, 1);
		out[n].aio_max_nr = (uint64_t)sqlite3_column_int64(dq, 2);
		pout[n] = &out[n];
		n++;
	}
	return n;
}

/* A share of the hosts, read on its own connection: on a multi-core
 * server two shares run at once (the reading is SQLite decoding rows). */
struct trend_part {
	const struct trend_job *j;
	Aioctl__V1__HostTrend *v;
	sqlite3 *conn;
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
	struct trend_hour *hours = calloc(TREND_HOURS_MAX, sizeof(*hours));
	uint64_t day0 = j->since_ms / j->step_ms;
	sqlite3_stmt *hq = NULL, *eq = NULL;

	if (!hours) {
		pt->failed = true;
		snprintf(pt->err, sizeof(pt->err), "server out of memory");
		return NULL;
	}
	if (sqlite3_prepare_v2(pt->conn,
	                       "SELECT start_ms, max, lim, umax FROM rollup_1h"
	                       " WHERE host_id = ?1 AND start_ms >= ?2"
	                       " UNION ALL SELECT h1_start, h1_max, aio_max_nr, h1_umax FROM series"
	                       " WHERE host_id = ?1 AND h1_count > 0 AND h1_start >= ?2",
	                       -1, &hq, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(pt->conn,
	                       "SELECT count(*) FROM events WHERE host_id = ?1 AND time_ms >= ?2",
	                       -1, &eq, NULL) != SQLITE_OK) {
		pt->failed = true;
		snprintf(pt->err, sizeof(pt->err), "cannot read history: %s",
		         sqlite3_errmsg(pt->conn));
		goto out;
	}
	for (size_t i = pt->from; i < pt->to; i++) {
		const struct trend_host *th = &j->hosts[i];
		struct trend_policy pol = { j->headroom_percent, j->horizon_ms, th->bound_min,
			                    th->bound_max };
		Aioctl__V1__HostTrend *v = &pt->v[i];
		struct trend_result res;
		uint32_t errors = 0;
		size_t n;

		n = read_hours(hq, th->id, j->since_ms - j->since_ms % HOUR_MS, hours);
		sqlite3_reset(eq);
		sqlite3_bind_int64(eq, 1, th->id);
		sqlite3_bind_int64(eq, 2, (int64_t)j->since_ms);
		if (sqlite3_step(eq) == SQLITE_ROW)
			errors = (uint32_t)sqlite3_column_int(eq, 0);
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
out:
	sqlite3_finalize(hq);
	sqlite3_finalize(eq);
	free(hours);
	return NULL;
}

/* A second read-only connection to the query thread's database, or NULL;
 * the caller closes it. */
static sqlite3 *helper_conn(sqlite3 *conn)
{
	const char *path = sqlite3_db_filename(conn, "main");
	sqlite3 *c = NULL;

	if (!path || sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	                     SQLITE_OK) {
		sqlite3_close(c);
		return NULL;
	}
	sqlite3_busy_timeout(c, 5000);
	sqlite3_exec(c, "PRAGMA mmap_size = 4294967296", NULL, NULL, NULL);
	return c;
}

static void trend_query(sqlite3 *conn, void *arg)
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
	sqlite3_stmt *dq = NULL;
	pthread_t helper;
	bool threaded = false;

	if (!v || !pv || !parts || !days || !pdays || !fd || !pfd) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_free;
	}
	if (sqlite3_prepare_v2(conn,
	                       "SELECT start_ms / ?3, max(max), min(lim) FROM rollup_1h_all"
	                       " WHERE host_id = ?1 AND start_ms >= ?2 GROUP BY 1 ORDER BY 1",
	                       -1, &dq, NULL) != SQLITE_OK) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_INTERNAL, "cannot read history: %s",
		               sqlite3_errmsg(conn));
		goto out_free;
	}
	for (int k = 0; k < 2; k++) {
		parts[k].j = j;
		parts[k].v = v;
		parts[k].conn = conn;
	}
	parts[0].to = parts[1].from = parts[1].to = j->n;
	if (j->n >= TREND_PARALLEL_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
	    (parts[1].conn = helper_conn(conn))) {
		parts[0].to = parts[1].from = j->n / 2;
		threaded = pthread_create(&helper, NULL, trend_part_run, &parts[1]) == 0;
	}
	trend_part_run(&parts[0]);
	if (threaded)
		pthread_join(helper, NULL);
	else if (parts[1].from < parts[1].to)
		trend_part_run(&parts[1]); /* no thread: this one does it */
	if (parts[1].conn != conn)
		sqlite3_close(parts[1].conn);
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

		pv[k]->n_daily = daily_series(dq, j->hosts[pv[k] - v].id, j->since_ms, j->step_ms,
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
	sqlite3_finalize(dq);
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
	if (in->has_since_ms && (in->since_ms < HOUR_MS || in->since_ms > TREND_SINCE_MAX_MS))
		return "--since: between 1h and 400d";
	if (in->group_by && (!*in->group_by || !aio_text_valid(in->group_by, AIO_LABEL_KEY_MAX)))
		return "--group-by: a label key of up to 63 characters";
	return server_selector_invalid(in->selector);
}

void server_trend(struct server *s, const Aioctl__V1__TrendRequest *in,
                  Aioctl__V1__TrendReply_Closure closure, void *data)
{
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
	j->step_ms = j->now_ms - j->since_ms <= TREND_HOURLY_MAX_MS ? HOUR_MS : DAY_MS;
	j->headroom_percent = s->conf.trend_headroom;
	j->horizon_ms = s->conf.trend_horizon_ms;
	j->series = in->has_series ? in->series : 0;
	if (j->series > TREND_SERIES_MAX)
		j->series = TREND_SERIES_MAX;
	j->closure = closure;
	j->data = data;
	pthread_rwlock_rdlock(&s->hosts.lock);
	j->hosts = calloc(s->hosts.n + 1, sizeof(*j->hosts));
	for (size_t i = 0; j->hosts && i < s->hosts.n; i++) {
		const struct server_host *h = s->hosts.all[i];
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
		if (!th->name || !th->group) {
			pthread_rwlock_unlock(&s->hosts.lock);
			trend_job_free(j);
			goto out_oom;
		}
	}
	pthread_rwlock_unlock(&s->hosts.lock);
	if (!j->hosts) {
		trend_job_free(j);
		goto out_oom;
	}
	if (server_query_submit(s->query, trend_query, j) < 0) {
		trend_job_free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
	return;
out_oom:
	AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
}

/* ------------------------------------------------- report rollout ID */

#define ROLLOUT_WINDOW_DEFAULT_MS DAY_MS
#define ROLLOUT_WINDOW_MAX_MS     (30 * DAY_MS)
#define ROLLOUT_HOSTS_MAX         100000

struct rollout_report_job {
	uint64_t id, window_ms, now_ms;
	uint64_t retention_ms[SERVER_TIER_COUNT];
	Aioctl__V1__RolloutReportReply_Closure closure;
	void *data;
};

/* One window as one step of the finest tier that still holds it: raw
 * samples are exact at the window's edges, a rollup tier rounds them to
 * its buckets. */
static int window_read(sqlite3 *conn, const struct rollout_report_job *j, sqlite3_stmt *eq,
                       int64_t host_id, uint64_t from, uint64_t to, Aioctl__V1__Window *w)
{
	struct server_history_point pt;
	uint64_t step = 5 * 60 * 1000;
	enum server_tier tier = SERVER_TIER_RAW;
	size_t n = 0;

	aioctl__v1__window__init(w);
	if (j->retention_ms[SERVER_TIER_RAW] && from + j->retention_ms[SERVER_TIER_RAW] < j->now_ms)
		tier = server_history_tier(j->retention_ms, j->now_ms, from, &step);
	if (server_history_read(conn, host_id, tier, from, to, to - from, &pt, 1, &n) < 0)
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
	sqlite3_reset(eq);
	sqlite3_bind_int64(eq, 1, host_id);
	sqlite3_bind_int64(eq, 2, (int64_t)from);
	sqlite3_bind_int64(eq, 3, (int64_t)to);
	w->has_errors = true;
	w->errors = sqlite3_step(eq) == SQLITE_ROW ? (uint32_t)sqlite3_column_int(eq, 0) : 0;
	return 0;
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return strdup(t ? (const char *)t : "");
}

static void rollout_report_query(sqlite3 *conn, void *arg)
{
	struct rollout_report_job *j = arg;
	Aioctl__V1__RolloutReportReply rep = AIOCTL__V1__ROLLOUT_REPORT_REPLY__INIT;
	sqlite3_stmt *rq = NULL, *sq = NULL, *eq = NULL;
	Aioctl__V1__RolloutHostReport *v = NULL, **pv = NULL;
	Aioctl__V1__Window *w = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (sqlite3_prepare_v2(conn, "SELECT state FROM rollouts WHERE id = ?1", -1, &rq, NULL) ||
	    sqlite3_prepare_v2(conn,
	                       "SELECT h.id, h.name, s.state, s.target,"
	                       " coalesce(s.acked_ms, s.finished_ms), s.runtime_before"
	                       " FROM rollout_steps s JOIN hosts h ON h.id = s.host_id"
	                       " WHERE s.rollout_id = ?1 ORDER BY h.name",
	                       -1, &sq, NULL) ||
	    sqlite3_prepare_v2(conn,
	                       "SELECT count(*) FROM events"
	                       " WHERE host_id = ?1 AND time_ms >= ?2 AND time_ms < ?3",
	                       -1, &eq, NULL)) {
		aio_rpc_call_fail(j->data, AIO_INTERNAL, "cannot read history: %s",
		                  sqlite3_errmsg(conn));
		goto out_fail;
	}
	sqlite3_bind_int64(rq, 1, (int64_t)j->id);
	if (sqlite3_step(rq) != SQLITE_ROW) {
		aio_rpc_call_fail(j->data, AIO_NOT_FOUND, "no rollout %" PRIu64, j->id);
		goto out_fail;
	}
	rep.id = j->id;
	if (!(rep.state = col_dup(rq, 0))) {
		aio_rpc_call_fail(j->data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_fail;
	}
	sqlite3_bind_int64(sq, 1, (int64_t)j->id);
	while ((rc = sqlite3_step(sq)) == SQLITE_ROW && n < ROLLOUT_HOSTS_MAX) {
		Aioctl__V1__RolloutHostReport *h;

		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			void *a = realloc(v, nc * sizeof(*v)), *b;

			if (!a)
				break;
			v = a;
			if (!(b = realloc(w, 2 * nc * sizeof(*w))))
				break;
			w = b;
			cap = nc;
		}
		h = &v[n];
		aioctl__v1__rollout_host_report__init(h);
		h->host = col_dup(sq, 1);
		h->state = col_dup(sq, 2);
		if (!h->host || !h->state) {
			aio_rpc_call_fail(j->data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
			n++;
			goto out_fail;
		}
		rep.has_target = true;
		rep.target = (uint64_t)sqlite3_column_int64(sq, 3);
		if (sqlite3_column_type(sq, 4) != SQLITE_NULL) {
			/* the change: when the agent applied it (its ack), not the
			 * end of the soak, which reports under the new limit precede */
			uint64_t at = (uint64_t)sqlite3_column_int64(sq, 4);
			uint64_t len = at < j->now_ms ? j->now_ms - at : 0;

			if (len > j->window_ms)
				len = j->window_ms;
			h->has_changed_ms = h->has_window_ms = true;
			h->changed_ms = at;
			h->window_ms = len;
			if (len && (window_read(conn, j, eq, sqlite3_column_int64(sq, 0), at - len,
			                        at, &w[2 * n]) < 0 ||
			            window_read(conn, j, eq, sqlite3_column_int64(sq, 0), at,
			                        at + len, &w[2 * n + 1]) < 0)) {
				aio_rpc_call_fail(j->data, AIO_INTERNAL, "cannot read history: %s",
				                  sqlite3_errmsg(conn));
				n++;
				goto out_fail;
			}
			/* before: the limit the host had until the change */
			if (len && sqlite3_column_type(sq, 5) != SQLITE_NULL) {
				w[2 * n].has_limit = true;
				w[2 * n].limit = (uint64_t)sqlite3_column_int64(sq, 5);
			}
		}
		n++;
	}
	if (!(pv = calloc(n + 1, sizeof(*pv)))) {
		aio_rpc_call_fail(j->data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		goto out_fail;
	}
	/* pointers into w only now: realloc may have moved it */
	for (size_t i = 0; i < n; i++) {
		pv[i] = &v[i];
		if (v[i].has_changed_ms) {
			v[i].before = &w[2 * i];
			v[i].after = &w[2 * i + 1];
		}
	}
	rep.hosts = pv;
	rep.n_hosts = n;
	j->closure(&rep, j->data);
	goto out_free;
out_fail:
	j->closure(NULL, j->data);
out_free:
	for (size_t i = 0; i < n; i++) {
		free(v[i].host);
		free(v[i].state);
	}
	free(rep.state);
	free(v);
	free(w);
	free(pv);
	sqlite3_finalize(rq);
	sqlite3_finalize(sq);
	sqlite3_finalize(eq);
	free(j);
}

void server_rollout_report(struct server *s, const Aioctl__V1__RolloutReportRequest *in,
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
	j->retention_ms[SERVER_TIER_RAW] = s->conf.raw_retention_ms;
	j->retention_ms[SERVER_TIER_5M] = s->conf.rollup_5m_retention_ms;
	j->retention_ms[SERVER_TIER_1H] = s->conf.rollup_1h_retention_ms;
	j->closure = closure;
	j->data = data;
	if (server_query_submit(s->query, rollout_report_query, j) < 0) {
		free(j);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
}
