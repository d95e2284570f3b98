/* Table-driven configuration shared by both daemons. Each key in a table is
 * both a line in the config file ("key = value", read by libinih) and a long
 * flag ("--key value"); flags win over the file. Bounds live in the table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum aio_conf_type {
	AIO_CONF_STRING,   /* char *, owned by the config */
	AIO_CONF_UINT,     /* uint64_t */
	AIO_CONF_DURATION, /* uint64_t milliseconds */
	AIO_CONF_SIZE,     /* uint64_t bytes: "4096", "64KiB", "1MiB" */
	AIO_CONF_BOOL,     /* bool; a flag without a value sets it */
	AIO_CONF_LIST,     /* struct aio_strv: repeatable */
	AIO_CONF_LOGLEVEL, /* int: error, warning, info, debug */
};

struct aio_strv {
	char **v;
	size_t n;
};

struct aio_conf_key {
	const char *name;
	enum aio_conf_type type;
	size_t offset;
	const char *def; /* default, written as in the file; NULL: unset */
	uint64_t min, max;
	const char *metavar;
	const char *help;
};

struct aio_conf_spec {
	const char *prog;
	const char *summary;
	const struct aio_conf_key *keys;
	size_t n_keys;
	const char *default_file; /* read if present and no --config is given */
	/* the keys a reload (SIGHUP) changes while running, NULL-terminated;
	 * scalars only: the threads read them without a lock */
	const char *const *live;
};

/* Returned by aio_conf_load after --help or --version was printed. */
#define AIO_CONF_EXIT 1

/* Limits on what a config file may hold. */
#define AIO_CONF_VALUE_MAX 4096
#define AIO_CONF_LIST_MAX  256

/* Fills conf from defaults, the config file, then argv. On error returns
 * -EINVAL and writes one line naming the key, the value and the fix. */
int aio_conf_load(const struct aio_conf_spec *spec, void *conf, int argc, char **argv, char *err,
                  size_t errlen);
/* Reads one config file over conf (already holding defaults). */
int aio_conf_load_file(const struct aio_conf_spec *spec, void *conf, const char *path, char *err,
                       size_t errlen);
/* The same from an open stream; name is used in messages. */
int aio_conf_load_fp(const struct aio_conf_spec *spec, void *conf, FILE *f, const char *name,
                     char *err, size_t errlen);
void aio_conf_defaults(const struct aio_conf_spec *spec, void *conf);
/* SIGHUP: loads the file and argv again into a scratch copy of conf (size
 * bytes), takes the live keys that changed (a log level also into the log)
 * and logs each change, saying which need a restart. A config that does not load changes nothing
 * (the error is logged). Returns the live keys changed, or -EINVAL. */
int aio_conf_reload(const struct aio_conf_spec *spec, void *conf, size_t size, int argc,
                    char **argv);
/* Frees what conf holds; conf itself is the caller's. */
void aio_conf_done(const struct aio_conf_spec *spec, void *conf);
void aio_conf_usage(const struct aio_conf_spec *spec, FILE *f);

int aio_size_parse(const char *s, uint64_t *ret_bytes);
int aio_uint_parse(const char *s, uint64_t *ret_value);
int aio_strv_push(struct aio_strv *sv, const char *s);
void aio_strv_done(struct aio_strv *sv);
