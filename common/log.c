#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_ident = "aioctl";
static int log_max = AIO_LOG_INFO;
static bool log_journal;

static const struct {
	const char *name;
	int level;
} levels[] = {
	{ "error", AIO_LOG_ERR },
	{ "warning", AIO_LOG_WARN },
	{ "info", AIO_LOG_INFO },
	{ "debug", AIO_LOG_DEBUG },
};

void aio_log_init(const char *ident, int max_level)
{
	log_ident = ident;
	log_max = max_level;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal */
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

int aio_log_level_parse(const char *s, int *ret_level)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(s, levels[i].name) == 0) {
			*ret_level = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *level_name(int level)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (levels[i].level == level)
			return levels[i].name;
	return "?";
}

static void log_write(int level, int err, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

static void log_write(int level, int err, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	if (level > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal) {
		if (err)
			fprintf(stderr, "<%d>%s: %s\n", level, msg, strerror(abs(err)));
		else
			fprintf(stderr, "<%d>%s\n", level, msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s[%s]: %s%s%s\n", stamp, ts.tv_nsec / 1000000, log_ident,
		        level_name(level), msg, err ? ": " : "", err ? strerror(abs(err)) : "");
	}
	errno = saved;
}

void aio_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, 0, fmt, ap);
	va_end(ap);
}

void aio_log_errno(int level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, err, fmt, ap);
	va_end(ap);
}
