/* aio-agent: samples this hypervisor's AIO counters and reports them. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "guard.h"
#include "log.h"
#include "service.h"

#define AGENT_CONF_DEFAULT "/etc/aioctl/agent.conf"

/* aio-agent guard [--config FILE] NAME OP SUBOP [EXTRA]: libvirt's qemu
 * hook (guard.h), with the agent's config (AGENT_CONF_DEFAULT if there). */
static int guard(int argc, char **argv)
{
	struct agent_config conf;
	char err[512], *args[3] = { argv[0], "--config", AGENT_CONF_DEFAULT };
	int n = access(AGENT_CONF_DEFAULT, R_OK) == 0 ? 3 : 1, r;

	argv += 2;
	argc -= 2;
	if (argc >= 2 && !strcmp(argv[0], "--config")) {
		args[2] = argv[1];
		n = 3;
		argv += 2;
		argc -= 2;
	}
	memset(&conf, 0, sizeof(conf));
	if (aio_conf_load(&agent_config_spec, &conf, n, args, err, sizeof(err)) < 0) {
		/* a broken config never blocks a VM start */
		fprintf(stderr, "aio-guard: %s; the start goes on\n", err);
		aio_conf_done(&agent_config_spec, &conf);
		return 0;
	}
	/* libvirt shows the hook's stderr: the guard's one line, and errors */
	aio_log_init("aio-guard", AIO_LOG_ERR);
	r = agent_guard_main(&conf, argc, argv, stdin, stderr);
	aio_conf_done(&agent_config_spec, &conf);
	return r;
}

/* The sampling loop turns every sample-interval; one that has not turned
 * for the watchdog's interval besides is stuck. */
static bool healthy(void *arg, uint64_t within_ms, char *why, size_t len)
{
	struct agent *a = arg;
	uint64_t age = aio_mono_ms() - atomic_load(&a->sampled_ms);

	if (age < within_ms + a->conf.sample_interval_ms)
		return true;
	snprintf(why, len, "no sample for %" PRIu64 " ms", age);
	return false;
}

int main(int argc, char **argv)
{
	struct agent a;
	struct aio_service svc = { healthy, &a,  &agent_config_spec, &a.conf, sizeof(a.conf),
		                   argc,    argv };
	char err[512], status[300];
	sigset_t sigs;
	int r, sig = 0;

	/* a small daemon: one malloc arena, not one per thread */
	mallopt(M_ARENA_MAX, 1);
	if (argc >= 2 && !strcmp(argv[1], "guard"))
		return guard(argc, argv);
	memset(&a, 0, sizeof(a));
	r = aio_conf_load(&agent_config_spec, &a.conf, argc, argv, err, sizeof(err));
	if (r == AIO_CONF_EXIT) {
		aio_conf_done(&agent_config_spec, &a.conf);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "aio-agent: %s\n", err);
		aio_conf_done(&agent_config_spec, &a.conf);
		return 64;
	}
	aio_log_init("aio-agent", a.conf.log_level);

	aio_service_sigset(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	r = agent_init(&a);
	if (r == 0) {
		atomic_store(&a.sampled_ms, aio_mono_ms());
		r = agent_start(&a);
	}
	if (r == 0) {
		snprintf(status, sizeof(status), "reporting to %s as %s", a.conf.server, a.host_id);
		aio_service_ready(status);
		sig = aio_service_run(&svc);
		log_info("stopping (%s)", strsignal(sig));
		aio_service_stopping();
		agent_stop(&a);
	}
	agent_done(&a);
	aio_conf_done(&agent_config_spec, &a.conf);
	nng_fini();
	return r == 0 ? 0 : r == -EINVAL ? 64 : 1;
}
