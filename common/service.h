/* The daemons' side of systemd (sd_notify, from libsystemd): readiness,
 * reloading, stopping and the watchdog. Outside a unit that asks for them
 * (no NOTIFY_SOCKET, no WATCHDOG_USEC) every call is a no-op. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aio_conf_spec;

struct aio_service {
	/* whether the process is well, its loops having moved within
	 * within_ms: false (with a reason in why) withholds the watchdog's
	 * ping, so systemd restarts a process that hangs */
	bool (*healthy)(void *arg, uint64_t within_ms, char *why, size_t len);
	void *arg;
	/* SIGHUP reads the config again (aio_conf_reload) into conf, loaded
	 * from argv with spec */
	const struct aio_conf_spec *spec;
	void *conf;
	size_t conf_size;
	int argc;
	char **argv;
};

/* "READY=1" with a status line. */
void aio_service_ready(const char *status);
void aio_service_stopping(void);

/* Waits for SIGINT or SIGTERM (returned), pinging the watchdog at half its
 * interval while healthy() holds and reloading the config on SIGHUP; the
 * three and SIGPIPE must be blocked in every thread. */
int aio_service_run(const struct aio_service *svc);
/* The signals aio_service_run takes, for pthread_sigmask. */
void aio_service_sigset(sigset_t *set);
