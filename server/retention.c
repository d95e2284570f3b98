/* Retention: each history tier, the events and the per-VM usage lose what
 * is older than their configured age. A pass deletes in small steps, each
 * one write among the reports on the database thread, so a backlog of
 * months never holds a batch up for long. */
#include "retention.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "duration.h"
#include "log.h"
#include "periodic.h"
#include "server.h"

/* hosts one step visits at most */
#define STEP_HOSTS 256

static const char *const kind_name[PRUNE_KINDS] = {
	"raw samples", "raw blocks", "5-minute rollups", "hourly rollups",
	"VM usage",    "events",     "cleared alerts",
};

/* per host: ?1 host, ?2 cutoff, ?3 rows at most; the oldest rows first */
static const char *const prune_sql[PRUNE_KINDS] = {
	/* seq order is time order: the oldest are the host's first rows */
	[PRUNE_RAW] = "DELETE FROM samples WHERE host_id = ?1 AND time_ms < ?2 AND seq IN"
	              " (SELECT seq FROM samples WHERE host_id = ?1 ORDER BY seq LIMIT ?3)",
	/* blocks are in seq order too; the newest one ending before the cutoff
	 * stays: its last record stands for the equal reports after it */
	[PRUNE_BLOCKS] =
	        "DELETE FROM raw WHERE host_id = ?1 AND last_ms < ?2 AND first_seq IN"
	        " (SELECT first_seq FROM raw WHERE host_id = ?1 ORDER BY first_seq LIMIT ?3)"
	        " AND first_seq < (SELECT max(first_seq) FROM raw WHERE host_id = ?1"
	        " AND last_ms < ?2)",
	[PRUNE_5M] = "DELETE FROM rollup_5m WHERE host_id = ?1 AND start_ms IN (SELECT start_ms"
	             " FROM rollup_5m WHERE host_id = ?1 AND start_ms < ?2 ORDER BY start_ms"
	             " LIMIT ?3)",
	[PRUNE_1H] = "DELETE FROM rollup_1h WHERE host_id = ?1 AND start_ms IN (SELECT start_ms"
	             " FROM rollup_1h WHERE host_id = ?1 AND start_ms < ?2 ORDER BY start_ms"
	             " LIMIT ?3)",
	[PRUNE_VM] = "DELETE FROM vm_usage WHERE (host_id, name, time_ms) IN (SELECT host_id,"
	             " name, time_ms FROM vm_usage WHERE host_id = ?1 AND time_ms < ?2 LIMIT ?3)",
	/* not per host: ?1 is ignored */
	[PRUNE_EVENTS] = "DELETE FROM events WHERE id IN (SELECT id FROM events"
	                 " WHERE time_ms < ?2 AND ?1 = ?1 ORDER BY time_ms LIMIT ?3)",
	[PRUNE_ALERTS] = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
	                 " WHERE cleared_ms < ?2 AND ?1 = ?1 ORDER BY cleared_ms LIMIT ?3)",
};

struct prune_step {
	struct server_db_write w; /* first */
	enum prune_kind kind;
	int64_t cutoff_ms, cursor, limit;
	/* results */
	int64_t deleted;
	bool finished;
	/* the waiting pass */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static int delete_some(sqlite3 *conn, struct prune_step *p, sqlite3_stmt *del, int64_t host,
                       int64_t limit, int64_t *deleted)
{
	int rc;

	sqlite3_bind_int64(del, 1, host);
	sqlite3_bind_int64(del, 2, p->cutoff_ms);
	sqlite3_bind_int64(del, 3, limit);
	rc = sqlite3_step(del);
	sqlite3_reset(del);
	if (rc != SQLITE_DONE)
		return rc;
	*deleted = sqlite3_changes(conn);
	return SQLITE_OK;
}

/* On the database thread, inside a batch: deletes up to p->limit rows,
 * visiting hosts after p->cursor. */
static int prune_apply(sqlite3 *conn, void *arg)
{
	struct prune_step *p = arg;
	sqlite3_stmt *del = NULL, *hosts = NULL;
	int64_t n = 0;
	int visited = 0, rc;

	if ((rc = sqlite3_prepare_v2(conn, prune_sql[p->kind], -1, &del, NULL)) != SQLITE_OK)
		return rc;
	if (p->kind == PRUNE_EVENTS || p->kind == PRUNE_ALERTS) {
		rc = delete_some(conn, p, del, 0, p->limit, &n);
		p->deleted = n;
		p->finished = n < p->limit;
		goto out;
	}
	rc = sqlite3_prepare_v2(conn,
	                        "SELECT host_id FROM series WHERE host_id > ?1"
	                        " ORDER BY host_id LIMIT ?2",
	                        -1, &hosts, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(hosts, 1, p->cursor);
	sqlite3_bind_int(hosts, 2, STEP_HOSTS);
	while ((rc = sqlite3_step(hosts)) == SQLITE_ROW) {
		int64_t host = sqlite3_column_int64(hosts, 0), left = p->limit - p->deleted;

		if ((rc = delete_some(conn, p, del, host, left, &n)) != SQLITE_OK)
			goto out;
		p->deleted += n;
		visited++;
		if (n == left) {
			/* the step is full; this host may have more */
			p->cursor = host - 1;
			rc = SQLITE_OK;
			goto out;
		}
		p->cursor = host;
	}
	if (rc == SQLITE_DONE) {
		/* fewer hosts than a step visits: that was the last of them */
		p->finished = visited < STEP_HOSTS;
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(hosts);
	sqlite3_finalize(del);
	return rc;
}

static void prune_done(struct server_db_write *w, int err)
{
	struct prune_step *p = (struct prune_step *)w;

	pthread_mutex_lock(&p->lock);
	p->done = true;
	p->err = err;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Runs one step through the database queue and waits for its batch. */
static int prune_step_run(struct server_db *db, struct prune_step *p)
{
	int r;

	p->w.type = SERVER_DB_WRITE_FN;
	p->w.fn = prune_apply;
	p->w.arg = p;
	p->w.done = prune_done;
	p->done = false;
	p->deleted = 0;
	p->finished = false;
	if ((r = server_db_submit(db, &p->w)) < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	while (!p->done)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return p->err;
}

int server_db_prune(struct server_db *db, const uint64_t keep[PRUNE_KINDS], uint64_t now,
                    uint64_t batch, bool (*stop)(void *arg), void *arg,
                    struct server_prune_stats *stats)
{
	struct prune_step p;
	int r = 0;

	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	for (int k = 0; k < PRUNE_KINDS && r == 0; k++) {
		int64_t total = 0;

		if (!keep[k] || keep[k] >= now)
			continue;
		p.kind = (enum prune_kind)k;
		p.cutoff_ms = (int64_t)(now - keep[k]);
		p.cursor = 0;
		p.limit = (int64_t)batch;
		do {
			if (stop && stop(arg)) {
				r = -ECANCELED;
				break;
			}
			if ((r = prune_step_run(db, &p)) < 0)
				break;
			total += p.deleted;
			stats->deleted[k] += (uint64_t)p.deleted;
			stats->steps++;
		} while (!p.finished);
		if (total) {
			char age[32];

			aio_duration_format(keep[k], age, sizeof(age));
			log_info("retention: %" PRId64 " %s older than %s removed", total,
			         kind_name[k], age);
		}
	}
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	return r;
}

int server_retention_pass(struct server *s, bool (*stop)(void *arg), void *arg)
{
	const struct server_config *c = &s->conf;
	const uint64_t keep[PRUNE_KINDS] = {
		[PRUNE_RAW] = c->raw_retention_ms,      [PRUNE_BLOCKS] = c->raw_retention_ms,
		[PRUNE_5M] = c->rollup_5m_retention_ms, [PRUNE_1H] = c->rollup_1h_retention_ms,
		[PRUNE_VM] = c->vm_usage_retention_ms,  [PRUNE_EVENTS] = c->event_retention_ms,
		[PRUNE_ALERTS] = c->event_retention_ms,
	};
	struct server_prune_stats stats = { 0 };
	uint64_t total = 0;
	int r;

	r = server_db_prune(s->db, keep, aio_now_ms(), c->prune_batch, stop, arg, &stats);
	for (int k = 0; k < PRUNE_KINDS; k++)
		total += stats.deleted[k];
	atomic_fetch_add(&s->pruned_total, total);
	if (r == -EAGAIN)
		log_debug("retention: database queue full, the next pass goes on");
	else if (r < 0 && r != -ECANCELED && r != -ESHUTDOWN)
		log_warn_errno(r, "retention pass");
	if (r == 0)
		atomic_fetch_add(&s->prune_passes, 1);
	return r;
}

static bool retention_stopping(void *arg)
{
	return aio_periodic_stopping(arg);
}

static void retention_run(void *arg)
{
	struct server *s = arg;

	server_retention_pass(s, retention_stopping, &s->retention);
}

int server_retention_start(struct server *s)
{
	return aio_periodic_start(&s->retention, s->conf.prune_interval_ms, retention_run, s);
}

void server_retention_stop(struct server *s)
{
	aio_periodic_stop(&s->retention);
}
