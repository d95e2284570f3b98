#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "libsystemd.h"

static const char *log_ident = "aioctl";
static atomic_int log_max = AIO_LOG_INFO;
static bool log_journal;
static const struct aio_libsystemd *sd; /* loaded when stderr is the journal */

static const struct {
	const char *name;
	int level;
} levels[] = {
	{ "error", AIO_LOG_ERR },
	{ "warning", AIO_LOG_WARN },
	{ "info", AIO_LOG_INFO },
	{ "debug", AIO_LOG_DEBUG },
};

/* systemd sets JOURNAL_STREAM=DEV:INODE for the stream it connects; a
 * child whose stderr was redirected inherits the variable, not the stream */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void aio_log_init(const char *ident, int max_level)
{
	log_ident = ident;
	log_max = max_level;
	log_journal = stderr_is_journal();
	/* only a unit's stderr makes the library worth loading */
	if (log_journal && !(sd = aio_libsystemd())) {
		log_journal = false;
		log_warn("libsystemd: %s (logging to stderr as text)", aio_libsystemd_error());
	}
}

void aio_log_set_level(int max_level)
{
	log_max = max_level;
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

/* One entry with its fields; false if the journal's socket took none. */
static bool journal_send(int level, const struct aio_log_fields *f, const char *msg)
{
	char prio[16], ident[64], id[64], host[sizeof("AIOCTL_HOST=") + AIO_HOST_NAME_MAX], ro[48],
	        alert[64];
	char text[sizeof("MESSAGE=") + 1100];
	struct iovec iov[7];
	int n = 0;

#define FIELD(buf, ...)                                                                      \
	do {                                                                                 \
		int len_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                          \
		iov[n].iov_base = buf;                                                       \
		iov[n++].iov_len = len_ < (int)sizeof(buf) ? (size_t)len_ : sizeof(buf) - 1; \
	} while (0)
	FIELD(text, "MESSAGE=%s", msg);
	FIELD(prio, "PRIORITY=%d", level);
	FIELD(ident, "SYSLOG_IDENTIFIER=%s", log_ident);
	if (f && f->message_id)
		FIELD(id, "MESSAGE_ID=%s", f->message_id);
	if (f && f->host)
		FIELD(host, "AIOCTL_HOST=%s", f->host);
	if (f && f->rollout)
		FIELD(ro, "AIOCTL_ROLLOUT=%" PRIu64, f->rollout);
	if (f && f->alert)
		FIELD(alert, "AIOCTL_ALERT=%s", f->alert);
#undef FIELD
	return sd && sd->journal_sendv(iov, n) >= 0;
}

static void log_write(int level, int err, const struct aio_log_fields *f, const char *fmt,
                      va_list ap) __attribute__((format(printf, 4, 0)));

static void log_write(int level, int err, const struct aio_log_fields *f, const char *fmt,
                      va_list ap)
{
	char msg[1024], line[1100];
	int saved = errno;

	if (level > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(line, sizeof(line), "%s%s%s", msg, err ? ": " : "", err ? strerror(abs(err)) : "");
	if (log_journal) {
		if (!journal_send(level, f, line))
			fprintf(stderr, "<%d>%s\n", level, line);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s[%s]: %s\n", stamp, ts.tv_nsec / 1000000, log_ident,
		        level_name(level), line);
	}
	errno = saved;
}

void aio_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, 0, NULL, fmt, ap);
	va_end(ap);
}

void aio_log_errno(int level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, err, NULL, fmt, ap);
	va_end(ap);
}

void aio_log_with(int level, const struct aio_log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, 0, f, fmt, ap);
	va_end(ap);
}
