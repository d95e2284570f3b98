#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "duration.h"
#include "log.h"

/* getopt_long values: key index + KEY_BASE, clear of '?' and ':' */
#define KEY_BASE    0x1000
#define KEY_VERSION 0x10000
#define KEY_HELP    0x10001

static const char *type_example(const struct aio_conf_key *k)
{
	switch (k->type) {
	case AIO_CONF_DURATION:
		return "a duration such as 500ms, 10s, 5m, 24h or 30d";
	case AIO_CONF_SIZE:
		return "a size such as 65536, 64KiB or 1MiB";
	case AIO_CONF_UINT:
		return "a whole number";
	case AIO_CONF_BOOL:
		return "yes or no";
	case AIO_CONF_LOGLEVEL:
		return "error, warning, info or debug";
	default:
		return "text";
	}
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int aio_uint_parse(const char *s, uint64_t *ret_value)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*ret_value = v;
	return 0;
}

int aio_size_parse(const char *s, uint64_t *ret_bytes)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 },          { "B", 1 },       { "k", 1024 },
		{ "K", 1024 },      { "KiB", 1024 },  { "M", 1 << 20 },
		{ "MiB", 1 << 20 }, { "G", 1 << 30 }, { "GiB", 1 << 30 },
	};
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return -ERANGE;
			*ret_bytes = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *yes[] = { "1", "yes", "true", "on" };
	static const char *no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int aio_strv_push(struct aio_strv *sv, const char *s)
{
	char **nv;
	char *copy;

	if (sv->n >= AIO_CONF_LIST_MAX)
		return -E2BIG;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	sv->v = nv;
	sv->v[sv->n++] = copy;
	return 0;
}

void aio_strv_done(struct aio_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* Parses value for key k into conf; where says where it came from
 * ("--interval" or "agent.conf:3") for the error message. */
static int set_value(const struct aio_conf_key *k, void *conf, const char *value, const char *where,
                     char *err, size_t errlen)
{
	void *field = (char *)conf + k->offset;
	uint64_t v = 0;
	int r = 0;

	if (strlen(value) > AIO_CONF_VALUE_MAX) {
		set_err(err, errlen, "%s: value longer than %d bytes", where, AIO_CONF_VALUE_MAX);
		return -EINVAL;
	}
	switch (k->type) {
	case AIO_CONF_STRING: {
		char *copy = strdup(value);

		if (!copy)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case AIO_CONF_LIST:
		r = aio_strv_push(field, value);
		if (r == -E2BIG) {
			set_err(err, errlen, "%s: more than %d values", where, AIO_CONF_LIST_MAX);
			return -EINVAL;
		}
		return r;
	case AIO_CONF_BOOL:
		r = parse_bool(value, field);
		break;
	case AIO_CONF_LOGLEVEL:
		r = aio_log_level_parse(value, field);
		break;
	case AIO_CONF_UINT:
		r = aio_uint_parse(value, &v);
		break;
	case AIO_CONF_DURATION:
		r = aio_duration_parse(value, &v);
		break;
	case AIO_CONF_SIZE:
		r = aio_size_parse(value, &v);
		break;
	}
	if (r < 0) {
		set_err(err, errlen, "%s %s: not %s", where, value, type_example(k));
		return -EINVAL;
	}
	if (k->type == AIO_CONF_UINT || k->type == AIO_CONF_DURATION || k->type == AIO_CONF_SIZE) {
		if (v < k->min || v > k->max) {
			char lo[32], hi[32];

			if (k->type == AIO_CONF_DURATION) {
				aio_duration_format(k->min, lo, sizeof(lo));
				aio_duration_format(k->max, hi, sizeof(hi));
			} else {
				snprintf(lo, sizeof(lo), "%llu", (unsigned long long)k->min);
				snprintf(hi, sizeof(hi), "%llu", (unsigned long long)k->max);
			}
			set_err(err, errlen, "%s %s: out of range (%s to %s)", where, value, lo,
			        hi);
			return -EINVAL;
		}
		*(uint64_t *)field = v;
	}
	return 0;
}

void aio_conf_defaults(const struct aio_conf_spec *spec, void *conf)
{
	for (size_t i = 0; i < spec->n_keys; i++) {
		const struct aio_conf_key *k = &spec->keys[i];
		char err[256];

		if (!k->def)
			continue;
		/* a default that fails its own bounds is a bug in the table */
		if (set_value(k, conf, k->def, k->name, err, sizeof(err)) < 0)
			abort();
	}
}

void aio_conf_done(const struct aio_conf_spec *spec, void *conf)
{
	for (size_t i = 0; i < spec->n_keys; i++) {
		const struct aio_conf_key *k = &spec->keys[i];
		void *field = (char *)conf + k->offset;

		if (k->type == AIO_CONF_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (k->type == AIO_CONF_LIST) {
			aio_strv_done(field);
		}
	}
}

static bool is_live(const struct aio_conf_spec *spec, const struct aio_conf_key *k)
{
	for (const char *const *p = spec->live; p && *p; p++)
		if (!strcmp(*p, k->name))
			return true;
	return false;
}

static bool same_value(const struct aio_conf_key *k, const void *a, const void *b)
{
	switch (k->type) {
	case AIO_CONF_STRING: {
		const char *x = *(char *const *)a, *y = *(char *const *)b;

		return x == y || (x && y && !strcmp(x, y));
	}
	case AIO_CONF_LIST: {
		const struct aio_strv *x = a, *y = b;

		if (x->n != y->n)
			return false;
		for (size_t i = 0; i < x->n; i++)
			if (strcmp(x->v[i], y->v[i]))
				return false;
		return true;
	}
	case AIO_CONF_BOOL:
		return *(const bool *)a == *(const bool *)b;
	case AIO_CONF_LOGLEVEL:
		return *(const int *)a == *(const int *)b;
	default:
		return *(const uint64_t *)a == *(const uint64_t *)b;
	}
}

/* Stores a live scalar where other threads read it. */
static void take_value(const struct aio_conf_key *k, void *to, const void *from)
{
	switch (k->type) {
	case AIO_CONF_BOOL:
		__atomic_store_n((bool *)to, *(const bool *)from, __ATOMIC_RELAXED);
		break;
	case AIO_CONF_LOGLEVEL:
		__atomic_store_n((int *)to, *(const int *)from, __ATOMIC_RELAXED);
		aio_log_set_level(*(const int *)from); /* the one level the log keeps */
		break;
	case AIO_CONF_UINT:
	case AIO_CONF_DURATION:
	case AIO_CONF_SIZE:
		__atomic_store_n((uint64_t *)to, *(const uint64_t *)from, __ATOMIC_RELAXED);
		break;
	default:
		break; /* strings and lists are never live */
	}
}

int aio_conf_reload(const struct aio_conf_spec *spec, void *conf, size_t size, int argc,
                    char **argv)
{
	void *next = calloc(1, size);
	char err[512];
	int r, taken = 0;

	if (!next)
		return -ENOMEM;
	r = aio_conf_load(spec, next, argc, argv, err, sizeof(err));
	if (r < 0) {
		log_err("reload: %s; nothing changed", err);
		aio_conf_done(spec, next);
		free(next);
		return -EINVAL;
	}
	for (size_t i = 0; i < spec->n_keys; i++) {
		const struct aio_conf_key *k = &spec->keys[i];
		void *to = (char *)conf + k->offset, *from = (char *)next + k->offset;

		if (same_value(k, to, from))
			continue;
		if (is_live(spec, k) && k->type != AIO_CONF_STRING && k->type != AIO_CONF_LIST) {
			take_value(k, to, from);
			log_info("reload: %s changed, in effect now", k->name);
			taken++;
		} else {
			log_warn("reload: %s changed: takes effect after a restart", k->name);
		}
	}
	aio_conf_done(spec, next);
	free(next);
	return taken;
}

static const struct aio_conf_key *find_key(const struct aio_conf_spec *spec, const char *name)
{
	for (size_t i = 0; i < spec->n_keys; i++)
		if (strcmp(spec->keys[i].name, name) == 0)
			return &spec->keys[i];
	return NULL;
}

struct file_ctx {
	const struct aio_conf_spec *spec;
	void *conf;
	const char *path;
	char *err;
	size_t errlen;
	FILE *file;
	int line;
	int result;
};

/* Debian's libinih is built without line numbers in the handler, so the
 * reader counts lines for the error messages. */
static char *read_line(char *str, int num, void *stream)
{
	struct file_ctx *fc = stream;
	char *s = fgets(str, num, fc->file);

	if (s && strchr(s, '\n'))
		fc->line++;
	return s;
}

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct file_ctx *fc = user;
	int lineno = fc->line;
	const struct aio_conf_key *k;
	char where[512];

	snprintf(where, sizeof(where), "%s:%d: %s", fc->path, lineno, name);
	if (section && *section) {
		set_err(fc->err, fc->errlen, "%s:%d: sections are not used ([%s])", fc->path,
		        lineno, section);
		fc->result = -EINVAL;
		return 0;
	}
	k = find_key(fc->spec, name);
	if (!k || strcmp(name, "config") == 0) {
		set_err(fc->err, fc->errlen, "%s: unknown key (see %s --help)", where,
		        fc->spec->prog);
		fc->result = -EINVAL;
		return 0;
	}
	fc->result = set_value(k, fc->conf, value, where, fc->err, fc->errlen);
	return fc->result == 0;
}

int aio_conf_load_fp(const struct aio_conf_spec *spec, void *conf, FILE *f, const char *name,
                     char *err, size_t errlen)
{
	struct file_ctx fc = { spec, conf, name, err, errlen, f, 0, 0 };
	int r = ini_parse_stream(read_line, &fc, on_ini_line, &fc);

	if (fc.result < 0)
		return fc.result;
	if (r != 0) {
		set_err(err, errlen, "%s:%d: not a 'key = value' line", name, r);
		return -EINVAL;
	}
	return 0;
}

int aio_conf_load_file(const struct aio_conf_spec *spec, void *conf, const char *path, char *err,
                       size_t errlen)
{
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		r = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = aio_conf_load_fp(spec, conf, f, path, err, errlen);
	fclose(f);
	return r;
}

/* getopt_long's table, built from the key table. The caller frees it. */
static struct option *build_options(const struct aio_conf_spec *spec)
{
	struct option *opts = calloc(spec->n_keys + 3, sizeof(*opts));
	size_t n = 0;

	if (!opts)
		return NULL;
	for (size_t i = 0; i < spec->n_keys; i++) {
		const struct aio_conf_key *k = &spec->keys[i];

		opts[n].name = k->name;
		opts[n].has_arg = k->type == AIO_CONF_BOOL ? optional_argument : required_argument;
		opts[n].val = KEY_BASE + (int)i;
		n++;
	}
	opts[n++] = (struct option){ "help", no_argument, NULL, KEY_HELP };
	opts[n++] = (struct option){ "version", no_argument, NULL, KEY_VERSION };
	return opts;
}

static const char *bad_option_name(int argc, char **argv)
{
	return optind > 0 && optind <= argc ? argv[optind - 1] : "?";
}

int aio_conf_load(const struct aio_conf_spec *spec, void *conf, int argc, char **argv, char *err,
                  size_t errlen)
{
	const struct aio_conf_key *config_key = find_key(spec, "config");
	struct option *opts = build_options(spec);
	const char *config_path = NULL;
	int c, r = 0;

	if (!opts)
		return -ENOMEM;
	aio_conf_defaults(spec, conf);

	/* Pass 1: find --config, so that flags can override the file. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c >= KEY_BASE && &spec->keys[c - KEY_BASE] == config_key)
			config_path = optarg;
	}
	if (config_path || (spec->default_file && access(spec->default_file, F_OK) == 0)) {
		r = aio_conf_load_file(spec, conf, config_path ? config_path : spec->default_file,
		                       err, errlen);
		if (r < 0)
			goto out_free_opts;
	}

	/* Pass 2: the flags. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char where[128];

		if (c == KEY_HELP) {
			aio_conf_usage(spec, stdout);
			r = AIO_CONF_EXIT;
			goto out_free_opts;
		}
		if (c == KEY_VERSION) {
			printf("%s %s\n", spec->prog, AIO_VERSION);
			r = AIO_CONF_EXIT;
			goto out_free_opts;
		}
		if (c == '?' || c == ':') {
			const char *bad = bad_option_name(argc, argv);

			if (optopt >= KEY_BASE && (size_t)(optopt - KEY_BASE) < spec->n_keys)
				set_err(err, errlen, "%s needs a value: %s (see --help)", bad,
				        type_example(&spec->keys[optopt - KEY_BASE]));
			else
				set_err(err, errlen, "unknown option %s (see %s --help)", bad,
				        spec->prog);
			r = -EINVAL;
			goto out_free_opts;
		}
		c -= KEY_BASE;
		snprintf(where, sizeof(where), "--%s", spec->keys[c].name);
		if (&spec->keys[c] == config_key)
			continue;
		r = set_value(&spec->keys[c], conf, optarg ? optarg : "yes", where, err, errlen);
		if (r < 0)
			goto out_free_opts;
	}
	if (optind < argc) {
		set_err(err, errlen, "unexpected argument '%s' (see %s --help)", argv[optind],
		        spec->prog);
		r = -EINVAL;
	}

out_free_opts:
	free(opts);
	return r;
}

void aio_conf_usage(const struct aio_conf_spec *spec, FILE *f)
{
	fprintf(f, "Usage: %s [OPTIONS]\n%s\n\nOptions (also keys of the config file", spec->prog,
	        spec->summary);
	if (spec->default_file)
		fprintf(f, " %s", spec->default_file);
	fprintf(f, "):\n");
	for (size_t i = 0; i < spec->n_keys; i++) {
		const struct aio_conf_key *k = &spec->keys[i];
		char opt[64];

		snprintf(opt, sizeof(opt), "--%s %s", k->name, k->metavar ? k->metavar : "");
		fprintf(f, "  %-28s %s", opt, k->help);
		if (k->def)
			fprintf(f, " [%s]", k->def);
		fputc('\n', f);
	}
	fprintf(f, "  %-28s %s\n  %-28s %s\n", "--help", "show this help", "--version",
	        "show the version");
}
