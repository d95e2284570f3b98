/* Raw blocks: records round-trip exactly whatever their values (time going
 * back, values near the top of 64 bits), and a damaged block is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "rawblock.h"

Test(rawblock, round_trip)
{
	static struct server_raw in[2000];
	static uint8_t block[2000 * SERVER_RAW_RECORD_MAX];
	unsigned seed = 3;
	struct server_raw prev = { 0 }, out = { 0 };
	size_t len = 0, off = 0;

	for (size_t i = 0; i < 2000; i++) {
		struct server_raw *r = &in[i];
		uint64_t big = i % 97 == 0 ? UINT64_MAX - 5 : 0;

		r->seq = (i ? in[i - 1].seq : 0) + 1 + (uint64_t)(rand_r(&seed) % 3);
		/* mostly forward, sometimes back an hour */
		r->time_ms = 1767225600000ULL + i * 10000 - (i % 50 == 0 ? 3600000 : 0);
		r->nr = big ? big : (uint64_t)rand_r(&seed) % 1000000;
		r->nr_min = r->nr - (big ? 1 : (uint64_t)rand_r(&seed) % (r->nr + 1));
		r->nr_max = r->nr + (big ? 5 : (uint64_t)rand_r(&seed) % 5000);
		r->max_nr = i % 7 ? 65536 : 1ULL << (10 + i % 40);
		len += server_raw_encode(&prev, r, block + len);
		prev = *r;
	}
	cr_expect_lt(len, 2000 * 16, "compact: %zu bytes for 2000 records", len);
	for (size_t i = 0; i < 2000; i++) {
		cr_assert_eq(server_raw_decode(block, len, &off, &out), 0, "record %zu", i);
		cr_assert_eq(out.seq, in[i].seq, "record %zu", i);
		cr_assert_eq(out.time_ms, in[i].time_ms);
		cr_assert_eq(out.nr, in[i].nr);
		cr_assert_eq(out.nr_min, in[i].nr_min);
		cr_assert_eq(out.nr_max, in[i].nr_max);
		cr_assert_eq(out.max_nr, in[i].max_nr);
	}
	cr_expect_eq(off, len, "nothing left over");
}

Test(rawblock, damaged_blocks_are_refused)
{
	struct server_raw r = { 7, 1767225600000ULL, 300, 200, 400, 65536 }, zero = { 0 }, out;
	uint8_t block[SERVER_RAW_RECORD_MAX], endless[12];
	size_t len = server_raw_encode(&zero, &r, block), off;

	for (size_t cut = 0; cut < len; cut++) {
		off = 0;
		out = zero;
		cr_expect_eq(server_raw_decode(block, cut, &off, &out), -EBADMSG, "cut at %zu",
		             cut);
	}
	/* a varint that never ends within 64 bits */
	for (size_t i = 0; i < sizeof(endless); i++)
		endless[i] = 0xff;
	off = 0;
	out = zero;
	cr_expect_eq(server_raw_decode(endless, sizeof(endless), &off, &out), -EBADMSG);
}

/* The daily tier's hours: extremes round-trip, a damaged one is refused. */
Test(rawblock, day_hours_round_trip_and_damage_is_refused)
{
	const uint64_t peaks[] = { 0, 1, 127, 128, 65536, UINT64_MAX };
	uint8_t big[SERVER_RAW_HOUR_MAX];

	uint8_t day[24 * SERVER_RAW_HOUR_MAX];
	size_t len = 0, off = 0, last = 0;
	unsigned hour;
	uint64_t peak, umax;

	for (unsigned h = 0; h < 24; h++) {
		last = len;
		len += server_raw_hour_encode(h, peaks[h % 6], peaks[(h + 3) % 6], day + len);
	}
	for (unsigned h = 0; h < 24; h++) {
		cr_assert_eq(server_raw_hour_decode(day, len, &off, &hour, &peak, &umax), 0);
		cr_assert_eq(hour, h);
		cr_assert_eq(peak, peaks[h % 6]);
		cr_assert_eq(umax, peaks[(h + 3) % 6]);
	}
	cr_expect_eq(off, len, "nothing left over");
	cr_expect_eq(server_raw_hour_encode(23, UINT64_MAX, UINT64_MAX, big), SERVER_RAW_HOUR_MAX,
	             "the largest hour fills its bound");
	/* the last hour (a ten-byte peak) cut anywhere */
	cr_assert_eq(len - last, 12);
	for (size_t cut = last; cut < len; cut++) {
		off = last;
		cr_expect_eq(server_raw_hour_decode(day, cut, &off, &hour, &peak, &umax), -EBADMSG,
		             "cut at %zu", cut);
	}
	day[0] = 24; /* no such hour */
	off = 0;
	cr_expect_eq(server_raw_hour_decode(day, len, &off, &hour, &peak, &umax), -EBADMSG);
}
