#include "history.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *const server_tier_name[SERVER_TIER_COUNT] = { "raw", "5m", "1h" };

static const uint64_t tier_bucket_ms[SERVER_TIER_COUNT] = { 0, 5 * 60 * 1000, 60 * 60 * 1000 };

enum server_tier server_history_tier(const uint64_t retention_ms[SERVER_TIER_COUNT],
                                     uint64_t now_ms, uint64_t since_ms, uint64_t *step_ms)
{
	int t = SERVER_TIER_COUNT - 1;

	/* the coarsest tier at least as fine as the step... */
	while (t > 0 && tier_bucket_ms[t] > *step_ms)
		t--;
	/* ...that still holds the start of the range */
	while (t < SERVER_TIER_COUNT - 1 && retention_ms[t] && since_ms + retention_ms[t] < now_ms)
		t++;
	if (*step_ms < tier_bucket_ms[t])
		*step_ms = tier_bucket_ms[t];
	/* whole buckets per step */
	if (tier_bucket_ms[t] && *step_ms % tier_bucket_ms[t])
		*step_ms += tier_bucket_ms[t] - *step_ms % tier_bucket_ms[t];
	return (enum server_tier)t;
}

struct acc {
	struct server_history_point *p;
	size_t n;
	uint64_t first, step, since, until;
};

static void add(struct acc *a, uint64_t t, uint64_t count, uint64_t min, uint64_t max, double sum,
                uint64_t last, uint64_t last_ms, uint64_t limit)
{
	struct server_history_point *p;
	size_t i;

	if (t < a->since || t >= a->until)
		return;
	i = (size_t)((t - a->first) / a->step);
	if (i >= a->n)
		return;
	p = &a->p[i];
	if (!p->count) {
		p->min = min;
		p->max = max;
	}
	p->count += count;
	p->min = min < p->min ? min : p->min;
	p->max = max > p->max ? max : p->max;
	p->sum += sum;
	if (last_ms >= p->last_ms) {
		p->last = last;
		p->last_ms = last_ms;
		p->limit = limit;
	}
}

struct raw_row {
	uint64_t seq, time_ms, nr, nr_min, nr_max, max_nr;
};

/* Places the reports a raw row stands for (those up to the next row, equal
 * to it): one per the agent's interval from the row's time, or spread
 * evenly when they do not fit before end_ms. The last of them is at
 * last_ms when known (the host's newest report), else before end_ms. */
static void add_raw(struct acc *a, const struct raw_row *r, uint64_t n, uint64_t end_ms,
                    uint64_t last_ms, uint64_t interval_ms)
{
	uint64_t span = end_ms > r->time_ms ? end_ms - r->time_ms : 0;

	/* at most ten reports a second: a seq jump is not a flood */
	if (n > span / 100 + 1)
		n = span / 100 + 1;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t t;

		if (last_ms && k == n - 1)
			t = last_ms;
		else if (interval_ms && (n - 1) * interval_ms < span)
			t = r->time_ms + k * interval_ms;
		else
			t = r->time_ms + (n > 1 ? span * k / n : 0);

		if (t >= a->until)
			break;
		add(a, t, 1, r->nr_min, r->nr_max, (double)r->nr, r->nr, t, r->max_nr);
	}
}

static int read_raw(sqlite3 *conn, int64_t host_id, struct acc *a)
{
	sqlite3_stmt *st = NULL, *sr = NULL;
	struct raw_row prev = { 0 }, cur;
	uint64_t seq_last = 0, last_ms = 0, interval = 0;
	bool have = false;
	int rc;

	if ((rc = sqlite3_prepare_v2(conn,
	                             "SELECT s.seq_last, s.time_ms, h.interval_ms FROM series s"
	                             " LEFT JOIN hosts h ON h.id = s.host_id WHERE s.host_id = ?1",
	                             -1, &sr, NULL)) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(sr, 1, host_id);
	if ((rc = sqlite3_step(sr)) != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		goto out; /* nothing reported */
	}
	seq_last = (uint64_t)sqlite3_column_int64(sr, 0);
	last_ms = (uint64_t)sqlite3_column_int64(sr, 1);
	interval = (uint64_t)sqlite3_column_int64(sr, 2);
	/* from the last row before the range: it may stand for reports in it */
	rc = sqlite3_prepare_v2(
	        conn,
	        "SELECT seq, time_ms, aio_nr, aio_nr_min, aio_nr_max, aio_max_nr"
	        " FROM samples WHERE host_id = ?1 AND seq >= coalesce((SELECT seq"
	        " FROM samples WHERE host_id = ?1 AND time_ms < ?2 ORDER BY seq DESC"
	        " LIMIT 1), 0) ORDER BY seq",
	        -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, (int64_t)a->since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cur.seq = (uint64_t)sqlite3_column_int64(st, 0);
		cur.time_ms = (uint64_t)sqlite3_column_int64(st, 1);
		cur.nr = (uint64_t)sqlite3_column_int64(st, 2);
		cur.nr_min = (uint64_t)sqlite3_column_int64(st, 3);
		cur.nr_max = (uint64_t)sqlite3_column_int64(st, 4);
		cur.max_nr = (uint64_t)sqlite3_column_int64(st, 5);
		if (have)
			add_raw(a, &prev, cur.seq - prev.seq, cur.time_ms, 0, interval);
		prev = cur;
		have = true;
		if (cur.time_ms >= a->until)
			break;
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	/* the newest row stands for the reports after it, up to the latest */
	if (rc == SQLITE_OK && have && prev.time_ms < a->until && seq_last >= prev.seq) {
		uint64_t n = seq_last - prev.seq + 1;

		/* n reports from prev.time_ms to last_ms inclusive */
		add_raw(a, &prev, n, last_ms + 1, n > 1 ? last_ms : 0, interval);
	}
out:
	sqlite3_finalize(sr);
	sqlite3_finalize(st);
	return rc;
}

static int read_rollup(sqlite3 *conn, int64_t host_id, enum server_tier tier, struct acc *a)
{
	static const char *const sql[SERVER_TIER_COUNT] = {
		[SERVER_TIER_5M] = "SELECT start_ms, count, min, max, sum, last, last_ms, lim FROM"
		                   " rollup_5m_all WHERE host_id = ?1 AND start_ms >= ?2"
		                   " AND start_ms < ?3",
		[SERVER_TIER_1H] = "SELECT start_ms, count, min, max, sum, last, last_ms, lim FROM"
		                   " rollup_1h_all WHERE host_id = ?1 AND start_ms >= ?2"
		                   " AND start_ms < ?3",
	};
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(conn, sql[tier], -1, &st, NULL)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, (int64_t)a->since);
	sqlite3_bind_int64(st, 3, (int64_t)a->until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		add(a, (uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
		    (uint64_t)sqlite3_column_int64(st, 2), (uint64_t)sqlite3_column_int64(st, 3),
		    sqlite3_column_double(st, 4), (uint64_t)sqlite3_column_int64(st, 5),
		    (uint64_t)sqlite3_column_int64(st, 6), (uint64_t)sqlite3_column_int64(st, 7));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int server_history_read(sqlite3 *conn, int64_t host_id, enum server_tier tier, uint64_t since_ms,
                        uint64_t until_ms, uint64_t step_ms, struct server_history_point *out,
                        size_t max, size_t *ret_n)
{
	struct acc a = { .step = step_ms, .since = since_ms, .until = until_ms };
	size_t n = 0;
	int rc;

	if (!step_ms || since_ms >= until_ms)
		return -EINVAL;
	/* a rollup bucket counts where it starts: take the one holding since */
	if (tier != SERVER_TIER_RAW)
		a.since -= a.since % tier_bucket_ms[tier];
	a.first = a.since;
	a.n = (size_t)((until_ms - 1 - a.first) / step_ms + 1);
	if (a.n > max)
		a.n = max;
	if (!(a.p = calloc(a.n ? a.n : 1, sizeof(*a.p))))
		return -ENOMEM;
	rc = tier == SERVER_TIER_RAW ? read_raw(conn, host_id, &a)
	                             : read_rollup(conn, host_id, tier, &a);
	if (rc != SQLITE_OK) {
		free(a.p);
		return -EIO;
	}
	for (size_t i = 0; i < a.n; i++) {
		if (!a.p[i].count)
			continue;
		out[n] = a.p[i];
		out[n++].start_ms = a.first + i * step_ms;
	}
	free(a.p);
	*ret_n = n;
	return 0;
}
