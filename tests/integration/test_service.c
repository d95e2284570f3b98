/* The daemons' side of systemd, spoken to a notify socket of the test's own
 * (what systemd listens on for Type=notify): READY=1 once serving,
 * WATCHDOG=1 while the loops move and not once one is stuck, RELOADING=1
 * and READY=1 around SIGHUP (which takes the live keys), STOPPING=1. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static struct h_env env;
static int notify_fd = -1;
static char notify_path[300], conf[300], root[300];

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	h_env_init(&env);
	snprintf(notify_path, sizeof(notify_path), "%s/notify", env.dir);
	cr_assert(strlen(notify_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert(notify_fd >= 0);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	snprintf(conf, sizeof(conf), "%s/aio.conf", env.dir);
}

/* What systemd gives a Type=notify service with WatchdogSec=400ms, for
 * the processes started while on. */
static void notify_env(bool on)
{
	if (on) {
		setenv("NOTIFY_SOCKET", notify_path, 1);
		setenv("WATCHDOG_USEC", "400000", 1);
	} else {
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
	}
}

static void teardown(void)
{
	notify_env(false);
	h_env_fini(&env);
	close(notify_fd);
}

TestSuite(service, .init = setup, .fini = teardown, .timeout = 60);

/* Reads notify messages until one holds want (a line such as "READY=1"),
 * for at most timeout_ms; the message is copied to got if asked. */
static bool notified(const char *want, int timeout_ms, char *got, size_t len)
{
	uint64_t end = h_mono_ms() + (uint64_t)timeout_ms;
	char buf[4096];

	while (h_mono_ms() < end) {
		ssize_t n = recv(notify_fd, buf, sizeof(buf) - 1, 0);

		if (n < 0) {
			usleep(10000); /* a datagram socket: nothing to wait on but time */
			continue;
		}
		buf[n] = '\0';
		if (got)
			snprintf(got, len, "%s", buf);
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
			if (!strcmp(line, want))
				return true;
	}
	return false;
}

static void drain(void)
{
	char buf[4096];

	while (recv(notify_fd, buf, sizeof(buf), 0) > 0)
		;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

static char *file_text(const char *name)
{
	char path[400], *buf = calloc(1, 1 << 20);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.log", env.dir, name);
	cr_assert(buf && (f = fopen(path, "r")));
	buf[fread(buf, 1, (1 << 20) - 1, f)] = '\0';
	fclose(f);
	return buf;
}

static bool logged(struct h_env *e, void *arg)
{
	char *log = file_text("agent-hv1");
	bool found = strstr(log, arg) != NULL;

	free(log);
	return found;
}

struct room_alert {
	bool want;
};

static bool room_alert_is(struct h_env *e, void *arg)
{
	const char *args[] = { "alerts", NULL };
	json_t *j = h_aioctl_json(e, args), *a;
	bool found = false;
	size_t i;

	json_array_foreach(json_object_get(j, "alerts"), i, a)
	{
		found |= !strcmp(json_string_value(json_object_get(a, "kind")), "room");
	}
	json_decref(j);
	return found == ((struct room_alert *)arg)->want;
}

Test(service, server_ready_watchdog_reload_stopping)
{
	struct room_alert none = { false }, some = { true };
	char msg[4096], *log;

	/* three contexts of room: under 4, not under 2 */
	write_conf("alert-interval = 100ms\nalert-room = 2\nmax-admin-connections = 64\n");
	env.server_extra[0] = "--config";
	env.server_extra[1] = conf;
	notify_env(true);
	h_server_start(&env);
	notify_env(false);
	cr_assert(notified("READY=1", 10000, msg, sizeof(msg)), "no READY=1");
	cr_expect(strstr(msg, "STATUS=agents on tcp://127.0.0.1:"), "%s", msg);
	cr_expect(notified("WATCHDOG=1", 2000, NULL, 0), "pings at half of WatchdogSec");
	h_sysroot_make(&env, "root", 65536 - 3 * 1024, 65536, root, sizeof(root));
	h_agent_start(&env, "hv1", root, "200ms", NULL);
	cr_assert(h_wait(room_alert_is, &env, &none, 5000));

	write_conf("alert-interval = 100ms\nalert-room = 4\nmax-admin-connections = 32\n");
	drain();
	cr_assert_eq(kill(env.server, SIGHUP), 0);
	cr_assert(notified("RELOADING=1", 5000, msg, sizeof(msg)), "no RELOADING=1");
	cr_expect(strstr(msg, "MONOTONIC_USEC="), "%s", msg);
	cr_assert(notified("READY=1", 5000, NULL, 0), "no READY=1 after the reload");
	cr_expect(h_wait(room_alert_is, &env, &some, 5000), "alert-room 4 is in effect");
	log = file_text("server");
	cr_expect(strstr(log, "reload: alert-room changed, in effect now"), "%s", log);
	cr_expect(
	        strstr(log, "reload: max-admin-connections changed: takes effect after a restart"),
	        "%s", log);
	free(log);

	write_conf("alert-room = lots\n");
	cr_assert_eq(kill(env.server, SIGHUP), 0);
	cr_assert(notified("READY=1", 5000, NULL, 0));
	cr_expect(h_alive(env.server), "a bad config on reload stops nothing");
	log = file_text("server");
	cr_expect(strstr(log, "nothing changed"), "%s", log);
	free(log);

	kill(env.server, SIGTERM);
	cr_expect(notified("STOPPING=1", 5000, NULL, 0), "no STOPPING=1");
	cr_expect_eq(h_stop(&env, env.server), 0);
	env.server = 0;
}

/* An agent whose sampling loop hangs (its aio-nr became a FIFO nobody
 * writes: the read blocks) stops pinging, so systemd would restart it. */
Test(service, agent_withholds_the_watchdog_when_its_loop_hangs)
{
	char msg[4096], nr[400];
	pid_t agent;

	h_server_start(&env);
	h_sysroot_make(&env, "root", 1024, 65536, root, sizeof(root));
	notify_env(true);
	agent = h_agent_start(&env, "hv1", root, "200ms", NULL);
	notify_env(false);
	cr_assert(notified("READY=1", 10000, msg, sizeof(msg)), "no READY=1");
	cr_expect(strstr(msg, "STATUS=reporting to tcp://127.0.0.1:"), "%s", msg);
	cr_expect(notified("WATCHDOG=1", 2000, NULL, 0), "pings while sampling");
	snprintf(nr, sizeof(nr), "%s/proc/sys/fs/aio-nr", root);
	cr_assert_eq(unlink(nr), 0);
	cr_assert_eq(mkfifo(nr, 0600), 0);
	/* the loop blocks on its next read: once the agent says so, no ping */
	cr_expect(h_wait(logged, &env, "not pinging the watchdog: no sample for", 10000));
	drain();
	cr_expect_not(notified("WATCHDOG=1", 1000, NULL, 0), "no ping from a stuck agent");
	kill(agent, SIGKILL);
}
