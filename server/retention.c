/* Retention: each history tier, the events and the per-VM usage lose what
 * is older than their configured age. A pass deletes in small steps, each
 * one write among the reports on the database thread, so a backlog of
 * months never holds a batch up for long. */
#include "retention.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "duration.h"
#include "log.h"
#include "periodic.h"
#include "rollout.h"

int server_retention_pass(struct server_retention *rt, bool (*stop)(void *arg), void *arg)
{
	const struct server_config *c = rt->conf;
	const uint64_t keep[PRUNE_KINDS] = {
		[PRUNE_RAW] = c->raw_retention_ms,
		[PRUNE_BLOCKS] = c->raw_retention_ms,
		[PRUNE_5M] = c->rollup_5m_retention_ms,
		[PRUNE_1H] = c->rollup_1h_retention_ms,
		[PRUNE_1D] = c->rollup_1h_retention_ms,
		[PRUNE_VM] = c->vm_usage_retention_ms,
		[PRUNE_EVENTS] = c->event_retention_ms,
		[PRUNE_ALERTS] = c->event_retention_ms,
		/* the database keeps every entry for a day at least */
		[PRUNE_AUDIT] = c->audit_retention_ms && c->audit_retention_ms < AIO_DAY_MS
		                        ? AIO_DAY_MS
		                        : c->audit_retention_ms,
	};
	struct server_prune_stats stats = { 0 };
	uint64_t total = 0;
	int r;

	r = server_store_prune(rt->db, keep, aio_now_ms(), c->prune_batch, stop, arg, &stats);
	for (int k = 0; k < PRUNE_KINDS; k++)
		total += stats.deleted[k];
	atomic_fetch_add(&rt->pruned_total, total);
	if (r == -EAGAIN)
		log_debug("retention: database queue full, the next pass goes on");
	else if (r < 0 && r != -ECANCELED && r != -ESHUTDOWN)
		log_warn_errno(r, "retention pass");
	if (r == 0)
		atomic_fetch_add(&rt->passes, 1);
	return r;
}

static bool retention_stopping(void *arg)
{
	return aio_periodic_stopping(arg);
}

static void retention_run(void *arg)
{
	struct server_retention *rt = arg;

	/* of several servers on one database, the leader prunes */
	if (!rt->engine || server_rollout_lead_held(rt->engine))
		server_retention_pass(rt, retention_stopping, &rt->thread);
}

int server_retention_start(struct server_retention *rt, const struct server_config *conf,
                           struct server_db *db)
{
	rt->conf = conf;
	rt->db = db;
	return aio_periodic_start(&rt->thread, conf->prune_interval_ms, retention_run, rt);
}

void server_retention_stop(struct server_retention *rt)
{
	aio_periodic_stop(&rt->thread);
}
