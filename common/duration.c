#include "duration.h"
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct unit {
	const char *suffix;
	uint64_t ms;
} units[] = {
	/* longest suffix first so "ms" is not read as "m" */
	{ "ms", 1 },           { "d", AIO_DAY_MS }, { "h", AIO_HOUR_MS },
	{ "m", 60ULL * 1000 }, { "s", 1000 },
};

#define N_UNITS (sizeof(units) / sizeof(units[0]))

/* read, never written: "90min" as journalctl takes it, weeks */
static const struct unit aliases[] = {
	{ "min", 60ULL * 1000 },
	{ "w", 7 * AIO_DAY_MS },
};

int aio_duration_parse(const char *s, uint64_t *ret_ms)
{
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ret_ms = 0; /* zero needs no unit */
		return 0;
	}
	while (*s) {
		uint64_t n = 0;
		const struct unit *u = NULL;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s)) {
			if (n > AIO_DURATION_MAX_MS)
				return -ERANGE;
			n = n * 10 + (uint64_t)(*s++ - '0');
		}
		for (size_t i = 0; !u && i < sizeof(aliases) / sizeof(aliases[0]); i++)
			if (strncmp(s, aliases[i].suffix, strlen(aliases[i].suffix)) == 0)
				u = &aliases[i];
		for (size_t i = 0; !u && i < N_UNITS; i++)
			if (strncmp(s, units[i].suffix, strlen(units[i].suffix)) == 0)
				u = &units[i];
		if (!u)
			return -EINVAL;
		s += strlen(u->suffix);
		if (n > AIO_DURATION_MAX_MS / u->ms)
			return -ERANGE;
		total += n * u->ms;
		if (total > AIO_DURATION_MAX_MS)
			return -ERANGE;
	}
	*ret_ms = total;
	return 0;
}

void aio_duration_format(uint64_t ms, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	/* units[] minus "ms", largest first, then the milliseconds */
	for (size_t i = 1; i <= N_UNITS; i++) {
		const struct unit *u = i < N_UNITS ? &units[i] : &units[0];
		uint64_t n = ms / u->ms;
		int w;

		if (n == 0)
			continue;
		ms -= n * u->ms;
		w = snprintf(buf + off, len - off, "%llu%s", (unsigned long long)n, u->suffix);
		if (w < 0 || (size_t)w >= len - off)
			return;
		off += (size_t)w;
	}
}
