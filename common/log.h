/* One logging module for every binary: to stderr, with syslog level
 * prefixes ("<3>") when stderr is the journal, so systemd keeps priorities. */
#pragma once

#include <stdarg.h>

enum aio_log_level {
	AIO_LOG_ERR = 3,
	AIO_LOG_WARN = 4,
	AIO_LOG_INFO = 6,
	AIO_LOG_DEBUG = 7,
};

void aio_log_init(const char *ident, int max_level);
int aio_log_level_parse(const char *s, int *ret_level);
void aio_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As aio_log, appending ": strerror(err)"; err may be negative. */
void aio_log_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_err(...)             aio_log(AIO_LOG_ERR, __VA_ARGS__)
#define log_warn(...)            aio_log(AIO_LOG_WARN, __VA_ARGS__)
#define log_info(...)            aio_log(AIO_LOG_INFO, __VA_ARGS__)
#define log_debug(...)           aio_log(AIO_LOG_DEBUG, __VA_ARGS__)
#define log_err_errno(err, ...)  aio_log_errno(AIO_LOG_ERR, err, __VA_ARGS__)
#define log_warn_errno(err, ...) aio_log_errno(AIO_LOG_WARN, err, __VA_ARGS__)
