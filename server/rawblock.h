/* Raw samples packed in blocks: each record is the difference from the one
 * before it in the block (the first from zero), as LEB128 varints (signed
 * ones zigzag-encoded). A report that changed aio-nr costs about 7 bytes
 * instead of a 34-byte row. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* a block holds at most this many bytes; a record at most this many */
#define SERVER_RAW_BLOCK_MAX  1024
#define SERVER_RAW_RECORD_MAX 60

struct server_raw {
	uint64_t seq, time_ms, nr, nr_min, nr_max, max_nr;
};

/* Writes r, relative to prev (zeros for a block's first record), to out
 * (SERVER_RAW_RECORD_MAX bytes); returns the bytes written. Needs
 * nr_min <= nr <= nr_max and prev->seq < r->seq. */
size_t server_raw_encode(const struct server_raw *prev, const struct server_raw *r, uint8_t *out);
/* Reads the record at *off of a block of len bytes into *rec, relative to
 * *rec as it was (zeros before the first); advances *off. 0, or -EBADMSG
 * for a truncated or overlong record. */
int server_raw_decode(const uint8_t *block, size_t len, size_t *off, struct server_raw *rec);

/* One hour of the daily tier: its hour of the day (one byte), its peak and
 * its peak utilisation (ppm) as varints; a day's row is its hours one
 * after another. */
#define SERVER_RAW_HOUR_MAX 21

size_t server_raw_hour_encode(unsigned hour, uint64_t peak, uint64_t umax, uint8_t *out);
/* Reads the hour at *off of a day's len bytes; advances *off. 0, or
 * -EBADMSG for a truncated record or an hour past 23. */
int server_raw_hour_decode(const uint8_t *day, size_t len, size_t *off, unsigned *hour,
                           uint64_t *peak, uint64_t *umax);
