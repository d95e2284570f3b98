/* libsystemd, loaded the first time it is needed: the journal reader, a
 * unit's notify socket and the journal's stream. An agent on a host where
 * none of them runs does not pay for the library and what it pulls in
 * (libgcrypt, three compressors: over a megabyte of its resident set).
 * The members are libsystemd's functions of the same name, less "sd_". */
#pragma once

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#define AIO_LIBSYSTEMD_SYMBOLS(X)     \
	X(journal_open)               \
	X(journal_open_directory)     \
	X(journal_close)              \
	X(journal_add_match)          \
	X(journal_add_disjunction)    \
	X(journal_get_usage)          \
	X(journal_set_data_threshold) \
	X(journal_seek_cursor)        \
	X(journal_seek_head)          \
	X(journal_seek_realtime_usec) \
	X(journal_test_cursor)        \
	X(journal_next)               \
	X(journal_previous)           \
	X(journal_get_fd)             \
	X(journal_process)            \
	X(journal_get_data)           \
	X(journal_get_cursor)         \
	X(journal_get_realtime_usec)  \
	X(journal_sendv)              \
	X(notify)                     \
	X(notifyf)                    \
	X(watchdog_enabled)

struct aio_libsystemd {
#define AIO_LIBSYSTEMD_MEMBER(name) __typeof__(&sd_##name) name;
	AIO_LIBSYSTEMD_SYMBOLS(AIO_LIBSYSTEMD_MEMBER)
#undef AIO_LIBSYSTEMD_MEMBER
};

/* The library's functions, loaded once (thread-safe); NULL when
 * libsystemd.so.0 is not installed or lacks one of them. */
const struct aio_libsystemd *aio_libsystemd(void);

/* Why aio_libsystemd() is NULL, for the caller to log; NULL if it is not. */
const char *aio_libsystemd_error(void);
