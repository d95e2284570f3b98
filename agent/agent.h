/* aio-agent's parts and threads:
 *   report  (report.c) reads the counters every second and, once per
 *           interval, turns the window, the events seen and the latest
 *           scans into a report in the on-disk spool;
 *   send    (send.c) sends the spool in order (Hello first and whenever
 *           the server asks), and after each acknowledgement commits the
 *           log positions stored with that report;
 *   follow  (follow.c) follows the journal and QEMU logs into the pending
 *           events, and scans /proc and sysctl.d every attribution
 *           interval;
 *   control (control.c) holds a Watch call on the server and applies the
 *           limits it sends.
 * The lock guards what threads share: the spool, the pending events and
 * positions, and the latest scans. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "apply.h"
#include "attrib.h"
#include "config.h"
#include "guard.h"
#include "journal.h"
#include "persist.h"
#include "qemulog.h"
#include "rpc_client.h"
#include "sampler.h"
#include "spool.h"

/* URLs --server may list. */
#define AGENT_SERVERS_MAX 16

struct agent {
	struct agent_config conf;
	char host_id[256];
	char kernel[128];
	Aioctl__V1__Label *labels;
	Aioctl__V1__Label **label_ptrs;
	size_t n_labels;

	struct aio_rpc_client *rpc;
	/* --server's URLs (one, or several servers on one database): the
	 * send thread moves to the next when the one in use stops answering */
	char *servers_text;
	const char *servers[AGENT_SERVERS_MAX];
	size_t n_servers, server_i;
	bool has_secret; /* STATE/host.secret exists */
	bool no_batch;   /* the server has no ReportBatch (older): one report a call */
	struct agent_sampler sampler;
	_Atomic uint64_t sampled_ms;  /* the sampling loop's last turn (mono) */
	struct agent_applier applier; /* the control thread's */

	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct agent_spool spool;
	struct agent_event *pending; /* AIO_EVENTS_MAX, for the next report */
	size_t n_pending;
	char *positions;             /* where the logs were read up to, with pending */
	struct agent_attrib *attrib; /* newest scan not yet reported, or NULL */
	struct agent_persist *persist;
	Aioctl__V1__CountingMode counting;
	uint64_t unexplained;

	/* the follow thread's own */
	struct agent_journal journal;
	struct agent_qemulog qemulog;
	char guard_pos[AGENT_GUARD_EVENT_NAME + 1]; /* the guard's last decision read */
	bool journal_warned;

	pthread_t threads[4];
	size_t n_threads;
};

/* Validates the config, opens the spool, the logs and the client; logs
 * what is wrong. */
int agent_init(struct agent *a);
int agent_start(struct agent *a);
void agent_stop(struct agent *a);
void agent_done(struct agent *a);

/* Waits until the monotonic time at_ms or a stop; true when stopping. */
bool agent_wait_until(struct agent *a, uint64_t at_ms);
/* The server the agent reports to now (one of --server's). */
const char *agent_server(struct agent *a);
void *agent_report_thread(void *arg);
void *agent_send_thread(void *arg);
void *agent_follow_thread(void *arg);
void *agent_control_thread(void *arg);
/* Opens the log sources at the positions text (NULL: first start). */
void agent_follow_open(struct agent *a, const char *positions);
void agent_follow_close(struct agent *a);
/* The positions of a report the server stored: what is behind them can
 * go (the guard's decisions). */
void agent_follow_committed(struct agent *a, const char *positions);
/* Scans /proc and sysctl.d now, for the next report. */
void agent_follow_scan(struct agent *a);
