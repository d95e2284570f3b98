/* aio-server: receives agents' reports, keeps history, runs rollouts. */
#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "server.h"

int main(int argc, char **argv)
{
	struct server s;
	char err[512];
	sigset_t sigs;
	struct rlimit rl;
	int r, sig = 0;

	memset(&s, 0, sizeof(s));
	r = aio_conf_load(&server_config_spec, &s.conf, argc, argv, err, sizeof(err));
	if (r == AIO_CONF_EXIT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "aio-server: %s\n", err);
		aio_conf_done(&server_config_spec, &s.conf);
		return 64;
	}
	aio_log_init("aio-server", s.conf.log_level);
	/* one descriptor per connected agent: take what the system allows */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	/* signals are taken by sigwait below, not by whatever thread runs */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	r = server_start(&s);
	if (r == 0) {
		log_info("aio-server %s ready", AIO_VERSION);
		do
			sigwait(&sigs, &sig);
		while (sig == SIGPIPE);
		log_info("stopping (%s)", strsignal(sig));
	}
	server_stop(&s);
	aio_conf_done(&server_config_spec, &s.conf);
	nng_fini();
	return r == 0 ? 0 : 1;
}
