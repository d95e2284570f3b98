#include "plan.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANARY_DEFAULT        1
#define BATCH_PERCENT_DEFAULT 10

const char *server_plan_check(const Aioctl__V1__SetLimitRequest *in)
{
	if (!in->reconcile && (in->target == 0 || in->target > UINT32_MAX))
		return "--max: 1 to 4294967295";
	if (in->has_canary && in->canary > 10000)
		return "--canary: at most 10000";
	if (in->has_batch && (in->batch == 0 || (in->batch_percent && in->batch > 100)))
		return "--batch: a count from 1, or 1% to 100%";
	if (in->has_max_failures && in->max_failures_percent && in->max_failures > 100)
		return "--max-failures: at most 100%";
	if (in->has_soak_ms && in->soak_ms > AIO_DAY_MS)
		return "--soak: at most 24h";
	if (in->has_offline_timeout_ms && in->offline_timeout_ms > 30 * AIO_DAY_MS)
		return "--offline-timeout: at most 30d";
	return server_selector_invalid(in->selector);
}

static int append(char **list, const char *sep, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int append(char **list, const char *sep, const char *fmt, ...)
{
	char item[512], *n;
	size_t old = *list ? strlen(*list) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	n = realloc(*list, old + strlen(sep) + strlen(item) + 1);
	if (!n)
		return -ENOMEM;
	snprintf(n + old, strlen(sep) + strlen(item) + 1, "%s%s", old ? sep : "", item);
	*list = n;
	return 0;
}

static int by_host(const void *a, const void *b)
{
	return strcmp(((const struct server_plan_step *)a)->host,
	              ((const struct server_plan_step *)b)->host);
}

/* Why h takes no step towards target (appended to the plan's lists), or
 * false: it takes one. */
static bool left_out(const Aioctl__V1__SetLimitRequest *o, const struct server_host *h,
                     uint64_t target, struct server_plan *p)
{
	uint64_t after;
	bool at_runtime = h->has_sample && h->sample.aio_max_nr == target;
	bool at_persisted = server_host_persisted(h, &after) && after == target;

	if (at_runtime && at_persisted) {
		if (!o->reconcile)
			append(&p->skipped, ",", "%s", h->name);
		return true;
	}
	if (h->limit_max && (target < h->limit_min || target > h->limit_max)) {
		append(&p->refused, ";", "%s: outside its bounds %" PRIu64 "..%" PRIu64, h->name,
		       h->limit_min, h->limit_max);
		return true;
	}
	if (!(o->has_force && o->force) && h->has_sample &&
	    target < h->sample.aio_nr + h->limit_margin) {
		append(&p->refused, ";", "%s: below its usage %" PRIu64 " + margin %" PRIu64,
		       h->name, h->sample.aio_nr, h->limit_margin);
		return true;
	}
	return false;
}

/* Canaries form wave 0; the rest go in batches of a count or a share. */
static void waves(const Aioctl__V1__SetLimitRequest *o, struct server_plan *p)
{
	size_t canary = o->has_canary ? o->canary : CANARY_DEFAULT, rest, per_batch;

	if (canary > p->n_steps)
		canary = p->n_steps;
	rest = p->n_steps - canary;
	if (o->has_batch && !o->batch_percent)
		per_batch = o->batch;
	else
		per_batch = (rest * (o->has_batch ? o->batch : BATCH_PERCENT_DEFAULT) + 99) / 100;
	if (per_batch == 0)
		per_batch = 1;
	p->n_waves = canary ? 1 : 0;
	for (size_t i = 0; i < p->n_steps; i++) {
		p->steps[i].wave =
		        i < canary ? 0 : (uint32_t)((i - canary) / per_batch) + (canary ? 1 : 0);
		if (p->steps[i].wave + 1 > p->n_waves)
			p->n_waves = p->steps[i].wave + 1;
	}
}

int server_plan_make(const Aioctl__V1__SetLimitRequest *o, const struct server_host *const *hosts,
                     size_t n, server_plan_conflict_fn conflict, void *arg, struct server_plan *ret)
{
	struct server_plan *p = ret;
	size_t cap = 0;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		const struct server_host *h = hosts[i];
		uint64_t target = o->target, other;
		struct server_plan_step *st;

		if (!server_host_selected(h, o->selector))
			continue;
		if (o->reconcile) {
			if (!h->has_desired)
				continue;
			target = h->desired;
		}
		if (left_out(o, h, target, p))
			continue;
		if (conflict && (other = conflict(h->id, arg)) &&
		    !(o->has_supersede && o->supersede)) {
			p->conflict = other;
			return -EEXIST;
		}
		if (p->n_steps == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *v = realloc(p->steps, ncap * sizeof(*p->steps));

			if (!v)
				return -ENOMEM;
			p->steps = v;
			cap = ncap;
		}
		st = &p->steps[p->n_steps++];
		memset(st, 0, sizeof(*st));
		st->host_id = h->id;
		snprintf(st->host, sizeof(st->host), "%s", h->name);
		st->target = target;
		st->has_live = h->has_sample;
		st->live = h->sample.aio_max_nr;
		st->has_after = server_host_persisted(h, &st->after);
		st->lowers = (st->has_live && target < st->live) ||
		             (st->has_after && target < st->after);
		p->n_lower += st->lowers;
	}
	if (p->n_steps)
		qsort(p->steps, p->n_steps, sizeof(*p->steps), by_host);
	waves(o, p);
	return 0;
}

void server_plan_done(struct server_plan *p)
{
	if (!p)
		return;
	free(p->steps);
	free(p->skipped);
	free(p->refused);
	memset(p, 0, sizeof(*p));
}

void server_plan_preview(const struct server_plan_step *q, struct server_step *p)
{
	p->has_runtime_before = q->has_live;
	p->runtime_before = q->live;
	p->has_persisted_before = q->has_after;
	p->persisted_before = q->after;
	p->has_runtime_after = p->has_persisted_after = true;
	p->runtime_after = p->persisted_after = q->target;
	if (q->lowers)
		server_rollouts_step_msg(p, "LOWERS the limit (--allow-lower)");
}

void server_plan_lower_example(const struct server_plan *p, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct server_plan_step *q = &p->steps[i];

		if (q->lowers) {
			snprintf(buf, len, "%s: %" PRIu64 " -> %" PRIu64, q->host,
			         q->has_live && q->live > q->target ? q->live : q->after,
			         q->target);
			return;
		}
	}
}
