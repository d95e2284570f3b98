/* Durations as people write them: "500ms", "10s", "5m" or "90min", "24h",
 * "30d", "1w", sums of those ("1h30m"), and a bare "0". Milliseconds
 * inside. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Largest accepted duration: 100 years, far past any retention. */
#define AIO_DURATION_MAX_MS (100ULL * 365 * 24 * 3600 * 1000)

int aio_duration_parse(const char *s, uint64_t *ret_ms);
/* Writes the shortest exact form ("1h30m", "250ms", "0s") into buf. */
void aio_duration_format(uint64_t ms, char *buf, size_t len);
