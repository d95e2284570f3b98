#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

struct test_conf {
	char *config;
	char *server;
	uint64_t interval_ms;
	uint64_t count;
	uint64_t size;
	bool flag;
	struct aio_strv labels;
	int level;
};

static const struct aio_conf_key keys[] = {
	{ "config", AIO_CONF_STRING, offsetof(struct test_conf, config), NULL, 0, 0, "FILE", "f" },
	{ "server", AIO_CONF_STRING, offsetof(struct test_conf, server), "tcp://a:1", 0, 0, "URL",
	  "s" },
	{ "interval", AIO_CONF_DURATION, offsetof(struct test_conf, interval_ms), "10s", 100,
	  3600000, "DUR", "i" },
	{ "count", AIO_CONF_UINT, offsetof(struct test_conf, count), "5", 1, 100, "N", "c" },
	{ "size", AIO_CONF_SIZE, offsetof(struct test_conf, size), "1MiB", 4096, 1 << 30, "SIZE",
	  "z" },
	{ "flag", AIO_CONF_BOOL, offsetof(struct test_conf, flag), "no", 0, 0, "", "b" },
	{ "label", AIO_CONF_LIST, offsetof(struct test_conf, labels), NULL, 0, 0, "K=V", "l" },
	{ "log-level", AIO_CONF_LOGLEVEL, offsetof(struct test_conf, level), "info", 0, 0, "L",
	  "v" },
};

static const char *const live[] = { "count", "log-level", "server", NULL };
static const struct aio_conf_spec spec = {
	"test", "a test", keys, sizeof(keys) / sizeof(keys[0]), NULL, live,
};

static char file[64];
static struct test_conf conf;
static char err[512];

static void setup(void)
{
	int fd;

	snprintf(file, sizeof(file), "/tmp/aioctl-conf-XXXXXX");
	fd = mkstemp(file);
	cr_assert(fd >= 0);
	close(fd);
	memset(&conf, 0, sizeof(conf));
	err[0] = '\0';
}

static void teardown(void)
{
	aio_conf_done(&spec, &conf);
	unlink(file);
}

TestSuite(conf, .init = setup, .fini = teardown);

static void write_file(const char *text)
{
	FILE *f = fopen(file, "w");

	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

static int load(int argc, const char **argv)
{
	return aio_conf_load(&spec, &conf, argc, (char **)argv, err, sizeof(err));
}

Test(conf, defaults)
{
	const char *argv[] = { "test", NULL };

	cr_assert_eq(load(1, argv), 0, "%s", err);
	cr_expect_str_eq(conf.server, "tcp://a:1");
	cr_expect_eq(conf.interval_ms, 10000);
	cr_expect_eq(conf.count, 5);
	cr_expect_eq(conf.size, 1 << 20);
	cr_expect_not(conf.flag);
	cr_expect_eq(conf.labels.n, 0);
	cr_expect_eq(conf.level, AIO_LOG_INFO);
}

Test(conf, file_then_flags_win)
{
	const char *argv[] = { "test", "--config", file, "--count", "7", "--label", "b=2", NULL };

	write_file("# comment\nserver = tcp://b:2\ncount = 3\ninterval = 500ms\n"
	           "label = a=1\nflag = yes\nsize = 64KiB\nlog-level = debug\n");
	cr_assert_eq(load(7, argv), 0, "%s", err);
	cr_expect_str_eq(conf.server, "tcp://b:2");
	cr_expect_eq(conf.count, 7, "the flag beats the file");
	cr_expect_eq(conf.interval_ms, 500);
	cr_expect(conf.flag);
	cr_expect_eq(conf.size, 65536);
	cr_expect_eq(conf.level, AIO_LOG_DEBUG);
	cr_assert_eq(conf.labels.n, 2);
	cr_expect_str_eq(conf.labels.v[0], "a=1");
	cr_expect_str_eq(conf.labels.v[1], "b=2");
}

/* SIGHUP: the live keys that changed are taken, the others wait for a
 * restart (a string is never swapped under a running thread), flags still
 * win, and a config that no longer loads changes nothing. */
Test(conf, reload_takes_live_keys_only)
{
	const char *argv[] = { "test", "--config", file, "--size", "8KiB", NULL };

	write_file("server = tcp://b:2\ncount = 3\ninterval = 500ms\n");
	cr_assert_eq(load(5, argv), 0, "%s", err);
	write_file(
	        "server = tcp://c:3\ncount = 9\ninterval = 2s\nsize = 1MiB\nlog-level = debug\n");
	cr_expect_eq(aio_conf_reload(&spec, &conf, sizeof(conf), 5, (char **)argv), 2);
	cr_expect_eq(conf.count, 9, "live: taken");
	cr_expect_eq(conf.level, AIO_LOG_DEBUG, "live: taken");
	cr_expect_eq(conf.interval_ms, 500, "not live: after a restart");
	cr_expect_str_eq(conf.server, "tcp://b:2", "a string stays until a restart");
	cr_expect_eq(conf.size, 8192, "the flag still wins");
	write_file("count = 1000\n");
	cr_expect_eq(aio_conf_reload(&spec, &conf, sizeof(conf), 5, (char **)argv), -EINVAL);
	cr_expect_eq(conf.count, 9, "a bad file changes nothing");
}

Test(conf, unknown_key_names_file_and_line)
{
	const char *argv[] = { "test", "--config", file, NULL };

	write_file("count = 3\n\nintervall = 5s\n");
	cr_assert_eq(load(3, argv), -EINVAL);
	cr_expect(strstr(err, ":3:"), "line number in: %s", err);
	cr_expect(strstr(err, "intervall"), "key in: %s", err);
	cr_expect(strstr(err, "unknown key"), "%s", err);
}

Test(conf, bad_values_in_file)
{
	const char *argv[] = { "test", "--config", file, NULL };

	write_file("interval = 5 seconds\n");
	cr_assert_eq(load(3, argv), -EINVAL);
	cr_expect(strstr(err, ":1:") && strstr(err, "not a duration"), "%s", err);
}

Test(conf, sections_refused)
{
	const char *argv[] = { "test", "--config", file, NULL };

	write_file("[agent]\ncount = 3\n");
	cr_assert_eq(load(3, argv), -EINVAL);
	cr_expect(strstr(err, "sections"), "%s", err);
}

Test(conf, bounds)
{
	const char *too_small[] = { "test", "--interval", "50ms", NULL };
	const char *too_big[] = { "test", "--count", "101", NULL };
	const char *edge[] = { "test", "--count", "100", "--interval", "100ms", NULL };

	cr_expect_eq(load(3, too_small), -EINVAL);
	cr_expect(strstr(err, "--interval 50ms: out of range (100ms to 1h)"), "%s", err);
	aio_conf_done(&spec, &conf);
	cr_expect_eq(load(3, too_big), -EINVAL);
	cr_expect(strstr(err, "--count 101: out of range (1 to 100)"), "%s", err);
	aio_conf_done(&spec, &conf);
	cr_expect_eq(load(5, edge), 0, "%s", err);
}

Test(conf, bad_flags)
{
	const char *unknown[] = { "test", "--nope", NULL };
	const char *novalue[] = { "test", "--count", NULL };
	const char *notnum[] = { "test", "--count", "12abc", NULL };
	const char *extra[] = { "test", "stray", NULL };
	const char *badlevel[] = { "test", "--log-level", "loud", NULL };

	cr_expect_eq(load(2, unknown), -EINVAL);
	cr_expect(strstr(err, "unknown option --nope"), "%s", err);
	cr_expect_eq(load(2, novalue), -EINVAL);
	cr_expect(strstr(err, "needs a value"), "%s", err);
	cr_expect_eq(load(3, notnum), -EINVAL);
	cr_expect(strstr(err, "--count 12abc: not a whole number"), "%s", err);
	cr_expect_eq(load(2, extra), -EINVAL);
	cr_expect(strstr(err, "stray"), "%s", err);
	cr_expect_eq(load(3, badlevel), -EINVAL);
	cr_expect(strstr(err, "error, warning, info or debug"), "%s", err);
}

Test(conf, missing_config_file)
{
	const char *argv[] = { "test", "--config", "/nonexistent/x.conf", NULL };

	cr_expect_lt(load(3, argv), 0);
	cr_expect(strstr(err, "/nonexistent/x.conf"), "%s", err);
}

Test(conf, sizes)
{
	uint64_t v;

	cr_expect_eq(aio_size_parse("4096", &v), 0);
	cr_expect_eq(v, 4096);
	cr_expect_eq(aio_size_parse("2M", &v), 0);
	cr_expect_eq(v, 2 << 20);
	cr_expect_eq(aio_size_parse("1GiB", &v), 0);
	cr_expect_eq(v, 1 << 30);
	cr_expect_eq(aio_size_parse("1TB", &v), -EINVAL);
	cr_expect_eq(aio_size_parse("-1", &v), -EINVAL);
}
