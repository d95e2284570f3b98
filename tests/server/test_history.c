/* The history tiers on a real SQLite file: what the rollups hold equals a
 * direct computation over every report sent, across bucket and tier
 * boundaries, with replays, a silent gap and a clock that went back; the
 * raw tier (stored on change) gives the same steps back; pruning in small
 * batches removes exactly what is older than each tier's retention. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "history.h"
#include "retention.h"
#include "store.h"

#define MIN_MS   60000ULL
#define HOUR_MS  (60 * MIN_MS)
#define DAY_MS   (24 * HOUR_MS)
#define T0       (1767225600000ULL) /* 2026-01-01T00:00:00Z */
#define DAYS     3
#define REPORTS  40000
#define BUCKETS  (DAYS * 24 * 12 + 24)
#define HOSTS    2
#define INTERVAL 10000 /* host 1's agent interval */

static char dir[64], path[128];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int n_done, last_err;

struct report {
	int64_t host;
	uint64_t seq, t, nr, mn, mx, lim;
};

struct bucket {
	uint64_t count, min, max, sum, last, last_ms, lim;
	int64_t umax; /* peak utilisation, ppm, each report against its limit */
};
/* a database migrated from before schema 10 knows only max / lim */
static bool umax_from_last_limit;

static struct report reps[REPORTS];
static size_t n_reps;
/* per host and tier: the direct computation, by bucket from T0 */
static struct bucket direct[HOSTS + 1][2][BUCKETS];
static const uint64_t tier_size[2] = { 5 * MIN_MS, HOUR_MS };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/aioctl-hist-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.db", dir);
	n_done = last_err = 0;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert(system(cmd) == 0);
}

TestSuite(history, .init = setup, .fini = teardown, .timeout = 120);

static void done(struct server_db_write *w, int err)
{
	pthread_mutex_lock(&lock);
	n_done++;
	if (err)
		last_err = err;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	server_db_write_free(w);
}

static void wait_done(int n)
{
	pthread_mutex_lock(&lock);
	while (n_done < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static uint64_t rnd(uint64_t *state, uint64_t n)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (*state >> 33) % n;
}

static void add_report(int64_t host, uint64_t seq, uint64_t t, uint64_t nr, uint64_t mn,
                       uint64_t mx)
{
	cr_assert_lt(n_reps, REPORTS);
	/* host 2's limit doubles on day 2, inside a 5-minute bucket: buckets
	 * across it keep their peak */
	uint64_t lim = host == 2 && t >= T0 + DAY_MS + 12 * HOUR_MS + 2 * MIN_MS ? 131072 : 65536;

	reps[n_reps++] = (struct report){ host, seq, t, nr, mn, mx, lim };
}

/* Host 1: a steady agent every 10 s, aio-nr flat for long runs with an
 * occasional spike inside one interval, two hours of silence on day 2.
 * Host 2: every 37 s give or take 5, aio-nr moving on every report, its
 * clock stepping back two hours once, and a replay. */
static void generate(void)
{
	uint64_t st = 42, seq = 0, nr = 1000;

	n_reps = 0;
	for (uint64_t t = T0 + 7 * MIN_MS + 3000; t < T0 + DAYS * DAY_MS; t += INTERVAL) {
		if (t >= T0 + DAY_MS + 7 * HOUR_MS && t < T0 + DAY_MS + 9 * HOUR_MS)
			continue; /* silent */
		if (rnd(&st, 150) == 0)
			nr = 1000 + rnd(&st, 5000);
		if (rnd(&st, 400) == 0)
			add_report(1, ++seq, t, nr, nr, nr + 1 + rnd(&st, 3000));
		else
			add_report(1, ++seq, t, nr, nr, nr);
	}
	seq = 0;
	for (uint64_t t = T0 + HOUR_MS; t < T0 + DAYS * DAY_MS - HOUR_MS;
	     t += 32000 + rnd(&st, 10000)) {
		uint64_t mn, mx, step = rnd(&st, 200);

		nr = nr + step > 100 ? nr + step - 100 : nr;
		mn = nr - rnd(&st, nr < 50 ? nr + 1 : 50);
		mx = nr + rnd(&st, 50);
		if (seq == 3000) /* the clock goes back, then on from there */
			t -= 2 * HOUR_MS;
		add_report(2, ++seq, t, nr, mn, mx);
	}
}

static void compute_direct(void)
{
	memset(direct, 0, sizeof(direct));
	for (size_t i = 0; i < n_reps; i++) {
		const struct report *r = &reps[i];

		for (int k = 0; k < 2; k++) {
			struct bucket *b = &direct[r->host][k][(r->t - T0) / tier_size[k]];

			if (!b->count) {
				b->min = r->mn;
				b->max = r->mx;
			}
			b->count++;
			b->min = r->mn < b->min ? r->mn : b->min;
			b->max = r->mx > b->max ? r->mx : b->max;
			b->sum += r->nr;
			if (server_history_util_ppm(r->mx, r->lim) > b->umax)
				b->umax = server_history_util_ppm(r->mx, r->lim);
			if (r->t >= b->last_ms) {
				b->last = r->nr;
				b->last_ms = r->t;
				b->lim = r->lim;
			}
		}
	}
}

static void submit(struct server_db *db, struct server_db_write *w)
{
	int r;

	while ((r = server_db_submit(db, w)) == -EAGAIN)
		usleep(1000); /* the queue is full: the writer drains it */
	cr_assert_eq(r, 0);
}

static void submit_report(struct server_db *db, const struct report *r)
{
	struct server_db_write *w = calloc(1, sizeof(*w));

	cr_assert_not_null(w);
	w->type = SERVER_DB_WRITE_SAMPLE;
	w->host_id = r->host;
	w->seq = r->seq;
	w->sample.time_ms = r->t;
	w->sample.aio_nr = r->nr;
	w->sample.aio_nr_min = r->mn;
	w->sample.aio_nr_max = r->mx;
	w->sample.aio_max_nr = r->lim;
	w->done = done;
	submit(db, w);
}

static struct server_db *load(void)
{
	struct server_hosts reg;
	struct server_db *db;
	char err[256];
	int n = 0;

	cr_assert_eq(server_store_open(path, &db, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(server_hosts_init(&reg), 0);
	cr_assert_eq(server_store_load_hosts(db, &reg), 0);
	server_db_set_keepalive(db, 5 * MIN_MS);
	cr_assert_eq(server_db_start(db, 100000, 256, 0), 0);
	for (int h = 1; h <= HOSTS; h++) {
		struct server_host *host;
		struct server_db_write *w = calloc(1, sizeof(*w));
		char name[8];

		snprintf(name, sizeof(name), "hv%d", h);
		if (!(host = server_hosts_find(&reg, name)))
			host = server_hosts_add(&reg, name, h);
		cr_assert_not_null(host);
		host->interval_ms = h == 1 ? INTERVAL : 37000;
		cr_assert_eq(server_db_write_host_fill(w, host), 0);
		w->done = done;
		submit(db, w);
		n++;
	}
	for (size_t i = 0; i < n_reps; i++, n++) {
		submit_report(db, &reps[i]);
		if (reps[i].host == 2 && reps[i].seq == 500) { /* a replay */
			submit_report(db, &reps[i - 10]);
			n++;
		}
	}
	wait_done(n);
	cr_assert_eq(last_err, 0);
	server_hosts_done(&reg);
	return db;
}

/* The stored buckets of a tier, an hour stored twice merged, against the
 * direct computation; from_ms: buckets before it are expected pruned. */
static void check_tier(sqlite3 *c, int64_t host, int k, uint64_t from_ms)
{
	static const char *const sql[2] = {
		"SELECT start_ms, count, min, max, sum, last, last_ms, lim, umax FROM rollup_5m_all"
		" WHERE host_id = ?1 ORDER BY start_ms, last_ms",
		"SELECT start_ms, count, min, max, sum, last, last_ms, lim, umax FROM rollup_1h_all"
		" WHERE host_id = ?1 ORDER BY start_ms, last_ms",
	};
	static struct bucket got[BUCKETS];
	sqlite3_stmt *st;
	size_t compared = 0;

	memset(got, 0, sizeof(got));
	cr_assert_eq(sqlite3_prepare_v2(c, sql[k], -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, host);
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t start = (uint64_t)sqlite3_column_int64(st, 0);
		struct bucket *b;

		cr_assert_eq(start % tier_size[k], 0, "buckets start on their boundary");
		cr_assert_geq(start, from_ms, "bucket %" PRIu64 " pruned", start);
		b = &got[(start - T0) / tier_size[k]];
		if (!b->count) {
			b->min = (uint64_t)sqlite3_column_int64(st, 2);
			b->max = (uint64_t)sqlite3_column_int64(st, 3);
		}
		b->count += (uint64_t)sqlite3_column_int64(st, 1);
		b->min = (uint64_t)sqlite3_column_int64(st, 2) < b->min
		                 ? (uint64_t)sqlite3_column_int64(st, 2)
		                 : b->min;
		b->max = (uint64_t)sqlite3_column_int64(st, 3) > b->max
		                 ? (uint64_t)sqlite3_column_int64(st, 3)
		                 : b->max;
		b->sum += (uint64_t)sqlite3_column_int64(st, 4);
		b->last = (uint64_t)sqlite3_column_int64(st, 5); /* rows by last_ms */
		b->last_ms = (uint64_t)sqlite3_column_int64(st, 6);
		b->lim = (uint64_t)sqlite3_column_int64(st, 7);
		if (sqlite3_column_int64(st, 8) > b->umax)
			b->umax = sqlite3_column_int64(st, 8);
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < BUCKETS; i++) {
		const struct bucket *d = &direct[host][k][i], *g = &got[i];

		if (T0 + i * tier_size[k] < from_ms)
			continue;
		cr_assert_eq(g->count, d->count, "host %" PRId64 " tier %d bucket %zu: count", host,
		             k, i);
		if (!d->count)
			continue;
		cr_assert_eq(g->min, d->min,
		             "host %" PRId64 " tier %d bucket %zu: min %" PRIu64 " want %" PRIu64
		             " count %" PRIu64,
		             host, k, i, g->min, d->min, d->count);
		cr_assert_eq(g->max, d->max, "bucket %zu: max", i);
		cr_assert_eq(g->sum, d->sum, "bucket %zu: sum (mean)", i);
		cr_assert_eq(g->last, d->last, "bucket %zu: last", i);
		cr_assert_eq(g->last_ms, d->last_ms, "bucket %zu: last time", i);
		cr_assert_eq(g->lim, d->lim);
		if (umax_from_last_limit)
			cr_assert_eq(g->umax, server_history_util_ppm(d->max, d->lim));
		else
			cr_assert_eq(g->umax, d->umax,
			             "host %" PRId64
			             " tier %d bucket %zu: peak utilisation %" PRId64
			             " ppm, want %" PRId64,
			             host, k, i, g->umax, d->umax);
		compared++;
	}
	cr_assert_gt(compared, 10);
}

/* history's reader: tier k (or raw) in steps of one bucket of tier k. */
static void check_reader(sqlite3 *c, int64_t host, enum server_tier tier, int k, uint64_t from)
{
	static struct server_history_point pt[BUCKETS];
	uint64_t until = T0 + DAYS * DAY_MS;
	size_t n = 0, j = 0;
	struct server_reader *rd;
	char err[256];

	(void)c;
	cr_assert(rd = server_reader_open(path, err, sizeof(err)), "%s", err);
	cr_assert_eq(server_history_read(rd, host, host == 1 ? INTERVAL : 37000, tier, from, until,
	                                 tier_size[k], pt, BUCKETS, &n),
	             0);
	server_reader_close(rd);
	for (size_t i = (from - T0) / tier_size[k]; i < BUCKETS; i++) {
		const struct bucket *d = &direct[host][k][i];

		if (!d->count)
			continue;
		cr_assert_lt(j, n, "%s: a step is missing", server_tier_name[tier]);
		cr_assert_eq(pt[j].start_ms, T0 + i * tier_size[k]);
		cr_assert_eq(pt[j].count, d->count, "%s: step %zu: count", server_tier_name[tier],
		             i);
		cr_assert_eq(pt[j].min, d->min, "%s: step %zu: min", server_tier_name[tier], i);
		cr_assert_eq(pt[j].max, d->max, "%s: step %zu: max", server_tier_name[tier], i);
		cr_assert_eq((uint64_t)pt[j].sum, d->sum, "%s: step %zu: mean",
		             server_tier_name[tier], i);
		cr_assert_eq(pt[j].last, d->last, "%s: step %zu: last", server_tier_name[tier], i);
		j++;
	}
	cr_assert_eq(j, n, "no step the reports do not have");
}

static int by_hour(const void *a, const void *b)
{
	const struct server_history_hour *x = a, *y = b;

	return (x->start_ms > y->start_ms) - (x->start_ms < y->start_ms);
}

/* the trend's reader: every hour from from, its peak and utilisation, from
 * the daily tier and the open hour */
static void check_hours(int64_t host, uint64_t from)
{
	static struct server_history_hour h[BUCKETS];
	struct server_reader *rd;
	size_t n = 0, j = 0, k = 0;
	char err[256];

	cr_assert(rd = server_reader_open(path, err, sizeof(err)), "%s", err);
	cr_assert_eq(server_history_hours(rd, host, from, h, BUCKETS, &n), 0);
	server_reader_close(rd);
	qsort(h, n, sizeof(*h), by_hour);
	/* an hour written again (a report's time went back) is one hour */
	for (size_t i = 0; i < n; i++) {
		if (k && h[k - 1].start_ms == h[i].start_ms) {
			h[k - 1].peak = h[i].peak > h[k - 1].peak ? h[i].peak : h[k - 1].peak;
			h[k - 1].umax = h[i].umax > h[k - 1].umax ? h[i].umax : h[k - 1].umax;
		} else {
			h[k++] = h[i];
		}
	}
	n = k;
	for (size_t i = (from - T0) / HOUR_MS; i < BUCKETS; i++) {
		const struct bucket *d = &direct[host][1][i];

		if (!d->count)
			continue;
		cr_assert_lt(j, n, "host %" PRId64 ": hour %zu is missing", host, i);
		cr_assert_eq(h[j].start_ms, T0 + i * HOUR_MS, "host %" PRId64 ": hour %zu", host,
		             i);
		cr_assert_eq(h[j].peak, d->max, "host %" PRId64 ": hour %zu: peak", host, i);
		if (umax_from_last_limit)
			cr_assert_eq(h[j].umax, server_history_util_ppm(d->max, d->lim));
		else
			cr_assert_eq(h[j].umax, d->umax, "host %" PRId64 ": hour %zu: utilisation",
			             host, i);
		j++;
	}
	cr_assert_eq(j, n, "host %" PRId64 ": no hour the reports do not have", host);
}

/* raw records kept for host ?1: the closed blocks' and the open one's */
#define RAW_RECORDS                                                       \
	"SELECT (SELECT coalesce(sum(n), 0) FROM raw WHERE host_id = ?1)" \
	" + (SELECT raw_n FROM series WHERE host_id = ?1)"

static int64_t value(sqlite3 *c, const char *sql, int64_t arg)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	cr_assert_eq(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
	sqlite3_bind_int64(st, 1, arg);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

Test(history, rollups_equal_direct_computation_and_survive_pruning)
{
	const uint64_t now = T0 + DAYS * DAY_MS;
	const uint64_t keep[PRUNE_KINDS] = {
		[PRUNE_RAW] = DAY_MS, [PRUNE_BLOCKS] = DAY_MS, [PRUNE_5M] = 2 * DAY_MS
	};
	struct server_prune_stats stats = { 0 };
	struct server_db *db;
	int64_t old_raw, h1_reports, h1_raw;
	sqlite3 *c;

	generate();
	compute_direct();
	db = load();
	cr_assert_eq(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

	/* every report counted once; a flat host costs little raw */
	h1_reports = value(c, "SELECT reports FROM series WHERE host_id = ?1", 1);
	h1_raw = value(c, RAW_RECORDS, 1);
	cr_assert_eq(value(c, "SELECT seq_last FROM series WHERE host_id = ?1", 1), h1_reports);
	cr_assert_lt(h1_raw * 10, h1_reports, "on change: %" PRId64 " raw rows for %" PRId64,
	             h1_raw, h1_reports);
	cr_assert_eq(value(c, RAW_RECORDS, 2),
	             value(c, "SELECT reports FROM series WHERE host_id = ?1", 2),
	             "a host that changes on every report keeps every report raw");
	cr_assert_lt(value(c, "SELECT sum(length(data)) FROM raw WHERE host_id = ?1", 2),
	             value(c, RAW_RECORDS, 2) * 12, "under 12 bytes a record in blocks");
	cr_assert_eq(value(c, "SELECT count(*) FROM samples", 0), 0, "the old table unused");

	for (int64_t h = 1; h <= HOSTS; h++) {
		check_tier(c, h, 0, 0);
		check_tier(c, h, 1, 0);
		check_reader(c, h, SERVER_TIER_5M, 0, T0);
		check_reader(c, h, SERVER_TIER_1H, 1, T0);
		check_hours(h, T0);
		check_hours(h, T0 + DAY_MS + 7 * HOUR_MS); /* from within a day */
	}
	/* the raw tier stands for the equal reports it did not keep */
	check_reader(c, 1, SERVER_TIER_RAW, 0, T0);
	check_reader(c, 1, SERVER_TIER_RAW, 1, T0);
	check_reader(c, 2, SERVER_TIER_RAW, 1, T0 + DAY_MS);

	/* pruning: raw blocks ended more than a day ago, 5-minute buckets
	 * older than two days, in steps of at most 10 rows */
	old_raw = value(c, "SELECT count(*) FROM raw WHERE last_ms < ?1", (int64_t)(now - DAY_MS)) -
	          HOSTS; /* each host keeps the block its range starts in */
	cr_assert_gt(old_raw, 50);
	cr_assert_eq(server_store_prune(db, keep, now, 10, NULL, NULL, &stats), 0);
	cr_expect_eq(stats.deleted[PRUNE_BLOCKS], (uint64_t)old_raw);
	cr_expect_geq(stats.steps, (unsigned)(old_raw / 10), "small steps: %u", stats.steps);
	cr_expect_eq(
	        value(c, "SELECT count(*) FROM raw WHERE last_ms < ?1", (int64_t)(now - DAY_MS)),
	        HOSTS, "one block per host ends before the cutoff");
	cr_expect_eq(stats.deleted[PRUNE_1H], 0, "hourly rollups kept for ever here");
	for (int64_t h = 1; h <= HOSTS; h++) {
		check_tier(c, h, 0, now - 2 * DAY_MS);
		check_tier(c, h, 1, 0);
		check_reader(c, h, SERVER_TIER_1H, 1, T0);
		check_reader(c, h, SERVER_TIER_5M, 0, now - 2 * DAY_MS);
	}
	/* exact from the cutoff on: the block before it was kept */
	check_reader(c, 1, SERVER_TIER_RAW, 0, now - DAY_MS);
	check_reader(c, 2, SERVER_TIER_RAW, 0, now - DAY_MS);
	/* a second pass finds nothing more */
	memset(&stats, 0, sizeof(stats));
	cr_assert_eq(server_store_prune(db, keep, now, 500, NULL, NULL, &stats), 0);
	cr_expect_eq(stats.deleted[PRUNE_BLOCKS] + stats.deleted[PRUNE_5M], 0);

	sqlite3_close(c);
	server_db_close(db);
}

/* After a restart, the open buckets and raw block carry on where they were. */
Test(history, open_buckets_survive_a_restart)
{
	struct server_db *db;
	size_t half;
	sqlite3 *c;

	generate();
	compute_direct();
	half = n_reps / 2;
	{
		size_t all = n_reps;

		n_reps = half;
		db = load();
		server_db_close(db);
		n_reps = all;
	}
	/* the second half after a restart */
	memmove(reps, reps + half, (n_reps - half) * sizeof(reps[0]));
	n_reps -= half;
	n_done = 0;
	db = load();
	cr_assert_eq(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (int64_t h = 1; h <= HOSTS; h++) {
		check_tier(c, h, 0, 0);
		check_tier(c, h, 1, 0);
		check_hours(h, T0);
	}
	/* and so does the open raw block */
	check_reader(c, 1, SERVER_TIER_RAW, 0, T0);
	sqlite3_close(c);
	server_db_close(db);
}

static void sql(sqlite3 *c, const char *s)
{
	char *err = NULL;

	cr_assert_eq(sqlite3_exec(c, s, NULL, NULL, &err), SQLITE_OK, "%s: %s", s, err);
}

/* A database from before the tiers (schema 5: every report a raw sample)
 * is rolled up when a newer server opens it: the rollups equal the direct
 * computation, and each host's acknowledged seqs carry on. */
Test(history, an_older_database_is_rolled_up)
{
	struct server_hosts reg;
	struct server_db *db;
	char err[256];
	sqlite3 *c;
	sqlite3_stmt *st;

	generate();
	compute_direct();
	/* the schema as it is, every report written raw as schema 5 did,
	 * then everything from schema 6 on removed */
	cr_assert_eq(server_store_open(path, &db, err, sizeof(err)), 0, "%s", err);
	server_db_close(db);
	cr_assert_eq(sqlite3_open(path, &c), SQLITE_OK);
	sql(c, "BEGIN");
	sql(c, "INSERT INTO hosts (id, name, interval_ms) VALUES (1, 'hv1', 10000),"
	       " (2, 'hv2', 37000)");
	cr_assert_eq(
	        sqlite3_prepare_v2(c, "INSERT OR IGNORE INTO samples VALUES (?, ?, ?, ?, ?, ?, ?)",
	                           -1, &st, NULL),
	        SQLITE_OK);
	for (size_t i = 0; i < n_reps; i++) {
		const struct report *r = &reps[i];
		const int64_t v[] = { r->host,        (int64_t)r->seq, (int64_t)r->t,
			              (int64_t)r->nr, (int64_t)r->mn,  (int64_t)r->mx,
			              (int64_t)r->lim };

		for (int k = 0; k < 7; k++)
			sqlite3_bind_int64(st, k + 1, v[k]);
		cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sql(c, "DROP VIEW rollup_5m_all; DROP VIEW rollup_1h_all; DROP TABLE series;"
	       " DROP TABLE rollup_5m; DROP TABLE rollup_1h; DROP TABLE rollup_1d; DROP TABLE "
	       "vm_usage;"
	       " DROP TABLE alerts; DROP TABLE raw; DROP INDEX events_by_incident;"
	       " ALTER TABLE events DROP COLUMN incident; ALTER TABLE events DROP COLUMN sources;"
	       " ALTER TABLE hosts DROP COLUMN removed_ms; ALTER TABLE events DROP COLUMN contexts;"
	       " PRAGMA user_version = 5");
	sql(c, "COMMIT");
	sqlite3_close(c);

	umax_from_last_limit = true;
	cr_assert_eq(server_store_open(path, &db, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(server_hosts_init(&reg), 0);
	cr_assert_eq(server_store_load_hosts(db, &reg), 0);
	cr_expect_eq(server_hosts_find(&reg, "hv2")->last_seq, reps[n_reps - 1].seq,
	             "the newest seq carries on");
	server_hosts_done(&reg);
	server_db_close(db);
	cr_assert_eq(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (int64_t h = 1; h <= HOSTS; h++) {
		check_tier(c, h, 0, 0);
		check_tier(c, h, 1, 0);
		check_hours(h, T0);
		cr_expect_eq(value(c, "SELECT reports FROM series WHERE host_id = ?1", h),
		             value(c, "SELECT count(*) FROM samples WHERE host_id = ?1", h));
	}
	/* the raw tier reads the old table as it was */
	check_reader(c, 1, SERVER_TIER_RAW, 0, T0);
	sqlite3_close(c);
}
