/* One logging module for every binary: plain text to stderr, or, when
 * stderr is the journal (JOURNAL_STREAM names its device and inode), one
 * journal entry per line with its priority and structured fields. */
#pragma once

#include <stdarg.h>
#include <stdint.h>

enum aio_log_level {
	AIO_LOG_ERR = 3,
	AIO_LOG_WARN = 4,
	AIO_LOG_INFO = 6,
	AIO_LOG_DEBUG = 7,
};

/* journalctl MESSAGE_ID=... for the entries a pager or a report wants */
#define AIO_MSGID_ROLLOUT       "f28cf9ec355140d096cdbca84c72feba" /* created, moved, ended */
#define AIO_MSGID_STEP_FAILED   "a10dd337bb844912b1a9204782f4bd28"
#define AIO_MSGID_ALERT_START   "e00a035e93db4b1988ef1cc104efd378"
#define AIO_MSGID_ALERT_CLEARED "6481c44948c5403485956b837b2157d5"

/* Fields of one journal entry; any may be unset (NULL, 0). */
struct aio_log_fields {
	const char *message_id; /* MESSAGE_ID= */
	const char *host;       /* AIOCTL_HOST= */
	uint64_t rollout;       /* AIOCTL_ROLLOUT= */
	const char *alert;      /* AIOCTL_ALERT=: the alert's kind */
};

void aio_log_init(const char *ident, int max_level);
/* For a reload: log-level can change while running. */
void aio_log_set_level(int max_level);
int aio_log_level_parse(const char *s, int *ret_level);
void aio_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As aio_log, appending ": strerror(err)"; err may be negative. */
void aio_log_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* As aio_log, with fields for the journal (plain text shows only the message). */
void aio_log_with(int level, const struct aio_log_fields *f, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_err(...)             aio_log(AIO_LOG_ERR, __VA_ARGS__)
#define log_warn(...)            aio_log(AIO_LOG_WARN, __VA_ARGS__)
#define log_info(...)            aio_log(AIO_LOG_INFO, __VA_ARGS__)
#define log_debug(...)           aio_log(AIO_LOG_DEBUG, __VA_ARGS__)
#define log_err_errno(err, ...)  aio_log_errno(AIO_LOG_ERR, err, __VA_ARGS__)
#define log_warn_errno(err, ...) aio_log_errno(AIO_LOG_WARN, err, __VA_ARGS__)
