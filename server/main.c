/* aio-server: receives agents' reports, keeps history, runs rollouts. */
#include <inttypes.h>
#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "db.h"
#include "log.h"
#include "server.h"
#include "service.h"
#include "store_copy.h"

/* Every write goes through the database thread: one stuck in a batch for
 * the watchdog's whole interval means nothing is stored. */
static bool healthy(void *arg, uint64_t within_ms, char *why, size_t len)
{
	struct server *s = arg;
	uint64_t age = server_db_batch_age_ms(s->db);

	if (age < within_ms)
		return true;
	snprintf(why, len, "the database thread has been in one batch for %" PRIu64 " ms", age);
	return false;
}

int main(int argc, char **argv)
{
	struct server s;
	struct aio_service svc = { healthy, &s,  &server_config_spec, &s.conf, sizeof(s.conf),
		                   argc,    argv };
	char err[512], status[128];
	sigset_t sigs;
	struct rlimit rl;
	int r, sig = 0;

	memset(&s, 0, sizeof(s));
	r = aio_conf_load(&server_config_spec, &s.conf, argc, argv, err, sizeof(err));
	if (r == AIO_CONF_EXIT) {
		aio_conf_done(&server_config_spec, &s.conf);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "aio-server: %s\n", err);
		aio_conf_done(&server_config_spec, &s.conf);
		return 64;
	}
	aio_log_init("aio-server", s.conf.log_level);
	if (s.conf.migrate_from) {
		r = server_store_copy(s.conf.migrate_from, s.conf.db ? s.conf.db : "", err,
		                      sizeof(err));
		if (r < 0)
			fprintf(stderr, "aio-server: --migrate-from %s: %s\n", s.conf.migrate_from,
			        err);
		aio_conf_done(&server_config_spec, &s.conf);
		return r < 0 ? 1 : 0;
	}
	/* one descriptor per connected agent: take what the system allows */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	/* signals are taken by the main loop below, not by whatever thread runs */
	aio_service_sigset(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	r = server_start(&s);
	if (r == 0) {
		log_info("aio-server %s ready", AIO_VERSION);
		snprintf(status, sizeof(status), "agents on %s, aioctl on %s", s.conf.listen,
		         s.conf.admin_listen);
		aio_service_ready(status);
		sig = aio_service_run(&svc);
		log_info("stopping (%s)", strsignal(sig));
		aio_service_stopping();
	}
	server_stop(&s);
	aio_conf_done(&server_config_spec, &s.conf);
	nng_fini();
	return r == 0 ? 0 : 1;
}
