/* Alerts: every alert-interval the server checks each host and rollout
 * against the configured thresholds. A condition that begins is an
 * alert (logged, stored); one that ends clears it (the row gets its
 * cleared time). Active alerts and the newest cleared ones are kept in
 * memory for aioctl alerts and /metrics, and reloaded at start. */
#include "alerts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "clock.h"
#include "config.h"
#include "drift.h"
#include "duration.h"
#include "hosts.h"
#include "log.h"
#include "rollout.h"
#include "rpc_server.h"
#include "store_alerts.h"

/* rollouts looked at per evaluation */
#define STALLS_MAX             64
/* an active utilisation alert clears this many points under its threshold */
#define UTILIZATION_HYSTERESIS 5.0

const char *const server_alert_kind_name[ALERT_KINDS] = {
	[ALERT_UTILIZATION] = "utilization",
	[ALERT_ERRORS] = "errors",
	[ALERT_DRIFT] = "drift",
	[ALERT_SILENT] = "silent",
	[ALERT_ROLLOUT_STALLED] = "rollout-stalled",
	[ALERT_ROOM] = "room",
	[ALERT_GUARD] = "guard",
};

/* The host an alert is about; NULL for a rollout's. */
static const char *alert_host(const struct server_alert *a)
{
	return a->kind == ALERT_ROLLOUT_STALLED ? NULL : a->subject;
}

static int kind_parse(const char *s)
{
	for (int k = 0; k < ALERT_KINDS; k++)
		if (s && strcmp(s, server_alert_kind_name[k]) == 0)
			return k;
	return -1;
}

/* What holds now, before it is matched against the active alerts. */
struct conds {
	struct server_alert *v;
	size_t n, cap;
};

/* Active alerts and conditions are kept sorted by kind, then subject, so
 * matching them is one merge and a lookup a binary search: a fleet-wide
 * outage makes as many alerts as hosts. */
static int by_key(const void *a, const void *b)
{
	const struct server_alert *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->subject, y->subject);
}

static struct server_alert *find_active(struct server_alerts *al, enum server_alert_kind kind,
                                        const char *subject)
{
	struct server_alert key = { .kind = kind };

	if (!al->n_active)
		return NULL; /* bsearch must not see the NULL of an empty list */
	snprintf(key.subject, sizeof(key.subject), "%s", subject);
	return bsearch(&key, al->active, al->n_active, sizeof(*al->active), by_key);
}

static void cond_add(struct conds *c, enum server_alert_kind kind, const char *subject,
                     double value, double threshold, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

static void cond_add(struct conds *c, enum server_alert_kind kind, const char *subject,
                     double value, double threshold, const char *fmt, ...)
{
	struct server_alert *a;
	va_list ap;

	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		void *p = realloc(c->v, nc * sizeof(*c->v));

		if (!p)
			return; /* out of memory: this one waits for the next round */
		c->v = p;
		c->cap = nc;
	}
	a = &c->v[c->n];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	snprintf(a->subject, sizeof(a->subject), "%s", subject);
	a->value = value;
	a->threshold = threshold;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
	c->n++;
}

struct check {
	struct server_alerts *al;
	uint64_t now;
	struct conds *c;
};

static int hosts_check(const struct server_host *const *all, size_t n_hosts, void *arg)
{
	struct check *k = arg;
	struct server_alerts *al = k->al;
	const struct server_config *cf = al->conf;
	struct conds *c = k->c;
	uint64_t now = k->now;
	/* a restarted server has not heard from anyone yet */
	bool silent_ok = cf->alert_silent_ms && now >= al->start_ms + cf->alert_silent_ms;

	for (size_t i = 0; i < n_hosts; i++) {
		const struct server_host *h = all[i];

		if (h->revoked_ms)
			continue;
		if (cf->alert_utilization && h->has_sample && h->sample.aio_max_nr) {
			double u =
			        100.0 * (double)h->sample.aio_nr_max / (double)h->sample.aio_max_nr;
			double at = (double)cf->alert_utilization;

			pthread_mutex_lock(&al->lock);
			if (find_active(al, ALERT_UTILIZATION, h->name))
				at -= UTILIZATION_HYSTERESIS;
			pthread_mutex_unlock(&al->lock);
			if (u >= at)
				cond_add(c, ALERT_UTILIZATION, h->name, u,
				         (double)cf->alert_utilization,
				         "aio-nr %" PRIu64 " of %" PRIu64 " (%.0f%%)",
				         h->sample.aio_nr_max, h->sample.aio_max_nr, u);
		}
		if (cf->alert_room && h->has_sample) {
			/* at the interval's peak: the moment a VM start would fail */
			uint64_t room =
			        aio_room_contexts(h->sample.aio_max_nr, h->sample.aio_nr_max);
			uint64_t below = cf->alert_room;

			pthread_mutex_lock(&al->lock);
			if (find_active(al, ALERT_ROOM, h->name))
				below++; /* clears with one context more than it took */
			pthread_mutex_unlock(&al->lock);
			if (room < below)
				cond_add(c, ALERT_ROOM, h->name, (double)room,
				         (double)cf->alert_room,
				         "room for %" PRIu64
				         " more %d-event contexts (aio-nr %" PRIu64 " of %" PRIu64
				         "): the next VM start may fail",
				         room, AIO_CONTEXT_EVENTS, h->sample.aio_nr_max,
				         h->sample.aio_max_nr);
		}
		if (cf->alert_errors) {
			uint32_t n = server_host_errors_since(
			        h, now > AIO_HOUR_MS ? now - AIO_HOUR_MS : 0);

			if (n >= cf->alert_errors)
				cond_add(c, ALERT_ERRORS, h->name, n, (double)cf->alert_errors,
				         "%u AIO errors in the last hour", n);
		}
		if (cf->alert_guard && h->n_guard_times) {
			uint32_t g[3];

			server_host_guard_since(h, now > AIO_HOUR_MS ? now - AIO_HOUR_MS : 0, g);
			if (g[0] + g[1] + g[2] >= cf->alert_guard)
				cond_add(c, ALERT_GUARD, h->name, g[0] + g[1] + g[2],
				         (double)cf->alert_guard,
				         "in the last hour the guard refused %u VM starts, raised "
				         "the "
				         "limit for %u and let %u start without room",
				         g[1], g[0], g[2]);
		}
		if (cf->alert_silent_ms && !silent_ok) {
			/* too early to tell: an active one stays as it is */
			struct server_alert *a;

			pthread_mutex_lock(&al->lock);
			if ((a = find_active(al, ALERT_SILENT, h->name)))
				cond_add(c, ALERT_SILENT, h->name, a->value, a->threshold, "%s",
				         a->message);
			pthread_mutex_unlock(&al->lock);
		} else if (silent_ok && h->last_seen_ms &&
		           h->last_seen_ms + cf->alert_silent_ms < now) {
			char ago[32];

			aio_duration_format((now - h->last_seen_ms) / 1000 * 1000, ago,
			                    sizeof(ago));
			cond_add(c, ALERT_SILENT, h->name, (double)(now - h->last_seen_ms) / 1000.0,
			         (double)cf->alert_silent_ms / 1000.0, "no report for %s", ago);
		}
	}
	return 0;
}

static void drift_check(struct server_alerts *al, struct conds *c)
{
	struct server_drift *v;
	size_t n;

	if (server_drift_list(al->hosts, &v, &n) < 0) {
		log_warn("alerts: out of memory, drift not checked");
		return;
	}
	for (size_t i = 0; i < n; i++)
		cond_add(c, ALERT_DRIFT, v[i].host, (double)v[i].runtime, (double)v[i].desired,
		         "desired %" PRIu64 " (rollout %" PRIu64 "), live %" PRIu64 ": %s",
		         v[i].desired, v[i].rollout_id, v[i].runtime, v[i].cause);
	server_drift_free(v, n);
}

static void rollouts_check(struct server_alerts *al, uint64_t now, struct conds *c)
{
	struct server_stall st[STALLS_MAX];
	size_t n = server_engine_stalled(al->engine, now, al->conf->alert_rollout_stalled_ms, st,
	                                 STALLS_MAX);

	for (size_t i = 0; i < n; i++) {
		char subject[32], ago[32];

		snprintf(subject, sizeof(subject), "rollout %" PRIu64, st[i].id);
		aio_duration_format((now - st[i].since_ms) / 1000 * 1000, ago, sizeof(ago));
		cond_add(c, ALERT_ROLLOUT_STALLED, subject, (double)(now - st[i].since_ms) / 1000.0,
		         (double)al->conf->alert_rollout_stalled_ms / 1000.0,
		         "no step has moved for %s (%s)", ago, st[i].why);
	}
}

static void recent_push(struct server_alerts *al, const struct server_alert *a)
{
	al->recent[(al->recent_head + al->n_recent) % SERVER_ALERTS_RECENT] = *a;
	if (al->n_recent < SERVER_ALERTS_RECENT)
		al->n_recent++;
	else
		al->recent_head = (al->recent_head + 1) % SERVER_ALERTS_RECENT;
}

static struct server_store_alert row_of(const struct server_alert *a)
{
	return (struct server_store_alert){ server_alert_kind_name[a->kind],
		                            a->subject,
		                            a->message,
		                            a->started_ms,
		                            a->cleared_ms,
		                            a->value,
		                            a->threshold };
}

static void store_start(struct server_alerts *al, const struct server_alert *a)
{
	struct server_store_alert row = row_of(a);

	if (server_store_alerts_start(al->db, &row) < 0)
		log_warn("alerts: database queue full: %s %s not stored",
		         server_alert_kind_name[a->kind], a->subject);
}

static void store_clear(struct server_alerts *al, const struct server_alert *a)
{
	struct server_store_alert row = row_of(a);

	if (server_store_alerts_clear(al->db, &row) < 0)
		log_warn("alerts: database queue full: clearing %s %s not stored",
		         server_alert_kind_name[a->kind], a->subject);
}

void server_alerts_evaluate(struct server_alerts *al, uint64_t now)
{
	const struct server_config *cf = al->conf;
	struct conds c = { 0 };
	struct check chk = { al, now, &c };
	struct server_alert *next;
	size_t i = 0, k = 0, n = 0;

	server_hosts_read_all(al->hosts, hosts_check, &chk);
	if (cf->alert_drift)
		drift_check(al, &c);
	if (cf->alert_rollout_stalled_ms)
		rollouts_check(al, now, &c);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_key);

	pthread_mutex_lock(&al->lock);
	if (!(next = calloc(al->n_active + c.n + 1, sizeof(*next)))) {
		pthread_mutex_unlock(&al->lock);
		free(c.v);
		log_warn("alerts: out of memory, evaluation skipped");
		return;
	}
	/* one merge of two sorted lists: an active alert whose condition
	 * holds stays, one whose condition ended clears, a condition with
	 * no alert starts one */
	while (i < al->n_active || k < c.n) {
		int d = i == al->n_active ? 1 : k == c.n ? -1 : by_key(&al->active[i], &c.v[k]);

		if (d < 0) {
			struct server_alert *a = &al->active[i++];

			a->cleared_ms = now;
			al->generation++;
			aio_log_with(AIO_LOG_INFO,
			             &(struct aio_log_fields){
			                     .message_id = AIO_MSGID_ALERT_CLEARED,
			                     .host = alert_host(a),
			                     .alert = server_alert_kind_name[a->kind] },
			             "alert cleared: %s %s", server_alert_kind_name[a->kind],
			             a->subject);
			store_clear(al, a);
			recent_push(al, a);
		} else if (d > 0) {
			struct server_alert *a = &c.v[k++];

			if (n && by_key(&next[n - 1], a) == 0)
				continue; /* the same condition twice */
			a->started_ms = now;
			next[n++] = *a;
			al->generation++;
			aio_log_with(AIO_LOG_WARN,
			             &(struct aio_log_fields){
			                     .message_id = AIO_MSGID_ALERT_START,
			                     .host = alert_host(a),
			                     .alert = server_alert_kind_name[a->kind] },
			             "alert: %s %s: %s", server_alert_kind_name[a->kind],
			             a->subject, a->message);
			store_start(al, a);
		} else {
			next[n++] = al->active[i++];
			k++;
		}
	}
	free(al->active);
	al->active = next;
	al->n_active = n;
	al->cap_active = n;
	al->evaluations++;
	pthread_mutex_unlock(&al->lock);
	free(c.v);
}

size_t server_alerts_active_count(struct server_alerts *al, enum server_alert_kind kind)
{
	size_t n = 0;

	pthread_mutex_lock(&al->lock);
	for (size_t i = 0; i < al->n_active; i++)
		n += al->active[i].kind == kind;
	pthread_mutex_unlock(&al->lock);
	return n;
}

/* ------------------------------------------------------------ loading */

static int load_row(const struct server_store_alert *row, void *arg)
{
	struct server_alerts *al = arg;
	int kind = kind_parse(row->kind);
	struct server_alert a = { 0 };

	if (kind < 0)
		return 0; /* a kind this server no longer knows */
	a.kind = (enum server_alert_kind)kind;
	snprintf(a.subject, sizeof(a.subject), "%s", row->subject);
	a.started_ms = row->started_ms;
	a.cleared_ms = row->cleared_ms;
	a.value = row->value;
	a.threshold = row->threshold;
	snprintf(a.message, sizeof(a.message), "%s", row->message);
	if (a.cleared_ms) {
		recent_push(al, &a);
		return 0;
	}
	if (al->n_active == al->cap_active) {
		size_t nc = al->cap_active ? al->cap_active * 2 : 64;
		void *p = realloc(al->active, nc * sizeof(*al->active));

		if (!p)
			return -ENOMEM;
		al->active = p;
		al->cap_active = nc;
	}
	al->active[al->n_active++] = a;
	return 0;
}

int server_alerts_load(struct server_alerts *al)
{
	int r;

	/* the newest cleared ones, oldest first into the ring, then the
	 * active ones */
	if ((r = server_store_alerts_load(al->db, SERVER_ALERTS_RECENT, load_row, al)) < 0)
		return r;
	if (al->n_active)
		qsort(al->active, al->n_active, sizeof(*al->active), by_key);
	/* one active alert per kind and subject (rows are stored one by one;
	 * the earliest start, sorted first by id, stays) */
	for (size_t i = 0, n = 0; i < al->n_active; i++) {
		if (n && by_key(&al->active[n - 1], &al->active[i]) == 0)
			continue;
		al->active[n++] = al->active[i];
		if (i + 1 == al->n_active)
			al->n_active = n;
	}
	return 0;
}

/* ------------------------------------------------------------- answer */

#define ALERTS_LIMIT_DEFAULT 200
#define ALERTS_LIMIT_MAX     (SERVER_ALERTS_RECENT + 10000)

static int by_start_desc(const void *a, const void *b)
{
	const Aioctl__V1__Alert *x = a, *y = b;

	return x->started_ms > y->started_ms ? -1 : x->started_ms < y->started_ms;
}

static void alert_fill(Aioctl__V1__Alert *m, const struct server_alert *a)
{
	aioctl__v1__alert__init(m);
	m->kind = (char *)server_alert_kind_name[a->kind];
	m->subject = (char *)a->subject;
	m->started_ms = a->started_ms;
	m->has_cleared_ms = a->cleared_ms != 0;
	m->cleared_ms = a->cleared_ms;
	m->has_value = m->has_threshold = true;
	m->value = a->value;
	m->threshold = a->threshold;
	m->message = (char *)a->message;
}

long server_alerts_copy(struct server_alerts *al, uint64_t cleared_since_ms,
                        struct server_alert **ret)
{
	long n = 0;

	pthread_mutex_lock(&al->lock);
	if (!(*ret = calloc(al->n_active + al->n_recent + 1, sizeof(**ret)))) {
		pthread_mutex_unlock(&al->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < al->n_active; i++)
		(*ret)[n++] = al->active[i];
	for (size_t i = 0; i < al->n_recent; i++) {
		const struct server_alert *a =
		        &al->recent[(al->recent_head + i) % SERVER_ALERTS_RECENT];

		if (a->cleared_ms >= cleared_since_ms)
			(*ret)[n++] = *a;
	}
	pthread_mutex_unlock(&al->lock);
	return n;
}

uint64_t server_alerts_generation(struct server_alerts *al)
{
	uint64_t g;

	pthread_mutex_lock(&al->lock);
	g = al->generation;
	pthread_mutex_unlock(&al->lock);
	return g;
}

void server_alerts_answer(struct server_alerts *al, const Aioctl__V1__AlertsRequest *in,
                          Aioctl__V1__AlertsReply_Closure closure, void *data)
{
	Aioctl__V1__AlertsReply rep = AIOCTL__V1__ALERTS_REPLY__INIT;
	uint64_t since = in->has_since_ms ? in->since_ms : aio_now_ms() - 24 * AIO_HOUR_MS;
	uint32_t limit = in->has_limit && in->limit ? in->limit : ALERTS_LIMIT_DEFAULT;
	Aioctl__V1__Alert *v, **pv;
	size_t n = 0;

	if (limit > ALERTS_LIMIT_MAX)
		limit = ALERTS_LIMIT_MAX;
	pthread_mutex_lock(&al->lock);
	v = calloc(al->n_active + al->n_recent + 1, sizeof(*v));
	pv = calloc(al->n_active + al->n_recent + 1, sizeof(*pv));
	if (!v || !pv) {
		pthread_mutex_unlock(&al->lock);
		free(v);
		free(pv);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	/* active, newest first; then cleared since `since`, newest first */
	for (size_t i = 0; i < al->n_active; i++)
		alert_fill(&v[n++], &al->active[i]);
	qsort(v, n, sizeof(*v), by_start_desc);
	for (size_t i = al->n_recent; i-- > 0;) {
		const struct server_alert *a =
		        &al->recent[(al->recent_head + i) % SERVER_ALERTS_RECENT];

		if (a->cleared_ms >= since)
			alert_fill(&v[n++], a);
	}
	rep.has_truncated = true;
	rep.truncated = n > limit;
	if (n > limit)
		n = limit;
	for (size_t i = 0; i < n; i++)
		pv[i] = &v[i];
	rep.alerts = pv;
	rep.n_alerts = n;
	closure(&rep, data); /* packs under the lock: the strings are the ring's */
	pthread_mutex_unlock(&al->lock);
	free(v);
	free(pv);
}

/* ------------------------------------------------------------- thread */

static void alerts_run(void *arg)
{
	struct server_alerts *al = arg;

	/* of several servers on one database, the leader evaluates */
	if (server_rollout_lead_held(al->engine))
		server_alerts_evaluate(al, aio_now_ms());
}

int server_alerts_init(struct server_alerts *al, const struct server_config *conf,
                       struct server_hosts *hosts, struct server_engine *engine,
                       struct server_db *db)
{
	memset(al, 0, sizeof(*al));
	al->conf = conf;
	al->hosts = hosts;
	al->engine = engine;
	al->db = db;
	pthread_mutex_init(&al->lock, NULL);
	al->inited = true;
	al->start_ms = aio_now_ms();
	al->recent = calloc(SERVER_ALERTS_RECENT, sizeof(*al->recent));
	return al->recent ? 0 : -ENOMEM;
}

int server_alerts_start(struct server_alerts *al)
{
	return aio_periodic_start(&al->thread, al->conf->alert_interval_ms, alerts_run, al);
}

void server_alerts_stop(struct server_alerts *al)
{
	aio_periodic_stop(&al->thread);
}

void server_alerts_done(struct server_alerts *al)
{
	if (!al->inited)
		return;
	free(al->active);
	free(al->recent);
	pthread_mutex_destroy(&al->lock);
	al->inited = false;
}
