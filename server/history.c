#include "history.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "hosts.h"
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
static int feed_legacy(struct server_reader *rd, int64_t host_id, struct feed *f)
{
	static const char sql[] =
	        "SELECT seq, time_ms, aio_nr, aio_nr_min, aio_nr_max, aio_max_nr"
	        " FROM samples WHERE host_id = ?1 AND seq >= coalesce((SELECT seq"
	        " FROM samples WHERE host_id = ?1 AND time_ms < ?2 ORDER BY seq DESC"
	        " LIMIT 1), 0) ORDER BY seq";
	struct server_sql_stmt *st = server_reader_stmt(rd, sql);
	int rc;

	if (!st)
		return SQLITE_ERROR;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, (int64_t)f->a->since);
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_raw r = {
			(uint64_t)server_sql_column_int64(st, 0),
			(uint64_t)server_sql_column_int64(st, 1),
			(uint64_t)server_sql_column_int64(st, 2),
			(uint64_t)server_sql_column_int64(st, 3),
			(uint64_t)server_sql_column_int64(st, 4),
			(uint64_t)server_sql_column_int64(st, 5),
		};

		feed(f, &r);
		if (r.time_ms >= f->a->until)
			break;
	}
	server_sql_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The closed blocks: the newest one ending before since gives its last
 * record (it may stand for reports in the range), then every block after. */
static int feed_blocks(struct server_reader *rd, int64_t host_id, struct feed *f)
{
	uint8_t carry[SERVER_RAW_BLOCK_MAX];
	size_t carry_len = 0;
	static const char sql[] =
	        "SELECT last_ms, data FROM raw WHERE host_id = ?1 ORDER BY first_seq";
	struct server_sql_stmt *st = server_reader_stmt(rd, sql);
	int rc;

	if (!st)
		return SQLITE_ERROR;
	server_sql_bind_int64(st, 1, host_id);
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		const uint8_t *data = server_sql_column_blob(st, 1);
		size_t len = server_sql_column_bytes(st, 1);

		if (len > SERVER_RAW_BLOCK_MAX) {
			rc = SQLITE_CORRUPT;
			break;
		}
		if ((uint64_t)server_sql_column_int64(st, 0) < f->a->since) {
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
	server_sql_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_raw(struct server_reader *rd, int64_t host_id, uint64_t interval_ms, struct acc *a)
{
	static const char sql[] =
	        "SELECT seq_last, time_ms, raw_open FROM series WHERE host_id = ?1";
	struct feed f = { .a = a, .interval_ms = interval_ms };
	struct server_sql_stmt *sr = server_reader_stmt(rd, sql);
	uint64_t seq_last, last_ms;
	int rc = SQLITE_ERROR;

	if (!sr)
		return rc;
	server_sql_bind_int64(sr, 1, host_id);
	if ((rc = server_sql_step(sr)) != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		goto out; /* nothing reported */
	}
	seq_last = (uint64_t)server_sql_column_int64(sr, 0);
	last_ms = (uint64_t)server_sql_column_int64(sr, 1);
	/* oldest first: the old table, the closed blocks, the open block */
	if ((rc = feed_legacy(rd, host_id, &f)) != SQLITE_OK ||
	    (rc = feed_blocks(rd, host_id, &f)) != SQLITE_OK)
		goto out;
	if (server_sql_column_bytes(sr, 2) <= SERVER_RAW_BLOCK_MAX &&
	    (rc = feed_block(&f, server_sql_column_blob(sr, 2), server_sql_column_bytes(sr, 2),
	                     false)) != SQLITE_OK)
		goto out;
	/* the newest record stands for the reports after it, up to the latest */
	if (f.have && f.prev.time_ms < a->until && seq_last >= f.prev.seq) {
		uint64_t n = seq_last - f.prev.seq + 1;

		/* n reports from its time to last_ms inclusive */
		add_raw(a, &f.prev, n, last_ms + 1, n > 1 ? last_ms : 0, f.interval_ms);
	}
out:
	server_sql_reset(sr);
	return rc;
}

static int read_rollup(struct server_reader *rd, int64_t host_id, enum server_tier tier,
                       struct acc *a)
{
	static const char sql_5m[] =
	        "SELECT start_ms, count, min, max, sum, last, last_ms, lim, umax"
	        " FROM rollup_5m_all WHERE host_id = ?1 AND start_ms >= ?2"
	        " AND start_ms < ?3";
	static const char sql_1h[] =
	        "SELECT start_ms, count, min, max, sum, last, last_ms, lim, umax"
	        " FROM rollup_1h_all WHERE host_id = ?1 AND start_ms >= ?2"
	        " AND start_ms < ?3";
	struct server_sql_stmt *st =
	        server_reader_stmt(rd, tier == SERVER_TIER_5M ? sql_5m : sql_1h);
	int rc;

	if (!st)
		return SQLITE_ERROR;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, (int64_t)a->since);
	server_sql_bind_int64(st, 3, (int64_t)a->until);
	while ((rc = server_sql_step(st)) == SQLITE_ROW)
		add(a, (uint64_t)server_sql_column_int64(st, 0),
		    (uint64_t)server_sql_column_int64(st, 1),
		    (uint64_t)server_sql_column_int64(st, 2),
		    (uint64_t)server_sql_column_int64(st, 3), server_sql_column_double(st, 4),
		    (uint64_t)server_sql_column_int64(st, 5),
		    (uint64_t)server_sql_column_int64(st, 6),
		    (uint64_t)server_sql_column_int64(st, 7), server_sql_column_int64(st, 8));
	server_sql_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int server_history_read(struct server_reader *rd, int64_t host_id, uint64_t interval_ms,
                        enum server_tier tier, uint64_t since_ms, uint64_t until_ms,
                        uint64_t step_ms, struct server_history_point *out, size_t max,
                        size_t *ret_n)
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
	rc = tier == SERVER_TIER_RAW ? read_raw(rd, host_id, interval_ms, &a)
	                             : read_rollup(rd, host_id, tier, &a);
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

/* The history tables: samples (the raw tier before blocks), raw (blocks,
 * rawblock.h), series (each host's acknowledged reports, latest values and
 * open buckets), rollup_5m and rollup_1h (closed buckets; the _all views
 * add the open ones), vm_usage (each VM's contexts when they change). */
const struct server_db_migration server_history_migrations[] = {
	{ 1, "CREATE TABLE samples ("
	     "  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	     "  seq INTEGER NOT NULL,"
	     "  time_ms INTEGER NOT NULL,"
	     "  aio_nr INTEGER NOT NULL, aio_nr_min INTEGER NOT NULL,"
	     "  aio_nr_max INTEGER NOT NULL, aio_max_nr INTEGER NOT NULL,"
	     "  PRIMARY KEY (host_id, seq)) WITHOUT ROWID;"
	     "CREATE INDEX samples_by_time ON samples (host_id, time_ms);" },
	/* every report wrote a second b-tree for this index; (host, seq)
	 * already keeps each host's samples in time order */
	{ 5, "DROP INDEX samples_by_time;" },
	/* history tiers. samples becomes the raw tier, stored on change plus
	 * a keep-alive; series holds each host's acknowledged reports, latest
	 * values and open rollup buckets (one small row per host, so a report
	 * rewrites a dense page, not one per tier); closed buckets go to the
	 * rollup tables; the _all views add the open ones. */
	{ 6,
	  "CREATE TABLE series ("
	  "  host_id INTEGER PRIMARY KEY,"
	  "  seq_first INTEGER NOT NULL, seq_last INTEGER NOT NULL, reports INTEGER NOT NULL,"
	  "  time_ms INTEGER NOT NULL, aio_nr INTEGER NOT NULL, aio_nr_min INTEGER NOT NULL,"
	  "  aio_nr_max INTEGER NOT NULL, aio_max_nr INTEGER NOT NULL, raw_ms INTEGER NOT NULL,"
	  "  m5_start INTEGER NOT NULL, m5_count INTEGER NOT NULL, m5_min INTEGER NOT NULL,"
	  "  m5_max INTEGER NOT NULL, m5_sum INTEGER NOT NULL,"
	  "  h1_start INTEGER NOT NULL, h1_count INTEGER NOT NULL, h1_min INTEGER NOT NULL,"
	  "  h1_max INTEGER NOT NULL, h1_sum INTEGER NOT NULL);"
	  "CREATE TABLE rollup_5m ("
	  "  host_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, count INTEGER NOT NULL,"
	  "  min INTEGER NOT NULL, max INTEGER NOT NULL, sum INTEGER NOT NULL,"
	  "  last INTEGER NOT NULL, last_ms INTEGER NOT NULL, lim INTEGER NOT NULL,"
	  "  PRIMARY KEY (host_id, start_ms)) WITHOUT ROWID;"
	  "CREATE TABLE rollup_1h ("
	  "  host_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, count INTEGER NOT NULL,"
	  "  min INTEGER NOT NULL, max INTEGER NOT NULL, sum INTEGER NOT NULL,"
	  "  last INTEGER NOT NULL, last_ms INTEGER NOT NULL, lim INTEGER NOT NULL,"
	  "  PRIMARY KEY (host_id, start_ms)) WITHOUT ROWID;"
	  "CREATE VIEW rollup_5m_all AS"
	  "  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim FROM rollup_5m"
	  "  UNION ALL SELECT host_id, m5_start, m5_count, m5_min, m5_max, m5_sum, aio_nr,"
	  "  time_ms, aio_max_nr FROM series WHERE m5_count > 0;"
	  "CREATE VIEW rollup_1h_all AS"
	  "  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim FROM rollup_1h"
	  "  UNION ALL SELECT host_id, h1_start, h1_count, h1_min, h1_max, h1_sum, aio_nr,"
	  "  time_ms, aio_max_nr FROM series WHERE h1_count > 0;"
	  "CREATE TABLE vm_usage ("
	  "  host_id INTEGER NOT NULL, name TEXT NOT NULL, time_ms INTEGER NOT NULL,"
	  "  contexts INTEGER NOT NULL, events INTEGER,"
	  "  PRIMARY KEY (host_id, name, time_ms)) WITHOUT ROWID;"
	  /* what earlier versions stored, rolled up */
	  "INSERT INTO series SELECT s.host_id, m.lo, m.hi, m.n, s.time_ms, s.aio_nr,"
	  "  s.aio_nr_min, s.aio_nr_max, s.aio_max_nr, s.time_ms, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0"
	  "  FROM samples s JOIN (SELECT host_id, min(seq) lo, max(seq) hi, count(*) n"
	  "  FROM samples GROUP BY host_id) m ON m.host_id = s.host_id AND s.seq = m.hi;"
	  /* a bucket's last is its newest sample by time, as live */
	  "INSERT INTO rollup_5m SELECT host_id, b, count(*), min(aio_nr_min), max(aio_nr_max),"
	  "  sum(aio_nr), max(iif(rn = 1, aio_nr, NULL)), max(time_ms),"
	  "  max(iif(rn = 1, aio_max_nr, NULL)) FROM (SELECT *, time_ms / 300000 * 300000 AS b,"
	  "  row_number() OVER (PARTITION BY host_id, time_ms / 300000"
	  "  ORDER BY time_ms DESC, seq DESC) AS rn FROM samples) GROUP BY host_id, b;"
	  "INSERT INTO rollup_1h SELECT host_id, b, count(*), min(aio_nr_min), max(aio_nr_max),"
	  "  sum(aio_nr), max(iif(rn = 1, aio_nr, NULL)), max(time_ms),"
	  "  max(iif(rn = 1, aio_max_nr, NULL)) FROM (SELECT *, time_ms / 3600000 * 3600000 AS b,"
	  "  row_number() OVER (PARTITION BY host_id, time_ms / 3600000"
	  "  ORDER BY time_ms DESC, seq DESC) AS rn FROM samples) GROUP BY host_id, b;" },
	/* raw samples packed in blocks (rawblock.h), at most one per host and
	 * hour; the open block lives in series. Rows already in samples stay
	 * there and are read first, until retention removes them. */
	{ 8, "CREATE TABLE raw ("
	     "  host_id INTEGER NOT NULL, first_seq INTEGER NOT NULL, first_ms INTEGER NOT NULL,"
	     "  last_ms INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,"
	     "  PRIMARY KEY (host_id, first_seq)) WITHOUT ROWID;"
	     "ALTER TABLE series ADD COLUMN raw_seq INTEGER NOT NULL DEFAULT 0;"
	     "ALTER TABLE series ADD COLUMN raw_first_seq INTEGER NOT NULL DEFAULT 0;"
	     "ALTER TABLE series ADD COLUMN raw_first_ms INTEGER NOT NULL DEFAULT 0;"
	     "ALTER TABLE series ADD COLUMN raw_n INTEGER NOT NULL DEFAULT 0;"
	     "ALTER TABLE series ADD COLUMN raw_open BLOB;" },
	/* each bucket's peak utilisation, from every report with the limit it
	 * was taken under (parts per million), so a bucket that spans a limit
	 * change keeps its real peak; older buckets get max / lim */
	{ 10, "ALTER TABLE rollup_5m ADD COLUMN umax INTEGER NOT NULL DEFAULT 0;"
	      "ALTER TABLE rollup_1h ADD COLUMN umax INTEGER NOT NULL DEFAULT 0;"
	      "UPDATE rollup_5m SET umax = iif(lim > 0, max * 1000000 / lim, 0);"
	      "UPDATE rollup_1h SET umax = iif(lim > 0, max * 1000000 / lim, 0);"
	      "ALTER TABLE series ADD COLUMN m5_umax INTEGER NOT NULL DEFAULT 0;"
	      "ALTER TABLE series ADD COLUMN h1_umax INTEGER NOT NULL DEFAULT 0;"
	      "UPDATE series SET m5_umax = iif(aio_max_nr > 0, m5_max * 1000000 / aio_max_nr, 0),"
	      "  h1_umax = iif(aio_max_nr > 0, h1_max * 1000000 / aio_max_nr, 0);"
	      "DROP VIEW rollup_5m_all;"
	      "DROP VIEW rollup_1h_all;"
	      "CREATE VIEW rollup_5m_all AS"
	      "  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim, umax FROM "
	      "rollup_5m"
	      "  UNION ALL SELECT host_id, m5_start, m5_count, m5_min, m5_max, m5_sum, aio_nr,"
	      "  time_ms, aio_max_nr, m5_umax FROM series WHERE m5_count > 0;"
	      "CREATE VIEW rollup_1h_all AS"
	      "  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim, umax FROM "
	      "rollup_1h"
	      "  UNION ALL SELECT host_id, h1_start, h1_count, h1_min, h1_max, h1_sum, aio_nr,"
	      "  time_ms, aio_max_nr, h1_umax FROM series WHERE h1_count > 0;" },
	/* the daily tier: a host's closed hours of one UTC day packed in one
	 * row (server_raw_hour_encode each, appended as they close, in any
	 * order), so a 30-day capacity report reads 30 rows a host, not 720 */
	{ 14, "CREATE TABLE rollup_1d ("
	      "  host_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, hours BLOB NOT NULL,"
	      "  PRIMARY KEY (host_id, start_ms)) WITHOUT ROWID;"
	      "INSERT INTO rollup_1d SELECT host_id, start_ms / 86400000 * 86400000,"
	      "  aio_day_hours(start_ms % 86400000 / 3600000, max, umax)"
	      "  FROM rollup_1h GROUP BY 1, 2;" },
	{ 0, NULL },
};

/* PostgreSQL: the schema SQLite had at version 14, in its types */
const struct server_db_migration server_history_pg_migrations[] = {
	/* blob: SQLite's name for bytes, so CAST(... AS BLOB) reads the same
	 * on both */
	{ 14, "CREATE DOMAIN blob AS bytea;"
	      "CREATE TABLE samples ("
	      "  host_id bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	      "  seq bigint NOT NULL, time_ms bigint NOT NULL,"
	      "  aio_nr bigint NOT NULL, aio_nr_min bigint NOT NULL,"
	      "  aio_nr_max bigint NOT NULL, aio_max_nr bigint NOT NULL,"
	      "  PRIMARY KEY (host_id, seq));"
	      "CREATE TABLE series ("
	      "  host_id bigint PRIMARY KEY,"
	      "  seq_first bigint NOT NULL, seq_last bigint NOT NULL, reports bigint NOT NULL,"
	      "  time_ms bigint NOT NULL, aio_nr bigint NOT NULL, aio_nr_min bigint NOT NULL,"
	      "  aio_nr_max bigint NOT NULL, aio_max_nr bigint NOT NULL, raw_ms bigint NOT NULL,"
	      "  m5_start bigint NOT NULL, m5_count bigint NOT NULL, m5_min bigint NOT NULL,"
	      "  m5_max bigint NOT NULL, m5_sum bigint NOT NULL,"
	      "  h1_start bigint NOT NULL, h1_count bigint NOT NULL, h1_min bigint NOT NULL,"
	      "  h1_max bigint NOT NULL, h1_sum bigint NOT NULL,"
	      "  raw_seq bigint NOT NULL DEFAULT 0, raw_first_seq bigint NOT NULL DEFAULT 0,"
	      "  raw_first_ms bigint NOT NULL DEFAULT 0, raw_n bigint NOT NULL DEFAULT 0,"
	      "  raw_open bytea,"
	      "  m5_umax bigint NOT NULL DEFAULT 0, h1_umax bigint NOT NULL DEFAULT 0);"
	      "CREATE TABLE rollup_5m ("
	      "  host_id bigint NOT NULL, start_ms bigint NOT NULL, count bigint NOT NULL,"
	      "  min bigint NOT NULL, max bigint NOT NULL, sum bigint NOT NULL,"
	      "  last bigint NOT NULL, last_ms bigint NOT NULL, lim bigint NOT NULL,"
	      "  umax bigint NOT NULL DEFAULT 0,"
	      "  PRIMARY KEY (host_id, start_ms));"
	      "CREATE TABLE rollup_1h ("
	      "  host_id bigint NOT NULL, start_ms bigint NOT NULL, count bigint NOT NULL,"
	      "  min bigint NOT NULL, max bigint NOT NULL, sum bigint NOT NULL,"
	      "  last bigint NOT NULL, last_ms bigint NOT NULL, lim bigint NOT NULL,"
	      "  umax bigint NOT NULL DEFAULT 0,"
	      "  PRIMARY KEY (host_id, start_ms));"
	      "CREATE VIEW rollup_5m_all AS"
	      "  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim, umax"
	      "  FROM rollup_5m UNION ALL SELECT host_id, m5_start, m5_count, m5_min, m5_max,"
	      "  m5_sum, aio_nr, time_ms, aio_max_nr, m5_umax FROM series WHERE m5_count > 0;"
	      "CREATE VIEW rollup_1h_all AS"
	      "  SELECT host_id, start_ms, count, min, max, sum, last, last_ms, lim, umax"
	      "  FROM rollup_1h UNION ALL SELECT host_id, h1_start, h1_count, h1_min, h1_max,"
	      "  h1_sum, aio_nr, time_ms, aio_max_nr, h1_umax FROM series WHERE h1_count > 0;"
	      "CREATE TABLE vm_usage ("
	      "  host_id bigint NOT NULL, name text NOT NULL, time_ms bigint NOT NULL,"
	      "  contexts bigint NOT NULL, events bigint,"
	      "  PRIMARY KEY (host_id, name, time_ms));"
	      "CREATE TABLE raw ("
	      "  host_id bigint NOT NULL, first_seq bigint NOT NULL, first_ms bigint NOT NULL,"
	      "  last_ms bigint NOT NULL, n bigint NOT NULL, data bytea NOT NULL,"
	      "  PRIMARY KEY (host_id, first_seq));"
	      "CREATE TABLE rollup_1d ("
	      "  host_id bigint NOT NULL, start_ms bigint NOT NULL, hours bytea NOT NULL,"
	      "  PRIMARY KEY (host_id, start_ms));" },
	{ 0, NULL },
};

/* aio_day_hours(hour, peak, umax): an aggregate packing a day's hours as
 * the daily tier keeps them (schema 14 builds the tier with it). */
struct day_hours {
	uint8_t *buf;
	size_t len, cap;
};

static void day_hours_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct day_hours *acc = sqlite3_aggregate_context(ctx, sizeof(*acc));
	uint8_t rec[SERVER_RAW_HOUR_MAX];
	size_t n;

	(void)argc;
	if (!acc) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	n = server_raw_hour_encode((unsigned)sqlite3_value_int64(argv[0]) % 24,
	                           (uint64_t)sqlite3_value_int64(argv[1]),
	                           (uint64_t)sqlite3_value_int64(argv[2]), rec);
	if (acc->len + n > acc->cap) {
		size_t cap = acc->cap ? 2 * acc->cap : 256;
		uint8_t *buf = realloc(acc->buf, cap);

		if (!buf) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		acc->buf = buf;
		acc->cap = cap;
	}
	memcpy(acc->buf + acc->len, rec, n);
	acc->len += n;
}

static void day_hours_final(sqlite3_context *ctx)
{
	struct day_hours *acc = sqlite3_aggregate_context(ctx, 0);

	if (!acc || !acc->buf) {
		sqlite3_result_zeroblob(ctx, 0);
		return;
	}
	sqlite3_result_blob(ctx, acc->buf, (int)acc->len, free);
}

static int history_functions(sqlite3 *conn, char **err, const struct sqlite3_api_routines *api)
{
	(void)err;
	(void)api;
	return sqlite3_create_function(conn, "aio_day_hours", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
	                               NULL, NULL, day_hours_step, day_hours_final);
}

static void register_functions(void)
{
	sqlite3_auto_extension((void (*)(void))history_functions);
}

void server_history_sql_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_functions);
}

/* --------------------------------------------------------------- writes */

/* a raw block holds at most this span of a host's samples */
#define RAW_BLOCK_SPAN_MS ((int64_t)AIO_HOUR_MS)

/* The tiers above raw that a report is rolled into. */
#define ROLLUP_TIERS 2

struct series_bucket {
	int64_t start, count, min, max, sum;
	int64_t umax; /* peak utilisation, ppm */
};

/* A host's row in series: acknowledged reports, the latest values, the
 * newest raw sample's time and the open buckets. */
struct series_row {
	bool found;
	int64_t seq_first, seq_last, reports;
	int64_t time_ms, aio_nr, aio_nr_min, aio_nr_max, aio_max_nr;
	int64_t raw_ms;
	struct series_bucket open[ROLLUP_TIERS];
	/* the newest raw record's seq (raw_ms its time); the open block */
	int64_t raw_seq, raw_first_seq, raw_first_ms, raw_n;
	uint8_t raw_open[SERVER_RAW_BLOCK_MAX];
	size_t raw_len;
};

/* A closed bucket; it merges with one stored already (a report whose time
 * went back, or a rollup made from an older schema's samples). */
#define ROLLUP_CLOSE(t)                                                                         \
	"INSERT INTO " t " (host_id, start_ms, count, min, max, sum, last, last_ms, lim, umax)" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"                                     \
	" ON CONFLICT (host_id, start_ms) DO UPDATE SET count = " t ".count + excluded.count,"  \
	" umax = greatest(" t ".umax, excluded.umax),"                                          \
	" min = least(" t ".min, excluded.min), max = greatest(" t ".max, excluded.max),"       \
	" sum = " t ".sum + excluded.sum,"                                                      \
	" last = CASE WHEN excluded.last_ms >= " t ".last_ms THEN excluded.last"                \
	" ELSE " t ".last END,"                                                                 \
	" lim = CASE WHEN excluded.last_ms >= " t ".last_ms THEN excluded.lim"                  \
	" ELSE " t ".lim END,"                                                                  \
	" last_ms = greatest(" t ".last_ms, excluded.last_ms)"

static const char rollup_5m_sql[] = ROLLUP_CLOSE("rollup_5m");
static const char rollup_1h_sql[] = ROLLUP_CLOSE("rollup_1h");
static const char rollup_1d_sql[] =
        "INSERT INTO rollup_1d (host_id, start_ms, hours) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (host_id, start_ms) DO UPDATE"
        " SET hours = CAST(rollup_1d.hours || excluded.hours AS BLOB)";
static const char raw_insert_sql[] =
        "INSERT INTO raw (host_id, first_seq, first_ms, last_ms, n, data)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (host_id, first_seq) DO UPDATE"
        " SET first_ms = excluded.first_ms, last_ms = excluded.last_ms, n = excluded.n,"
        " data = excluded.data";
#define SERIES_GET                                                             \
	"SELECT seq_first, seq_last, reports, time_ms, aio_nr, aio_nr_min,"    \
	" aio_nr_max, aio_max_nr, raw_ms, m5_start, m5_count, m5_min, m5_max," \
	" m5_sum, h1_start, h1_count, h1_min, h1_max, h1_sum, raw_seq,"        \
	" raw_first_seq, raw_first_ms, raw_n, raw_open, m5_umax, h1_umax"      \
	" FROM series WHERE host_id = ?1"
static const char series_get_sql[] = SERIES_GET;
/* PostgreSQL, where several servers write: the row stays this
 * transaction's until it commits, so a host's reports taken by two servers
 * (an agent moving over) count once each, in turn */
static const char series_lock_sql[] = SERIES_GET " FOR UPDATE";
static const char series_put_sql[] =
        "INSERT INTO series (host_id, seq_first, seq_last, reports, time_ms, aio_nr, "
        "aio_nr_min, aio_nr_max, aio_max_nr, raw_ms, m5_start, m5_count, m5_min, m5_max, "
        "m5_sum, h1_start, h1_count, h1_min, h1_max, h1_sum, raw_seq, raw_first_seq, "
        "raw_first_ms, raw_n, raw_open, m5_umax, h1_umax) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, "
        "?23, ?24, ?25, ?26, ?27) ON CONFLICT (host_id) DO UPDATE SET seq_first = "
        "excluded.seq_first, seq_last = excluded.seq_last, reports = excluded.reports, "
        "time_ms = excluded.time_ms, aio_nr = excluded.aio_nr, aio_nr_min = "
        "excluded.aio_nr_min, aio_nr_max = excluded.aio_nr_max, aio_max_nr = "
        "excluded.aio_max_nr, raw_ms = excluded.raw_ms, m5_start = excluded.m5_start, "
        "m5_count = excluded.m5_count, m5_min = excluded.m5_min, m5_max = "
        "excluded.m5_max, m5_sum = excluded.m5_sum, h1_start = excluded.h1_start, "
        "h1_count = excluded.h1_count, h1_min = excluded.h1_min, h1_max = "
        "excluded.h1_max, h1_sum = excluded.h1_sum, raw_seq = excluded.raw_seq, "
        "raw_first_seq = excluded.raw_first_seq, raw_first_ms = excluded.raw_first_ms, "
        "raw_n = excluded.raw_n, raw_open = excluded.raw_open, m5_umax = "
        "excluded.m5_umax, h1_umax = excluded.h1_umax";
static const char vm_last_sql[] =
        "SELECT contexts, events FROM vm_usage WHERE host_id = ?1 AND name = ?2"
        " ORDER BY time_ms DESC LIMIT 1";
static const char vm_insert_sql[] =
        "INSERT INTO vm_usage (host_id, name, time_ms, contexts, events)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";

static const int64_t tier_ms[ROLLUP_TIERS] = { 5 * 60 * 1000, 60 * 60 * 1000 };

/* Each host's newest report: its latest values and last seq. */
int server_history_load_latest(struct server_db *db, struct server_hosts *reg)
{
	struct server_sql_stmt *st;
	int rc;

	if (server_sql_prepare(server_db_conn(db),
	                       "SELECT host_id, seq_last, time_ms, aio_nr, aio_nr_min, aio_nr_max,"
	                       " aio_max_nr FROM series",
	                       false, &st) != SQLITE_OK)
		return -EIO;
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_host *h = server_hosts_find_id(reg, server_sql_column_int64(st, 0));
		uint64_t t = (uint64_t)server_sql_column_int64(st, 2);

		if (!h)
			continue;
		h->last_seq = (uint64_t)server_sql_column_int64(st, 1);
		h->has_sample = true;
		h->sample.time_ms = t;
		h->sample.aio_nr = (uint64_t)server_sql_column_int64(st, 3);
		h->sample.aio_nr_min = (uint64_t)server_sql_column_int64(st, 4);
		h->sample.aio_nr_max = (uint64_t)server_sql_column_int64(st, 5);
		h->sample.aio_max_nr = (uint64_t)server_sql_column_int64(st, 6);
		if (t > h->last_seen_ms)
			h->last_seen_ms = t;
	}
	server_sql_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* A VM's usage is stored when it differs from the last row stored for it:
 * VMs keep their AIO contexts for their lifetime. */
int server_history_apply_users(struct server_db *db, const struct server_db_write *w)
{
	const Aioctl__V1__ReportRequest *r = w->report;
	int rc;

	for (size_t i = 0; i < r->n_users; i++) {
		const Aioctl__V1__AioUser *u = r->users[i];
		struct server_sql_stmt *st = server_db_stmt(db, vm_last_sql);
		bool same = false;

		server_sql_bind_int64(st, 1, w->host_id);
		server_sql_bind_text(st, 2, u->name);
		if (server_sql_step(st) == SQLITE_ROW)
			same = (uint32_t)server_sql_column_int64(st, 0) == u->contexts &&
			       (server_sql_column_type(st, 1) == SQLITE_NULL) == !u->has_events &&
			       (uint64_t)server_sql_column_int64(st, 1) == u->events;
		server_sql_reset(st);
		server_sql_clear_bindings(st);
		if (same)
			continue;
		st = server_db_stmt(db, vm_insert_sql);
		server_sql_bind_int64(st, 1, w->host_id);
		server_sql_bind_text(st, 2, u->name);
		server_sql_bind_int64(st, 3, (int64_t)w->sample.time_ms);
		server_sql_bind_int64(st, 4, u->contexts);
		if (u->has_events)
			server_sql_bind_int64(st, 5, (int64_t)u->events);
		if ((rc = server_db_step(st)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static void bucket_add(struct series_bucket *b, int64_t start, const Aioctl__V1__Sample *s)
{
	if (!b->count) {
		b->start = start;
		b->min = (int64_t)s->aio_nr_min;
		b->max = (int64_t)s->aio_nr_max;
	}
	b->count++;
	b->min = (int64_t)s->aio_nr_min < b->min ? (int64_t)s->aio_nr_min : b->min;
	b->max = (int64_t)s->aio_nr_max > b->max ? (int64_t)s->aio_nr_max : b->max;
	b->sum += (int64_t)s->aio_nr;
	if (server_history_util_ppm(s->aio_nr_max, s->aio_max_nr) > b->umax)
		b->umax = server_history_util_ppm(s->aio_nr_max, s->aio_max_nr);
}

/* Closes an open bucket into its rollup table; its last report is the
 * host's latest (every report goes into every open bucket). */
static int bucket_close(struct server_db *db, int tier, int64_t host_id,
                        const struct series_row *sr)
{
	const struct series_bucket *b = &sr->open[tier];
	struct server_sql_stmt *st = server_db_stmt(db, tier ? rollup_1h_sql : rollup_5m_sql);
	uint8_t hour[SERVER_RAW_HOUR_MAX];
	size_t len;
	int rc;

	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, b->start);
	server_sql_bind_int64(st, 3, b->count);
	server_sql_bind_int64(st, 4, b->min);
	server_sql_bind_int64(st, 5, b->max);
	server_sql_bind_int64(st, 6, b->sum);
	server_sql_bind_int64(st, 7, sr->aio_nr);
	server_sql_bind_int64(st, 8, sr->time_ms);
	server_sql_bind_int64(st, 9, sr->aio_max_nr);
	server_sql_bind_int64(st, 10, b->umax);
	if ((rc = server_db_step(st)) != SQLITE_OK || !tier)
		return rc;
	/* and the hour into its day */
	len = server_raw_hour_encode(
	        (unsigned)(b->start % (int64_t)AIO_DAY_MS / (int64_t)AIO_HOUR_MS), (uint64_t)b->max,
	        (uint64_t)b->umax, hour);
	st = server_db_stmt(db, rollup_1d_sql);
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, b->start - b->start % (int64_t)AIO_DAY_MS);
	server_sql_bind_blob(st, 3, hour, (int)len);
	return server_db_step(st);
}

static int series_get(struct server_db *db, int64_t host_id, struct series_row *sr)
{
	struct server_sql_stmt *st = server_db_stmt(
	        db, server_sql_kind(server_db_conn(db)) == SERVER_SQL_POSTGRESQL ? series_lock_sql
	                                                                         : series_get_sql);
	int rc;

	memset(sr, 0, sizeof(*sr));
	server_sql_bind_int64(st, 1, host_id);
	rc = server_sql_step(st);
	if (rc == SQLITE_ROW) {
		int64_t *f[] = { &sr->seq_first,     &sr->seq_last,      &sr->reports,
			         &sr->time_ms,       &sr->aio_nr,        &sr->aio_nr_min,
			         &sr->aio_nr_max,    &sr->aio_max_nr,    &sr->raw_ms,
			         &sr->open[0].start, &sr->open[0].count, &sr->open[0].min,
			         &sr->open[0].max,   &sr->open[0].sum,   &sr->open[1].start,
			         &sr->open[1].count, &sr->open[1].min,   &sr->open[1].max,
			         &sr->open[1].sum };

		int64_t *g[] = { &sr->raw_seq, &sr->raw_first_seq, &sr->raw_first_ms, &sr->raw_n };
		int nf = (int)(sizeof(f) / sizeof(f[0])), bytes;

		for (int i = 0; i < nf; i++)
			*f[i] = server_sql_column_int64(st, i);
		for (int i = 0; i < 4; i++)
			*g[i] = server_sql_column_int64(st, nf + i);
		sr->open[0].umax = server_sql_column_int64(st, nf + 5);
		sr->open[1].umax = server_sql_column_int64(st, nf + 6);
		bytes = server_sql_column_bytes(st, nf + 4);
		if (bytes > 0 && bytes <= SERVER_RAW_BLOCK_MAX) {
			memcpy(sr->raw_open, server_sql_column_blob(st, nf + 4), (size_t)bytes);
			sr->raw_len = (size_t)bytes;
		} else {
			sr->raw_n = 0; /* none, or not ours: start a new block */
		}
		sr->found = true;
	}
	server_sql_reset(st);
	server_sql_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int series_put(struct server_db *db, int64_t host_id, const struct series_row *sr)
{
	struct server_sql_stmt *st = server_db_stmt(db, series_put_sql);
	const int64_t v[] = { host_id,           sr->seq_first,     sr->seq_last,
		              sr->reports,       sr->time_ms,       sr->aio_nr,
		              sr->aio_nr_min,    sr->aio_nr_max,    sr->aio_max_nr,
		              sr->raw_ms,        sr->open[0].start, sr->open[0].count,
		              sr->open[0].min,   sr->open[0].max,   sr->open[0].sum,
		              sr->open[1].start, sr->open[1].count, sr->open[1].min,
		              sr->open[1].max,   sr->open[1].sum };

	int n = (int)(sizeof(v) / sizeof(v[0]));

	for (int i = 0; i < n; i++)
		server_sql_bind_int64(st, i + 1, v[i]);
	server_sql_bind_int64(st, n + 1, sr->raw_seq);
	server_sql_bind_int64(st, n + 2, sr->raw_first_seq);
	server_sql_bind_int64(st, n + 3, sr->raw_first_ms);
	server_sql_bind_int64(st, n + 4, sr->raw_n);
	if (sr->raw_len)
		server_sql_bind_blob(st, n + 5, sr->raw_open, (int)sr->raw_len);
	else
		server_sql_bind_null(st, n + 5);
	server_sql_bind_int64(st, n + 6, sr->open[0].umax);
	server_sql_bind_int64(st, n + 7, sr->open[1].umax);
	return server_db_step(st);
}

/* The open block into raw, and a new one begins. */
static int raw_flush(struct server_db *db, int64_t host_id, struct series_row *sr)
{
	struct server_sql_stmt *st = server_db_stmt(db, raw_insert_sql);
	int rc;

	if (!sr->raw_n)
		return SQLITE_OK;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, sr->raw_first_seq);
	server_sql_bind_int64(st, 3, sr->raw_first_ms);
	server_sql_bind_int64(st, 4, sr->raw_ms);
	server_sql_bind_int64(st, 5, sr->raw_n);
	server_sql_bind_blob(st, 6, sr->raw_open, (int)sr->raw_len);
	if ((rc = server_db_step(st)) != SQLITE_OK)
		return rc;
	sr->raw_n = 0;
	sr->raw_len = 0;
	return SQLITE_OK;
}

/* Appends a raw record to the open block: one block per host and hour,
 * and no larger than SERVER_RAW_BLOCK_MAX. The previous record is the
 * last report (equal reports are not kept, so its values are the last
 * record's), at raw_seq and raw_ms. */
static int raw_append(struct server_db *db, int64_t host_id, struct series_row *sr,
                      const struct server_raw *r)
{
	struct server_raw prev = { (uint64_t)sr->raw_seq,    (uint64_t)sr->raw_ms,
		                   (uint64_t)sr->aio_nr,     (uint64_t)sr->aio_nr_min,
		                   (uint64_t)sr->aio_nr_max, (uint64_t)sr->aio_max_nr };
	uint8_t rec[SERVER_RAW_RECORD_MAX];
	size_t len;
	int rc;

	if (sr->raw_n &&
	    ((int64_t)r->time_ms / RAW_BLOCK_SPAN_MS != sr->raw_first_ms / RAW_BLOCK_SPAN_MS ||
	     sr->raw_len + SERVER_RAW_RECORD_MAX > SERVER_RAW_BLOCK_MAX) &&
	    (rc = raw_flush(db, host_id, sr)) != SQLITE_OK)
		return rc;
	if (!sr->raw_n) {
		memset(&prev, 0, sizeof(prev));
		sr->raw_first_seq = (int64_t)r->seq;
		sr->raw_first_ms = (int64_t)r->time_ms;
	}
	len = server_raw_encode(&prev, r, rec);
	memcpy(sr->raw_open + sr->raw_len, rec, len);
	sr->raw_len += len;
	sr->raw_n++;
	sr->raw_seq = (int64_t)r->seq;
	sr->raw_ms = (int64_t)r->time_ms;
	return SQLITE_OK;
}

/* A run of one host's reports in a transaction (a ReportBatch) reads its
 * series row once and writes it once: the row stays in hand from one
 * write to the next while they are the same host's and in the same
 * transaction. Kept with the database, for its thread. */
struct series_run {
	uint64_t txn;
	const struct server_db_write *next; /* the write the row is kept for */
	struct series_row sr;
};

static struct series_run *series_run(struct server_db *db)
{
	void **run = server_db_history_scratch(db);

	if (!*run)
		*run = calloc(1, sizeof(struct series_run));
	return *run;
}

/* A duplicate in a run: the row in hand goes on to the next write, or is
 * written now. */
static int finish_run(struct server_db *db, struct server_db_write *w, struct series_run *run)
{
	if (w->next && w->next->type == SERVER_DB_WRITE_SAMPLE && w->next->host_id == w->host_id) {
		run->next = w->next;
		return SQLITE_OK;
	}
	run->next = NULL;
	return series_put(db, w->host_id, &run->sr);
}

/* One acknowledged report into the history: a seq at or below the host's
 * last is a replay. The raw tier keeps a report only when its values
 * differ from the last one's, or a keep-alive is due; every report goes
 * into the open 5-minute and hourly buckets, and a report in a later
 * bucket closes the open one first. */
int server_history_apply(struct server_db *db, struct server_db_write *w)
{
	const Aioctl__V1__Sample *s = &w->sample;
	int64_t t = (int64_t)s->time_ms;
	struct series_run *run = series_run(db);
	struct series_row *srp;
	bool raw;
	int rc;

	if (!run)
		return SQLITE_NOMEM;
	srp = &run->sr;
	if (run->txn != server_db_txn(db) || run->next != w) {
		run->next = NULL;
		if ((rc = series_get(db, w->host_id, srp)) != SQLITE_OK)
			return rc;
		run->txn = server_db_txn(db);
	}
#define sr (*srp)
	/* seqs are at most AIO_SEQ_MAX (checked with the report): stored as
	 * SQLite's signed integers, compared unsigned */
	if (sr.found && w->seq <= (uint64_t)sr.seq_last) {
		w->duplicate = true;
		return run->next ? finish_run(db, w, run) : SQLITE_OK;
	}
	raw = !sr.found || !sr.raw_n || (int64_t)s->aio_nr != sr.aio_nr ||
	      (int64_t)s->aio_nr_min != sr.aio_nr_min || (int64_t)s->aio_nr_max != sr.aio_nr_max ||
	      (int64_t)s->aio_max_nr != sr.aio_max_nr || t < sr.raw_ms ||
	      t - sr.raw_ms >= (int64_t)server_db_keepalive(db);
	for (int k = 0; k < ROLLUP_TIERS; k++) {
		int64_t start = t / tier_ms[k] * tier_ms[k];

		if (sr.open[k].count && sr.open[k].start != start) {
			if ((rc = bucket_close(db, k, w->host_id, &sr)) != SQLITE_OK)
				return rc;
			memset(&sr.open[k], 0, sizeof(sr.open[k]));
		}
		bucket_add(&sr.open[k], start, s);
	}
	if (raw) {
		struct server_raw r = { w->seq,        s->time_ms,    s->aio_nr,
			                s->aio_nr_min, s->aio_nr_max, s->aio_max_nr };

		/* before the latest values move on: they are the previous record */
		if ((rc = raw_append(db, w->host_id, &sr, &r)) != SQLITE_OK)
			return rc;
	}
	if (!sr.found)
		sr.seq_first = (int64_t)w->seq;
	sr.found = true; /* for the next report of a run */
	sr.seq_last = (int64_t)w->seq;
	sr.reports++;
	sr.time_ms = t;
	sr.aio_nr = (int64_t)s->aio_nr;
	sr.aio_nr_min = (int64_t)s->aio_nr_min;
	sr.aio_nr_max = (int64_t)s->aio_nr_max;
	sr.aio_max_nr = (int64_t)s->aio_max_nr;
#undef sr
	/* the host's next report comes next: the row stays in hand for it */
	run->next = NULL;
	if (w->next && w->next->type == SERVER_DB_WRITE_SAMPLE && w->next->host_id == w->host_id) {
		run->next = w->next;
		return SQLITE_OK;
	}
	return series_put(db, w->host_id, srp);
}

/* ------------------------------------------------------------ retention */

/* Per host ?1, cutoff ?2, at most ?3 rows; seq order is time order, so the
 * oldest are the host's first rows. */
const char server_history_prune_raw_sql[] =
        "DELETE FROM samples WHERE host_id = ?1 AND time_ms < ?2 AND seq IN"
        " (SELECT seq FROM samples WHERE host_id = ?1 ORDER BY seq LIMIT ?3)";
/* blocks are in seq order too; the newest one ending before the cutoff
 * stays: its last record stands for the equal reports after it */
const char server_history_prune_blocks_sql[] =
        "DELETE FROM raw WHERE host_id = ?1 AND last_ms < ?2 AND first_seq IN"
        " (SELECT first_seq FROM raw WHERE host_id = ?1 ORDER BY first_seq LIMIT ?3)"
        " AND first_seq < (SELECT max(first_seq) FROM raw WHERE host_id = ?1"
        " AND last_ms < ?2)";
const char server_history_prune_5m_sql[] =
        "DELETE FROM rollup_5m WHERE host_id = ?1 AND start_ms IN (SELECT start_ms"
        " FROM rollup_5m WHERE host_id = ?1 AND start_ms < ?2 ORDER BY start_ms LIMIT ?3)";
const char server_history_prune_1h_sql[] =
        "DELETE FROM rollup_1h WHERE host_id = ?1 AND start_ms IN (SELECT start_ms"
        " FROM rollup_1h WHERE host_id = ?1 AND start_ms < ?2 ORDER BY start_ms LIMIT ?3)";
/* a day's row once the whole day is older than the cutoff */
const char server_history_prune_1d_sql[] =
        "DELETE FROM rollup_1d WHERE host_id = ?1 AND start_ms IN (SELECT start_ms"
        " FROM rollup_1d WHERE host_id = ?1 AND start_ms + 86400000 <= ?2"
        " ORDER BY start_ms LIMIT ?3)";
const char server_history_prune_vm_sql[] =
        "DELETE FROM vm_usage WHERE (host_id, name, time_ms) IN (SELECT host_id,"
        " name, time_ms FROM vm_usage WHERE host_id = ?1 AND time_ms < ?2 LIMIT ?3)";
const char *const server_history_forget_sql[] = {
	"DELETE FROM samples WHERE host_id = ?1",   "DELETE FROM raw WHERE host_id = ?1",
	"DELETE FROM series WHERE host_id = ?1",    "DELETE FROM rollup_5m WHERE host_id = ?1",
	"DELETE FROM rollup_1h WHERE host_id = ?1", "DELETE FROM rollup_1d WHERE host_id = ?1",
	"DELETE FROM vm_usage WHERE host_id = ?1",  NULL,
};
/* hosts with history after ?1, at most ?2 */
const char server_history_hosts_sql[] =
        "SELECT host_id FROM series WHERE host_id > ?1 ORDER BY host_id LIMIT ?2";

/* ---------------------------------------------------------- other reads */

int server_history_vm_read(struct server_reader *rd, int64_t host_id, const char *vm,
                           uint64_t since_ms, uint64_t until_ms, struct server_history_vm *out,
                           size_t max, size_t *ret_n)
{
	static const char sql[] =
	        "SELECT time_ms, contexts, events FROM vm_usage"
	        " WHERE host_id = ?1 AND name = ?2 AND time_ms >= coalesce((SELECT"
	        " max(time_ms) FROM vm_usage WHERE host_id = ?1 AND name = ?2"
	        " AND time_ms < ?3), ?3) AND time_ms < ?4 ORDER BY time_ms LIMIT ?5";
	struct server_sql_stmt *st = server_reader_stmt(rd, sql);
	size_t n = 0;
	int rc;

	if (!st)
		return -EIO;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_text(st, 2, vm);
	server_sql_bind_int64(st, 3, (int64_t)since_ms);
	server_sql_bind_int64(st, 4, (int64_t)until_ms);
	server_sql_bind_int64(st, 5, (int64_t)max);
	while (n < max && (rc = server_sql_step(st)) == SQLITE_ROW) {
		out[n].time_ms = (uint64_t)server_sql_column_int64(st, 0);
		out[n].contexts = (uint32_t)server_sql_column_int64(st, 1);
		out[n].has_events = server_sql_column_type(st, 2) != SQLITE_NULL;
		out[n].events = (uint64_t)server_sql_column_int64(st, 2);
		n++;
	}
	server_sql_reset(st);
	if (n < max && rc != SQLITE_DONE)
		return -EIO;
	*ret_n = n;
	return 0;
}

int server_history_hours(struct server_reader *rd, int64_t host_id, uint64_t since_ms,
                         struct server_history_hour *out, size_t max, size_t *ret_n)
{
	/* the days' rows, then the open hour on its own (hours NULL) */
	static const char sql[] = "SELECT start_ms, hours, 0, 0 FROM rollup_1d"
	                          " WHERE host_id = ?1 AND start_ms >= ?2 - ?2 % 86400000"
	                          " UNION ALL SELECT h1_start, NULL, h1_max, h1_umax FROM series"
	                          " WHERE host_id = ?1 AND h1_count > 0 AND h1_start >= ?2";
	struct server_sql_stmt *st = server_reader_stmt(rd, sql);
	size_t n = 0;
	int rc = SQLITE_DONE;

	if (!st)
		return -EIO;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, (int64_t)since_ms);
	while (n < max && (rc = server_sql_step(st)) == SQLITE_ROW) {
		uint64_t day = (uint64_t)server_sql_column_int64(st, 0);
		const uint8_t *p = server_sql_column_blob(st, 1);
		size_t len = server_sql_column_bytes(st, 1), off = 0;

		if (server_sql_column_type(st, 1) == SQLITE_NULL) {
			out[n].start_ms = day;
			out[n].peak = (uint64_t)server_sql_column_int64(st, 2);
			out[n].umax = server_sql_column_int64(st, 3);
			n++;
			continue;
		}
		while (off < len && n < max) {
			unsigned hour;
			uint64_t peak, umax;

			if (server_raw_hour_decode(p, len, &off, &hour, &peak, &umax) < 0) {
				server_sql_reset(st);
				return -EBADMSG;
			}
			out[n].start_ms = day + hour * AIO_HOUR_MS;
			out[n].peak = peak;
			out[n].umax = (int64_t)umax;
			n += out[n].start_ms >= since_ms;
		}
	}
	server_sql_reset(st);
	if (n < max && rc != SQLITE_DONE)
		return -EIO;
	*ret_n = n;
	return 0;
}

int server_history_steps(struct server_reader *rd, int64_t host_id, uint64_t since_ms,
                         uint64_t step_ms, struct server_history_step *out, size_t max,
                         size_t *ret_n)
{
	static const char sql[] = "SELECT start_ms / ?3, max(max), min(lim) FROM rollup_1h_all"
	                          " WHERE host_id = ?1 AND start_ms >= ?2 GROUP BY 1 ORDER BY 1";
	struct server_sql_stmt *st = server_reader_stmt(rd, sql);
	size_t n = 0;
	int rc = SQLITE_DONE;

	if (!st || !step_ms)
		return -EIO;
	server_sql_bind_int64(st, 1, host_id);
	server_sql_bind_int64(st, 2, (int64_t)since_ms);
	server_sql_bind_int64(st, 3, (int64_t)step_ms);
	while (n < max && (rc = server_sql_step(st)) == SQLITE_ROW) {
		out[n].start_ms = (uint64_t)server_sql_column_int64(st, 0) * step_ms;
		out[n].peak = (uint64_t)server_sql_column_int64(st, 1);
		out[n].limit = (uint64_t)server_sql_column_int64(st, 2);
		n++;
	}
	server_sql_reset(st);
	if (n < max && rc != SQLITE_DONE)
		return -EIO;
	*ret_n = n;
	return 0;
}
