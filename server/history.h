/* Reading a host's history from the tier that suits the range: raw samples
 * (stored on change: a row stands for the equal reports after it), or the
 * 5-minute and hourly rollups. On the query thread. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

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
 * for a rollup tier). 0, -EINVAL, -ENOMEM or -EIO. */
int server_history_read(sqlite3 *conn, int64_t host_id, enum server_tier tier, uint64_t since_ms,
                        uint64_t until_ms, uint64_t step_ms, struct server_history_point *out,
                        size_t max, size_t *ret_n);
