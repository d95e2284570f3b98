/* The real kernel: an agent with --sysroot / reports fs.aio-nr rising by
 * exactly the events another process asked for with io_setup(). Only
 * fs.aio-nr moves; fs.aio-max-nr is never written. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define EVENTS   777
#define CONTEXTS 3

static struct h_env env;

static void setup(void)
{
	h_env_init(&env);
}

static void teardown(void)
{
	h_env_fini(&env);
}

TestSuite(kernel, .init = setup, .fini = teardown, .timeout = 120);

static long long reported(struct h_env *e)
{
	json_t *fleet = h_fleet(e), *h;
	long long v = -1;

	if (!fleet)
		return -1;
	h = h_fleet_host(fleet, "real");
	if (h && json_is_integer(json_object_get(h, "aio_nr")))
		v = json_integer_value(json_object_get(h, "aio_nr"));
	json_decref(fleet);
	return v;
}

static bool reports(struct h_env *e, void *arg)
{
	return reported(e) == *(long long *)arg;
}

static bool reports_any(struct h_env *e, void *arg)
{
	return (*(long long *)arg = reported(e)) >= 0;
}

static long long read_aio_nr(void)
{
	FILE *f = fopen("/proc/sys/fs/aio-nr", "r");
	long long v = -1;

	cr_assert(f);
	cr_assert_eq(fscanf(f, "%lld", &v), 1);
	fclose(f);
	return v;
}

Test(kernel, agent_sees_io_setup_come_and_go)
{
	char events[16], contexts[16];
	const char *argv[] = { AIO_TEST_BIN_DIR "/aio-hold", events, contexts, NULL };
	long long base, want;
	int release, status;
	pid_t pid;

	h_server_start(&env);
	h_agent_start(&env, "real", "/", "200ms", NULL);
	cr_assert(h_wait(reports_any, &env, &base, 10000), "no report from the real kernel");
	/* others may hold contexts too: start from a value that stays put */
	base = read_aio_nr();
	cr_assert(h_wait(reports, &env, &base, 5000));

	snprintf(events, sizeof(events), "%d", EVENTS);
	snprintf(contexts, sizeof(contexts), "%d", CONTEXTS);
	pid = h_aio_hold(argv, &release);

	want = base + EVENTS * CONTEXTS;
	cr_expect(h_wait(reports, &env, &want, 5000), "aio-nr should rise by exactly %d",
	          EVENTS * CONTEXTS);

	close(release); /* aio-hold exits, the kernel frees its contexts */
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(h_wait(reports, &env, &base, 5000), "aio-nr should fall back to %lld", base);
}
