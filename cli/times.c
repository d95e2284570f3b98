/* Times as --since and --until take them, as journalctl does: a duration
 * back from now ("90min", "1w", "2h30m"), "now", "today" and "yesterday"
 * (local midnight), a date ("2026-12-01", local midnight), a local
 * "2026-12-01 05:00[:00]", or RFC 3339 with any offset
 * ("2026-12-01T05:00:00Z", "2026-12-01T07:00:00.250+02:00"). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "duration.h"

/* Local midnight of the day days after (or before) the one of now_ms. */
static uint64_t local_midnight(uint64_t now_ms, int days)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mday += days;
	tm.tm_isdst = -1;
	return (uint64_t)mktime(&tm) * 1000;
}

/* "+02:00", "-0530", "Z" after a time: seconds east of UTC, or -1. */
static int offset_parse(const char *s, long *ret_east)
{
	int h, m;

	if (!strcmp(s, "Z") || !strcmp(s, "z")) {
		*ret_east = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') ||
	    (sscanf(s + 1, "%2d:%2d", &h, &m) != 2 && sscanf(s + 1, "%2d%2d", &h, &m) != 2) ||
	    strlen(s) > 6 || h > 23 || m > 59)
		return -1;
	*ret_east = (s[0] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
	return 0;
}

int cli_time_parse(const char *s, uint64_t now_ms, uint64_t *ret_ms)
{
	struct tm tm = { 0 };
	uint64_t ago, ms = 0;
	const char *end;
	long east;
	time_t t;

	if (aio_duration_parse(s, &ago) == 0) {
		*ret_ms = ago < now_ms ? now_ms - ago : 0; /* "36500d": all of it */
		return 0;
	}
	if (!strcmp(s, "now")) {
		*ret_ms = now_ms;
		return 0;
	}
	if (!strcmp(s, "today") || !strcmp(s, "yesterday")) {
		*ret_ms = local_midnight(now_ms, s[0] == 't' ? 0 : -1);
		return 0;
	}
	if (!(end = strptime(s, "%Y-%m-%d", &tm)))
		return -EINVAL;
	if (!*end) { /* a date: its local midnight */
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) < 0)
			return -EINVAL;
		*ret_ms = (uint64_t)t * 1000;
		return 0;
	}
	if ((*end != 'T' && *end != 't' && *end != ' ') || !(end = strptime(end + 1, "%H:%M", &tm)))
		return -EINVAL;
	if (*end == ':' && !(end = strptime(end + 1, "%S", &tm)))
		return -EINVAL;
	if (*end == '.') { /* a fraction of a second: its milliseconds */
		int digits = 0;

		for (end++; isdigit((unsigned char)*end); end++, digits++)
			if (digits < 3)
				ms = ms * 10 + (uint64_t)(*end - '0');
		if (!digits)
			return -EINVAL;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (!*end) { /* no offset: local time, as journalctl reads it */
		tm.tm_isdst = -1;
		t = mktime(&tm);
	} else if (offset_parse(end, &east) == 0) {
		t = timegm(&tm) - east;
	} else {
		return -EINVAL;
	}
	if (t < 0)
		return -EINVAL;
	*ret_ms = (uint64_t)t * 1000 + ms;
	return 0;
}
