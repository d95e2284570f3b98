#include <criterion/criterion.h>
#include <errno.h>

#include "duration.h"

static uint64_t parse_ok(const char *s)
{
	uint64_t ms = 0;

	cr_assert_eq(aio_duration_parse(s, &ms), 0, "'%s' should parse", s);
	return ms;
}

Test(duration, units)
{
	cr_expect_eq(parse_ok("500ms"), 500);
	cr_expect_eq(parse_ok("10s"), 10000);
	cr_expect_eq(parse_ok("5m"), 300000);
	cr_expect_eq(parse_ok("24h"), 86400000);
	cr_expect_eq(parse_ok("30d"), 30ULL * 86400000);
	cr_expect_eq(parse_ok("0s"), 0);
	cr_expect_eq(parse_ok("0"), 0);
}

Test(duration, sums)
{
	cr_expect_eq(parse_ok("1h30m"), 5400000);
	cr_expect_eq(parse_ok("1m500ms"), 60500);
}

Test(duration, rejects)
{
	const char *bad[] = { "", "10", "s", "10x", "-5s", "1.5s", "10 s", "5sm", "ms10" };
	uint64_t ms = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(aio_duration_parse(bad[i], &ms), -EINVAL, "'%s' should fail", bad[i]);
		cr_expect_eq(ms, 42, "failure must not write the result");
	}
	cr_expect_eq(aio_duration_parse(NULL, &ms), -EINVAL);
}

Test(duration, overflow)
{
	uint64_t ms;

	cr_expect_eq(aio_duration_parse("99999999999999999999999d", &ms), -ERANGE);
	cr_expect_eq(aio_duration_parse("36501d", &ms), -ERANGE);
	cr_expect_eq(aio_duration_parse("36500d", &ms), 0);
}

Test(duration, format_round_trips)
{
	const uint64_t values[] = { 0, 1, 999, 1000, 61000, 5400000, 90061001 };
	char buf[64];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		aio_duration_format(values[i], buf, sizeof(buf));
		cr_expect_eq(parse_ok(buf), values[i], "%s", buf);
	}
	aio_duration_format(5400000, buf, sizeof(buf));
	cr_expect_str_eq(buf, "1h30m");
	aio_duration_format(250, buf, sizeof(buf));
	cr_expect_str_eq(buf, "250ms");
}
