#include "clock.h"

#include <stdio.h>
#include <time.h>

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t aio_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

uint64_t aio_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

void aio_time_format_rfc3339(uint64_t unix_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	char base[32];

	if (unix_ms == 0 || !gmtime_r(&secs, &tm)) {
		snprintf(buf, len, "never");
		return;
	}
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)(unix_ms % 1000));
}
