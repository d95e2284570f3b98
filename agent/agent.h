/* aio-agent's parts: a sampling thread that closes one window per report
 * interval into the spool, and a reporting thread that sends the spool to
 * the server in order, saying Hello first and whenever the server asks. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "config.h"
#include "rpc_client.h"
#include "sampler.h"
#include "spool.h"

struct agent {
	struct agent_config conf;
	char host_id[256];
	char kernel[128];
	Aioctl__V1__Label *labels;
	Aioctl__V1__Label **label_ptrs;
	size_t n_labels;

	struct aio_rpc_client *rpc;
	struct agent_sampler sampler;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;            /* lock */
	struct agent_spool spool; /* lock */
	uint64_t next_seq;        /* reporting thread only */

	pthread_t sample_thread;
	pthread_t report_thread;
	bool threads_started;
};

/* Validates the config, opens the client; logs what is wrong. */
int agent_init(struct agent *a);
int agent_start(struct agent *a);
void agent_stop(struct agent *a);
void agent_done(struct agent *a);
