/* Time as the project counts it: Unix milliseconds on the wire and in the
 * database, monotonic milliseconds for timeouts. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define AIO_HOUR_MS (3600ULL * 1000)
#define AIO_DAY_MS  (24 * AIO_HOUR_MS)

uint64_t aio_now_ms(void);
uint64_t aio_mono_ms(void);
/* "2026-11-26T05:18:20.123Z"; a zero time writes "never". */
void aio_time_format_rfc3339(uint64_t unix_ms, char *buf, size_t len);
