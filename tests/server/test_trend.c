/* The capacity model on series with a known answer: growth, projected
 * exhaustion, p95, recommendation and verdict. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "history.h"
#include "trend.h"

#define DAY_MS  (24ULL * 3600 * 1000)
#define HOUR_MS (3600ULL * 1000)
#define NOW_MS  (20000ULL * DAY_MS + 7 * HOUR_MS) /* 2024-10-04 07:00 UTC */

static const struct trend_policy policy = { 50, 365 * DAY_MS, 0, 0 };

/* days of hourly peaks ending at NOW_MS: base + per_day * days elapsed */
static struct server_history_hour *series(size_t days, uint64_t base, double per_day,
                                          uint64_t limit, uint64_t *ret_origin, size_t *ret_n)
{
	size_t n = days * 24;
	struct server_history_hour *h = calloc(n, sizeof(*h));
	uint64_t origin = NOW_MS - days * DAY_MS;

	for (size_t i = 0; i < n; i++) {
		uint64_t t = origin + i * HOUR_MS;

		h[i].start_ms = t / HOUR_MS * HOUR_MS;
		h[i].peak = base + (uint64_t)(per_day * (double)(t - origin) / (double)DAY_MS);
		h[i].umax = server_history_util_ppm(h[i].peak, limit);
	}
	*ret_origin = origin;
	*ret_n = n;
	return h;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

Test(trend, linear_growth_is_projected_to_the_right_day)
{
	uint64_t origin, truth;
	size_t n;
	struct server_history_hour *h = series(10, 1024, 2048, 65536, &origin, &n);
	struct trend_result r;

	server_trend_compute(h, n, 65536, 0, NOW_MS, &policy, &r);
	truth = origin + (uint64_t)((65536.0 - 1024) / 2048 * (double)DAY_MS);
	cr_assert(r.has_growth);
	cr_expect(r.growth_per_day > 2000 && r.growth_per_day < 2100, "growth %f",
	          r.growth_per_day);
	cr_assert(r.has_exhaustion);
	cr_expect(llabs((long long)r.exhaustion_ms - (long long)truth) < (long long)DAY_MS,
	          "projected %llu, true %llu", (unsigned long long)r.exhaustion_ms,
	          (unsigned long long)truth);
	cr_expect_str_eq(r.verdict, "act", "runs out within 30 days");
	/* it covers the fitted value a quarter ahead, with head room */
	cr_expect(pow2(r.recommended));
	cr_expect_geq(r.recommended, (1024 + 2048 * (10 + 90)) * 3 / 2);
	free(h);
}

Test(trend, flat_host_is_not_within_horizon)
{
	uint64_t origin;
	size_t n;
	struct server_history_hour *h = series(30, 5000, 0, 65536, &origin, &n);
	struct trend_result r;

	server_trend_compute(h, n, 65536, 0, NOW_MS, &policy, &r);
	cr_expect_not(r.has_exhaustion);
	cr_expect_eq(r.peak, 5000);
	cr_expect_eq(r.p95, 5000);
	cr_expect_eq(r.days, 31, "30 days from 07:00 touch 31 calendar days");
	cr_expect_str_eq(r.verdict, "ok");
	cr_expect_eq(r.recommended, 65536, "never below the kernel's default");
	free(h);
}

Test(trend, recommendation_is_a_power_of_two_over_peak_and_head_room)
{
	uint64_t origin;
	size_t n;
	struct server_history_hour *h = series(3, 700000, 0, 1048576, &origin, &n);
	struct trend_result r;

	server_trend_compute(h, n, 1048576, 0, NOW_MS, &policy, &r);
	cr_expect_eq(r.recommended, 2097152, "700000 * 1.5 = 1050000, up to 2^21");
	cr_expect_str_eq(r.verdict, "ok", "66.8%% of the limit, flat");
	free(h);
}

Test(trend, recommendation_stays_inside_the_hosts_bounds)
{
	struct trend_policy p = { 50, 365 * DAY_MS, 65536, 1500000 };
	uint64_t origin;
	size_t n;
	struct server_history_hour *h = series(3, 900000, 0, 1048576, &origin, &n);
	struct trend_result r;

	server_trend_compute(h, n, 1048576, 0, NOW_MS, &p, &r);
	cr_expect_eq(r.recommended, 1048576, "the largest power of two under the bound");
	p.bound_min = 3000000;
	p.bound_max = 3500000;
	server_trend_compute(h, n, 1048576, 0, NOW_MS, &p, &r);
	cr_expect(r.recommended >= 3000000 && r.recommended <= 3500000,
	          "no power of two fits: the bound itself (%llu)",
	          (unsigned long long)r.recommended);
	free(h);
}

Test(trend, full_host_and_errors_say_act)
{
	uint64_t origin;
	size_t n;
	struct server_history_hour *h = series(2, 65536, 0, 65536, &origin, &n);
	struct trend_result r;

	server_trend_compute(h, n, 65536, 0, NOW_MS, &policy, &r);
	cr_expect(r.has_exhaustion);
	cr_expect_eq(r.exhaustion_ms, NOW_MS, "already exhausted: now");
	cr_expect_str_eq(r.verdict, "act");
	free(h);

	h = series(2, 100, 0, 65536, &origin, &n);
	server_trend_compute(h, n, 65536, 3, NOW_MS, &policy, &r);
	cr_expect_str_eq(r.verdict, "act", "AIO errors in the window");
	free(h);
}

Test(trend, p95_and_no_samples)
{
	struct server_history_hour h[100];
	struct trend_result r;

	for (size_t i = 0; i < 100; i++)
		h[i] = (struct server_history_hour){ NOW_MS - (100 - i) * HOUR_MS, 100 - i,
			                             server_history_util_ppm(100 - i, 65536) };
	server_trend_compute(h, 100, 65536, 0, NOW_MS, &policy, &r);
	cr_expect_eq(r.p95, 95);
	cr_expect_eq(r.peak, 100);
	server_trend_compute(h, 0, 65536, 0, NOW_MS, &policy, &r);
	cr_expect_str_eq(r.verdict, "unknown");
	cr_expect_eq(r.recommended, 0);
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The p95 is selected, not sorted for: it equals the sorted answer for
 * any length, with few or many equal peaks, in any order. */
Test(trend, p95_selection_equals_sorting)
{
	static struct server_history_hour h[2000];
	static uint64_t sorted[2000];
	unsigned seed = 7;

	for (int round = 0; round < 500; round++) {
		size_t n = 1 + (size_t)rand_r(&seed) % 2000;
		unsigned spread = round % 3 == 0 ? 3 : round % 3 == 1 ? 100 : 1000000;
		struct trend_result r;

		for (size_t i = 0; i < n; i++)
			sorted[i] = (uint64_t)(rand_r(&seed) % spread);
		if (round % 5 == 0) /* already in order */
			qsort(sorted, n, sizeof(*sorted), by_value);
		for (size_t i = 0; i < n; i++) {
			/* every tenth round the peaks come in descending order */
			uint64_t v = round % 10 == 5 ? sorted[n - 1 - i] : sorted[i];

			h[i] = (struct server_history_hour){ NOW_MS - (n - i) * HOUR_MS, v,
				                             server_history_util_ppm(v, 1 << 30) };
		}
		qsort(sorted, n, sizeof(*sorted), by_value);
		server_trend_compute(h, n, 1 << 30, 0, NOW_MS, &policy, &r);
		cr_assert_eq(r.p95, sorted[(size_t)((95 * n + 99) / 100) - 1], "n %zu round %d", n,
		             round);
	}
}
