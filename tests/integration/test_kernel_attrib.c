/* Attribution on the real kernel: a process that looks like QEMU for VM
 * test-vm holds AIO contexts; the agent with --sysroot / names them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

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

TestSuite(kernel_attrib, .init = setup, .fini = teardown, .timeout = 120);

static bool attributed(struct h_env *e, void *arg)
{
	const char *args[] = { "host", "show", "real", NULL };
	json_t *j = h_aioctl_json(e, args), *u;
	bool ok;

	if (!j)
		return false;
	u = h_json_find(json_object_get(j, "users"), "name", "test-vm");
	ok = u && json_integer_value(json_object_get(u, "contexts")) == *(int *)arg;
	if (ok) {
		json_int_t events = json_integer_value(json_object_get(u, "events"));

		cr_expect(json_is_true(json_object_get(u, "vm")));
		/* the estimate bounds 3 x 1024 from above, within 64 a context */
		cr_expect_geq(events, CONTEXTS * 1024);
		cr_expect_lt(events, CONTEXTS * (1024 + 64));
		cr_expect_str_eq(json_string_value(json_object_get(j, "counting")), "single",
		                 "a modern kernel counts nr_events once");
	}
	json_decref(j);
	return ok;
}

static bool released(struct h_env *e, void *arg)
{
	const char *args[] = { "host", "show", "real", NULL };
	json_t *j = h_aioctl_json(e, args);
	bool ok = j && !h_json_find(json_object_get(j, "users"), "name", "test-vm");

	json_decref(j);
	return ok;
}

Test(kernel_attrib, names_the_vm_holding_contexts)
{
	const char *argv[] = { AIO_TEST_BIN_DIR "/aio-hold",     "1024", "3", "-name",
		               "guest=test-vm,debug-threads=on", NULL };
	const char *fast[] = { "--attribution-interval", "1s", NULL };
	int release, want = CONTEXTS;
	pid_t pid;

	h_server_start(&env);
	h_agent_start(&env, "real", "/", "300ms", fast);
	pid = h_aio_hold(argv, &release);

	cr_expect(h_wait(attributed, &env, &want, 10000),
	          "the agent should attribute exactly %d contexts to test-vm", CONTEXTS);
	{
		/* the VM's usage is kept: its last change shows its contexts */
		const char *args[] = { "history", "real", "--vm", "test-vm", NULL };
		json_t *j = h_aioctl_json(&env, args), *pts;

		cr_assert_not_null(j);
		pts = json_object_get(j, "points");
		cr_assert_geq(json_array_size(pts), 1);
		cr_expect_eq(json_integer_value(json_object_get(
		                     json_array_get(pts, json_array_size(pts) - 1), "contexts")),
		             CONTEXTS);
		json_decref(j);
	}

	close(release);
	waitpid(pid, NULL, 0);
	cr_expect(h_wait(released, &env, NULL, 10000), "test-vm gone once its process exits");
}

static bool named(struct h_env *e, void *arg)
{
	const char *args[] = { "host", "show", "real", NULL };
	json_t *j = h_aioctl_json(e, args);
	bool ok = j && h_json_find(json_object_get(j, "users"), "name", arg);

	json_decref(j);
	return ok;
}

/* Any local user can set argv: a VM name with a terminal control and a
 * byte that is not UTF-8 once made the server refuse the whole report and
 * the agent drop it, samples and events with it, uncounted. */
Test(kernel_attrib, a_name_with_control_bytes_is_escaped_not_lost)
{
	const char *argv[] = { AIO_TEST_BIN_DIR "/aio-hold",        "1024", "1", "-name",
		               "guest=evil\x1b]0;owned\x07\xff-vm", NULL };
	const char *fast[] = { "--attribution-interval", "1s", NULL };
	const char *show[] = { "host", "show", "real", NULL };
	json_t *j;
	int release;
	pid_t pid;

	h_server_start(&env);
	h_agent_start(&env, "real", "/", "300ms", fast);
	pid = h_aio_hold(argv, &release);
	cr_expect(h_wait(named, &env, "evil\\x1b]0;owned\\x07\\xff-vm", 10000),
	          "the agent sends the name escaped, and the server keeps it");
	j = h_aioctl_json(&env, show);
	cr_assert_not_null(j);
	cr_expect_eq(json_integer_value(json_object_get(j, "dropped_reports")), 0,
	             "no report dropped");
	json_decref(j);
	close(release);
	waitpid(pid, NULL, 0);
}
