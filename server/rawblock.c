#include "rawblock.h"

#include <errno.h>

static size_t put_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int get_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*off >= len)
			return -EBADMSG;
		b = p[(*off)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

size_t server_raw_encode(const struct server_raw *prev, const struct server_raw *r, uint8_t *out)
{
	size_t n = 0;

	n += put_varint(out + n, r->seq - prev->seq);
	n += put_varint(out + n, zigzag((int64_t)(r->time_ms - prev->time_ms)));
	n += put_varint(out + n, zigzag((int64_t)(r->nr - prev->nr)));
	n += put_varint(out + n, r->nr - r->nr_min);
	n += put_varint(out + n, r->nr_max - r->nr);
	n += put_varint(out + n, zigzag((int64_t)(r->max_nr - prev->max_nr)));
	return n;
}

int server_raw_decode(const uint8_t *block, size_t len, size_t *off, struct server_raw *rec)
{
	uint64_t v[6];

	for (int i = 0; i < 6; i++)
		if (get_varint(block, len, off, &v[i]) < 0)
			return -EBADMSG;
	rec->seq += v[0];
	rec->time_ms += (uint64_t)unzigzag(v[1]);
	rec->nr += (uint64_t)unzigzag(v[2]);
	rec->nr_min = rec->nr - v[3];
	rec->nr_max = rec->nr + v[4];
	rec->max_nr += (uint64_t)unzigzag(v[5]);
	return 0;
}

size_t server_raw_hour_encode(unsigned hour, uint64_t peak, uint64_t umax, uint8_t *out)
{
	size_t n = 1;

	out[0] = (uint8_t)hour;
	n += put_varint(out + n, peak);
	return n + put_varint(out + n, umax);
}

int server_raw_hour_decode(const uint8_t *day, size_t len, size_t *off, unsigned *hour,
                           uint64_t *peak, uint64_t *umax)
{
	if (*off >= len || day[*off] > 23)
		return -EBADMSG;
	*hour = day[(*off)++];
	if (get_varint(day, len, off, peak) < 0 || get_varint(day, len, off, umax) < 0)
		return -EBADMSG;
	return 0;
}
