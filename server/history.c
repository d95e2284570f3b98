#include "history.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rawblock.h"

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
                uint64_t last, uint64_t last_ms, uint64_t limit, int64_t umax)
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
	p->umax = umax > p->umax ? umax : p->umax;
	if (last_ms >= p->last_ms) {
		p->last = last;
		p->last_ms = last_ms;
		p->limit = limit;
	}
}

/* Places the reports a raw record stands for (those up to the next one,
 * equal to it): one per the agent's interval from the record's time, or
 * spread evenly when they do not fit before end_ms. The last of them is at
 * last_ms when known (the host's newest report), else before end_ms. */
static void add_raw(struct acc *a, const struct server_raw *r, uint64_t n, uint64_t end_ms,
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
		add(a, t, 1, r->nr_min, r->nr_max, (double)r->nr, r->nr, t, r->max_nr,
		    server_history_util_ppm(r->nr_max, r->max_nr));
	}
}

/* Raw records in seq order, each placed once the next one is known. */
struct feed {
	struct acc *a;
	struct server_raw prev;
	bool have;
	uint64_t interval_ms;
};

static void feed(struct feed *f, const struct server_raw *cur)
{
	if (f->have) {
		if (cur->seq <= f->prev.seq)
			return; /* seen already */
		add_raw(f->a, &f->prev, cur->seq - f->prev.seq, cur->time_ms, 0, f->interval_ms);
	}
	f->prev = *cur;
	f->have = true;
}

/* Every record of a block; only its last one if last_only. */
static int feed_block(struct feed *f, const uint8_t *data, size_t len, bool last_only)
{
	struct server_raw r = { 0 };
	size_t off = 0;

	while (off < len) {
		if (server_raw_decode(data, len, &off, &r) < 0)
			return SQLITE_CORRUPT;
		if (!last_only)
			feed(f, &r);
	}
	if (last_only && len)
		feed(f, &r);
	return SQLITE_OK;
}

/* Rows of the table raw samples were kept in before blocks (schema 7 and
 * older), from the last one before since: retention empties it. */
static int feed_legacy(sqlite3 *conn, int64_t host_id, struct feed *f)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(
	        conn,
	        "SELECT seq, time_ms, aio_nr, aio_nr_min, aio_nr_max, aio_max_nr"
	        " FROM samples WHERE host_id = ?1 AND seq >= coalesce((SELECT seq"
	        " FROM samples WHERE host_id = ?1 AND time_ms < ?2 ORDER BY seq DESC"
	        " LIMIT 1), 0) ORDER BY seq",
	        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, (int64_t)f->a->since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct server_raw r = {
			(uint64_t)sqlite3_column_int64(st, 0),
			(uint64_t)sqlite3_column_int64(st, 1),
			(uint64_t)sqlite3_column_int64(st, 2),
			(uint64_t)sqlite3_column_int64(st, 3),
			(uint64_t)sqlite3_column_int64(st, 4),
			(uint64_t)sqlite3_column_int64(st, 5),
		};

		feed(f, &r);
		if (r.time_ms >= f->a->until)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The closed blocks: the newest one ending before since gives its last
 * record (it may stand for reports in the range), then every block after. */
static int feed_blocks(sqlite3 *conn, int64_t host_id, struct feed *f)
{
	uint8_t carry[SERVER_RAW_BLOCK_MAX];
	size_t carry_len = 0;
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(
	        conn, "SELECT last_ms, data FROM raw WHERE host_id = ?1 ORDER BY first_seq", -1,
	        &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, host_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *data = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);

		if (len > SERVER_RAW_BLOCK_MAX) {
			rc = SQLITE_CORRUPT;
			break;
		}
		if ((uint64_t)sqlite3_column_int64(st, 0) < f->a->since) {
			memcpy(carry, data, len);
			carry_len = len;
			continue;
		}
		if (carry_len && (rc = feed_block(f, carry, carry_len, true)) != SQLITE_OK)
			break;
		carry_len = 0;
		if ((rc = feed_block(f, data, len, false)) != SQLITE_OK)
			break;
	}
	if (rc == SQLITE_DONE && carry_len)
		rc = feed_block(f, carry, carry_len, true);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_raw(sqlite3 *conn, int64_t host_id, struct acc *a)
{
	struct feed f = { .a = a };
	sqlite3_stmt *sr = NULL;
	uint64_t seq_last, last_ms;
	int rc;

	if ((rc = sqlite3_prepare_v2(conn,
	                             "SELECT s.seq_last, s.time_ms, h.interval_ms, s.raw_open"
	                             " FROM series s LEFT JOIN hosts h ON h.id = s.host_id"
	                             " WHERE s.host_id = ?1",
	                             -1, &sr, NULL)) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(sr, 1, host_id);
	if ((rc = sqlite3_step(sr)) != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		goto out; /* nothing reported */
	}
	seq_last = (uint64_t)sqlite3_column_int64(sr, 0);
	last_ms = (uint64_t)sqlite3_column_int64(sr, 1);
	f.interval_ms = (uint64_t)sqlite3_column_int64(sr, 2);
	/* oldest first: the old table, the closed blocks, the open block */
	if ((rc = feed_legacy(conn, host_id, &f)) != SQLITE_OK ||
	    (rc = feed_blocks(conn, host_id, &f)) != SQLITE_OK)
		goto out;
	if ((size_t)sqlite3_column_bytes(sr, 3) <= SERVER_RAW_BLOCK_MAX &&
	    (rc = feed_block(&f, sqlite3_column_blob(sr, 3), (size_t)sqlite3_column_bytes(sr, 3),
	                     false)) != SQLITE_OK)
		goto out;
	/* the newest record stands for the reports after it, up to the latest */
	if (f.have && f.prev.time_ms < a->until && seq_last >= f.prev.seq) {
		uint64_t n = seq_last - f.prev.seq + 1;

		/* n reports from its time to last_ms inclusive */
		add_raw(a, &f.prev, n, last_ms + 1, n > 1 ? last_ms : 0, f.interval_ms);
	}
out:
	sqlite3_finalize(sr);
	return rc;
}

static int read_rollup(sqlite3 *conn, int64_t host_id, enum server_tier tier, struct acc *a)
{
	static const char *const sql[SERVER_TIER_COUNT] = {
		[SERVER_TIER_5M] = "SELECT start_ms, count, min, max, sum, last, last_ms, lim, umax"
		                   " FROM rollup_5m_all WHERE host_id = ?1 AND start_ms >= ?2"
		                   " AND start_ms < ?3",
		[SERVER_TIER_1H] = "SELECT start_ms, count, min, max, sum, last, last_ms, lim, umax"
		                   " FROM rollup_1h_all WHERE host_id = ?1 AND start_ms >= ?2"
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
		    (uint64_t)sqlite3_column_int64(st, 6), (uint64_t)sqlite3_column_int64(st, 7),
		    sqlite3_column_int64(st, 8));
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
