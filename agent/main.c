/* aio-agent: samples this hypervisor's AIO counters and reports them. */
#include <errno.h>
#include <malloc.h>
#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct agent a;
	char err[512];
	sigset_t sigs;
	int r, sig = 0;

	/* a small daemon: one malloc arena, not one per thread */
	mallopt(M_ARENA_MAX, 1);
	memset(&a, 0, sizeof(a));
	r = aio_conf_load(&agent_config_spec, &a.conf, argc, argv, err, sizeof(err));
	if (r == AIO_CONF_EXIT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "aio-agent: %s\n", err);
		aio_conf_done(&agent_config_spec, &a.conf);
		return 64;
	}
	aio_log_init("aio-agent", a.conf.log_level);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	r = agent_init(&a);
	if (r == 0)
		r = agent_start(&a);
	if (r == 0) {
		do
			sigwait(&sigs, &sig);
		while (sig == SIGPIPE);
		log_info("stopping (%s)", strsignal(sig));
		agent_stop(&a);
	}
	agent_done(&a);
	aio_conf_done(&agent_config_spec, &a.conf);
	nng_fini();
	return r == 0 ? 0 : r == -EINVAL ? 64 : 1;
}
