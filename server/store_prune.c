/* Retention's deletes: small steps through the database queue, each one
 * write among the reports, with each kind's statement from its table's
 * owner. */
#include "store_prune.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "duration.h"
#include "history.h"
#include "log.h"
#include "sql.h"
#include "store_alerts.h"
#include "store_events.h"

/* hosts one step visits at most */
#define STEP_HOSTS 256

static const char *const kind_name[PRUNE_KINDS] = {
	"raw samples", "raw blocks", "5-minute rollups", "hourly rollups", "daily rows",
	"VM usage",    "events",     "cleared alerts",   "audit entries",
};

/* Each kind's statement, from the table's owner: per host ?1, the cutoff
 * ?2, at most ?3 rows, the oldest first (events and alerts are not per
 * host). */
static const char *const prune_sql[PRUNE_KINDS] = {
	[PRUNE_RAW] = server_history_prune_raw_sql,
	[PRUNE_BLOCKS] = server_history_prune_blocks_sql,
	[PRUNE_5M] = server_history_prune_5m_sql,
	[PRUNE_1H] = server_history_prune_1h_sql,
	[PRUNE_1D] = server_history_prune_1d_sql,
	[PRUNE_VM] = server_history_prune_vm_sql,
	[PRUNE_EVENTS] = server_store_events_prune_sql,
	[PRUNE_ALERTS] = server_store_alerts_prune_sql,
	[PRUNE_AUDIT] = server_audit_prune_sql,
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

static int delete_some(struct server_sql *conn, struct prune_step *p, struct server_sql_stmt *del,
                       int64_t host, int64_t limit, int64_t *deleted)
{
	int rc;

	server_sql_bind_int64(del, 1, host);
	server_sql_bind_int64(del, 2, p->cutoff_ms);
	server_sql_bind_int64(del, 3, limit);
	rc = server_sql_step(del);
	server_sql_reset(del);
	if (rc != SQLITE_DONE)
		return rc;
	*deleted = server_sql_changes(conn);
	return SQLITE_OK;
}

/* On the database thread, inside a batch: deletes up to p->limit rows,
 * visiting hosts after p->cursor. */
static int prune_apply(struct server_sql *conn, void *arg)
{
	struct prune_step *p = arg;
	struct server_sql_stmt *del = NULL, *hosts = NULL;
	int64_t n = 0;
	int visited = 0, rc;

	if ((rc = server_sql_prepare(conn, prune_sql[p->kind], false, &del)) != SQLITE_OK)
		return rc;
	if (p->kind == PRUNE_EVENTS || p->kind == PRUNE_ALERTS || p->kind == PRUNE_AUDIT) {
		rc = delete_some(conn, p, del, 0, p->limit, &n);
		p->deleted = n;
		p->finished = n < p->limit;
		goto out;
	}
	rc = server_sql_prepare(conn, server_history_hosts_sql, false, &hosts);
	if (rc != SQLITE_OK)
		goto out;
	server_sql_bind_int64(hosts, 1, p->cursor);
	server_sql_bind_int64(hosts, 2, STEP_HOSTS);
	while ((rc = server_sql_step(hosts)) == SQLITE_ROW) {
		int64_t host = server_sql_column_int64(hosts, 0), left = p->limit - p->deleted;

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
	server_sql_finalize(hosts);
	server_sql_finalize(del);
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

int server_store_prune(struct server_db *db, const uint64_t keep[PRUNE_KINDS], uint64_t now,
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
