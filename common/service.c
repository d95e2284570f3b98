#include "service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "libsystemd.h"
#include "log.h"

/* libsystemd when a unit's notify socket is there to talk to; NULL
 * otherwise, and nothing is loaded */
static const struct aio_libsystemd *notifier(void)
{
	static atomic_bool told;
	const struct aio_libsystemd *sd;

	if (!getenv("NOTIFY_SOCKET"))
		return NULL;
	if (!(sd = aio_libsystemd()) && !atomic_exchange(&told, true))
		log_warn("libsystemd: %s (systemd is not notified)", aio_libsystemd_error());
	return sd;
}

void aio_service_ready(const char *status)
{
	const struct aio_libsystemd *sd = notifier();

	if (sd)
		sd->notifyf(0, "READY=1\nSTATUS=%s", status);
}

void aio_service_stopping(void)
{
	const struct aio_libsystemd *sd = notifier();

	if (sd)
		sd->notify(0, "STOPPING=1\nSTATUS=stopping");
}

void aio_service_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGPIPE);
}

static void reload(const struct aio_service *svc)
{
	const struct aio_libsystemd *sd = notifier();
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* systemd 253 and later match the reload by this time */
	if (sd)
		sd->notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		            (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	log_info("SIGHUP: reading the config again");
	aio_conf_reload(svc->spec, svc->conf, svc->conf_size, svc->argc, svc->argv);
	if (sd)
		sd->notify(0, "READY=1");
}

int aio_service_run(const struct aio_service *svc)
{
	const struct aio_libsystemd *sd = notifier();
	uint64_t wd_us = 0, every_ms = 0;
	bool unwell = false;
	sigset_t set;

	aio_service_sigset(&set);
	if (sd && sd->watchdog_enabled(0, &wd_us) > 0 && wd_us >= 2000)
		every_ms = wd_us / 2000;
	for (;;) {
		struct timespec ts = { (time_t)(every_ms / 1000),
			               (long)(every_ms % 1000) * 1000000 };
		char why[256] = "";
		int sig = every_ms ? sigtimedwait(&set, NULL, &ts) : sigwaitinfo(&set, NULL);

		if (sig == SIGINT || sig == SIGTERM)
			return sig;
		if (sig == SIGHUP) {
			reload(svc);
		} else if (sig < 0 && errno == EAGAIN) {
			if (!svc->healthy ||
			    svc->healthy(svc->arg, wd_us / 1000, why, sizeof(why))) {
				sd->notify(0, "WATCHDOG=1");
				if (unwell)
					log_info("well again: pinging the watchdog");
				unwell = false;
			} else if (!unwell) {
				log_err("not pinging the watchdog: %s", why);
				unwell = true;
			}
		}
	}
}
