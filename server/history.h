/* A host's history: this module owns the tables of samples, their
 * rollups and per-VM usage (schema, writes and reads).
 *
 * Reading a host's history from the tier that suits the range: raw samples
 * (stored on change: a row stands for the equal reports after it), or the
 * 5-minute and hourly rollups. On the query thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "query.h"

struct server_hosts;

enum server_tier { SERVER_TIER_RAW, SERVER_TIER_5M, SERVER_TIER_1H, SERVER_TIER_COUNT };

extern const char *const server_tier_name[SERVER_TIER_COUNT];

/* nr over max in parts per million (0 without a limit): how rollups keep a
 * bucket's peak utilisation, each report against the limit it saw. */
static inline int64_t server_history_util_ppm(uint64_t nr, uint64_t max)
{
	if (!max)
		return 0;
	if (nr < (1ULL << 44)) /* no overflow below 17.6e12 */
		return (int64_t)(nr * 1000000 / max);
	return (int64_t)((double)nr * 1e6 / (double)max);
}

/* A utilisation kept in ppm, as a ratio. */
static inline double server_history_util(int64_t ppm)
{
	return (double)ppm / 1e6;
}

/* One step: reports counted, min of aio_nr_min, max of aio_nr_max, sum of
 * aio_nr, the newest report's aio_nr, time and aio-max-nr, and the peak
 * utilisation of its reports, each against the limit it was taken under
 * (ppm). */
struct server_history_point {
	uint64_t start_ms, count, min, max;
	double sum;
	uint64_t last, last_ms, limit;
	int64_t umax;
};

/* The coarsest tier no coarser than *step_ms whose retention (0: for
 * ever) still holds since_ms; raises *step_ms to whole buckets of it. */
enum server_tier server_history_tier(const uint64_t retention_ms[SERVER_TIER_COUNT],
                                     uint64_t now_ms, uint64_t since_ms, uint64_t *step_ms);
/* Fills out (max points) with the non-empty steps of [since, until),
 * oldest first, the first starting at since (at the start of its bucket
 * for a rollup tier); interval_ms, the host's report interval, places the
 * reports a raw record stands for. 0, -EINVAL, -ENOMEM or -EIO. */
int server_history_read(struct server_reader *rd, int64_t host_id, uint64_t interval_ms,
                        enum server_tier tier, uint64_t since_ms, uint64_t until_ms,
                        uint64_t step_ms, struct server_history_point *out, size_t max,
                        size_t *ret_n);

extern const struct server_db_migration server_history_migrations[];
extern const struct server_db_migration server_history_pg_migrations[];
/* Makes the history's SQL functions (aio_day_hours, for the migrations)
 * part of every SQLite connection the process opens from now on. */
void server_history_sql_init(void);
/* Each host's newest report: its latest values and last seq (before the
 * database thread starts). */
int server_history_load_latest(struct server_db *db, struct server_hosts *reg);
/* One acknowledged report into the history: a seq at or below the host's
 * last is a replay (w->duplicate). On the database thread, in a batch; an
 * SQLite result code. */
int server_history_apply(struct server_db *db, struct server_db_write *w);
/* The report's per-VM usage, a row when a VM's differs from its last. */
int server_history_apply_users(struct server_db *db, const struct server_db_write *w);
/* Retention's statements: per host ?1, cutoff ?2, at most ?3 rows. */
extern const char server_history_prune_raw_sql[];
extern const char server_history_prune_blocks_sql[];
extern const char server_history_prune_5m_sql[];
extern const char server_history_prune_1h_sql[];
extern const char server_history_prune_1d_sql[];
extern const char server_history_prune_vm_sql[];
/* A removed host's history, every tier (?1 its id); NULL-terminated. */
extern const char *const server_history_forget_sql[];
/* The hosts with history after ?1 (an id), at most ?2. */
extern const char server_history_hosts_sql[];

/* A VM's usage as stored (on change). */
struct server_history_vm {
	uint64_t time_ms;
	uint32_t contexts;
	bool has_events;
	uint64_t events;
};

/* The row in force at since_ms, then each change before until_ms; at most
 * max into out. On the query thread. */
int server_history_vm_read(struct server_reader *rd, int64_t host_id, const char *vm,
                           uint64_t since_ms, uint64_t until_ms, struct server_history_vm *out,
                           size_t max, size_t *ret_n);

/* One hour of a host's history: its highest aio-nr and its peak
 * utilisation, each report against its own limit (ppm). */
struct server_history_hour {
	uint64_t start_ms;
	uint64_t peak;
	int64_t umax;
};

/* A host's hours from since_ms, from the daily tier and the open hour: by
 * day, an hour in any order within its day (one may come twice, when a
 * report's time went back). At most max. */
int server_history_hours(struct server_reader *rd, int64_t host_id, uint64_t since_ms,
                         struct server_history_hour *out, size_t max, size_t *ret_n);

/* A host's peak and lowest limit per step of step_ms from since_ms. */
struct server_history_step {
	uint64_t start_ms, peak, limit;
};

int server_history_steps(struct server_reader *rd, int64_t host_id, uint64_t since_ms,
                         uint64_t step_ms, struct server_history_step *out, size_t max,
                         size_t *ret_n);
