/* --since and --until as journalctl takes them (cli/times.c), exactly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

/* 2026-12-03T12:00:00Z */
#define NOW 1796299200000ULL

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TestSuite(times, .init = utc);

static uint64_t at(const char *s)
{
	uint64_t t = 1;

	cr_assert_eq(cli_time_parse(s, NOW, &t), 0, "%s", s);
	return t;
}

Test(times, durations_back_from_now)
{
	cr_expect_eq(at("90min"), NOW - 90 * 60000);
	cr_expect_eq(at("1w"), NOW - 7 * 86400000ULL);
	cr_expect_eq(at("2h30m"), NOW - 150 * 60000);
	cr_expect_eq(at("36500d"), 0, "past the epoch: all of it");
	cr_expect_eq(at("now"), NOW);
}

Test(times, days_and_dates)
{
	cr_expect_eq(at("today"), NOW - 12 * 3600000ULL);
	cr_expect_eq(at("yesterday"), NOW - 36 * 3600000ULL);
	cr_expect_eq(at("2026-12-01"), NOW - 2 * 86400000ULL - 12 * 3600000ULL);
	cr_expect_eq(at("2026-12-03 11:00"), NOW - 3600000);
	cr_expect_eq(at("2026-12-03 11:00:30"), NOW - 3570000);
}

Test(times, rfc3339_with_any_offset)
{
	cr_expect_eq(at("2026-12-03T12:00:00Z"), NOW);
	cr_expect_eq(at("2026-12-03T14:00:00+02:00"), NOW);
	cr_expect_eq(at("2026-12-03T06:30:00-0530"), NOW);
	cr_expect_eq(at("2026-12-03T12:00:00.250Z"), NOW + 250);
	cr_expect_eq(at("2026-12-03T12:00:00.5Z"), NOW + 500);
}

Test(times, bad_input)
{
	const char *bad[] = { "soon",
		              "",
		              "2026-13-01",
		              "2026-12-03T25:00:00Z",
		              "2026-12-03T12:00:00+2",
		              "2026-12-03T12:00:00Zx",
		              "12:00",
		              "2026-12-03T12:00:00.Z",
		              "1x" };
	uint64_t t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(cli_time_parse(bad[i], NOW, &t), -EINVAL, "%s", bad[i]);
}
