/* The send thread: Enroll and Hello, then the spool to the server, in
 * order; after each acknowledgement, the log positions stored with it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "bounds.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "path.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
/* Calls in a row a server may fail before the next of several is tried. */
#define FAILOVER_AFTER 2

/* When this host booted: Unix ms, from btime in SYSROOT/proc/stat. */
static bool boot_time_ms(const char *sysroot, uint64_t *ret)
{
	char path[4200], *text = NULL, *p;
	unsigned long long btime;
	bool ok = false;

	if (aio_path_join(sysroot, "/proc/stat", path, sizeof(path)) < 0 ||
	    aio_file_read_all(path, 1 << 20, &text, NULL) < 0)
		return false;
	if ((p = strstr(text, "\nbtime ")) && sscanf(p + 7, "%llu", &btime) == 1) {
		*ret = (uint64_t)btime * 1000;
		ok = true;
	}
	free(text);
	return ok;
}

/* Trades the one-time enrollment token for this host's secret, kept in
 * STATE/host.secret (mode 0600) and presented from then on. */
static int enroll(struct agent *a)
{
	Aioctl__V1__EnrollRequest in = AIOCTL__V1__ENROLL_REQUEST__INIT;
	Aioctl__V1__EnrollReply *out = NULL;
	struct aio_rpc_status st;
	char path[4200], *token = a->conf.enroll_token, *text = NULL, line[160];
	int code, r;

	if (!token && a->conf.enroll_token_file) {
		if ((r = aio_file_read_all(a->conf.enroll_token_file, 1024, &text, NULL)) < 0) {
			log_err_errno(r, "--enroll-token-file %s", a->conf.enroll_token_file);
			return AIO_FAILED_PRECONDITION;
		}
		text[strcspn(text, "\r\n")] = '\0';
		token = text;
	}
	if (!token)
		return AIO_UNAUTHENTICATED;
	in.host_id = a->host_id;
	in.token = token;
	code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "Enroll", &in.base,
	                      a->conf.call_timeout_ms, false, (ProtobufCMessage **)&out, &st);
	free(text);
	if (code != AIO_OK) {
		if (code == AIO_UNAUTHENTICATED || code == AIO_PERMISSION_DENIED)
			log_err("enrollment refused: %s (ask for a new token: aioctl enroll create "
			        "--host %s)",
			        st.message, a->host_id);
		return code;
	}
	snprintf(path, sizeof(path), "%s/host.secret", a->conf.state_dir);
	snprintf(line, sizeof(line), "%s\n", out->host_secret);
	r = aio_file_write_atomic(path, line, strlen(line), 0600);
	if (r == 0)
		r = aio_rpc_client_set_secret(a->rpc, out->host_secret);
	aioctl__v1__enroll_reply__free_unpacked(out, NULL);
	if (r < 0) {
		log_err_errno(r, "cannot keep the host secret in %s", path);
		return AIO_INTERNAL;
	}
	a->has_secret = true;
	log_info("enrolled as %s; the secret is in %s", a->host_id, path);
	return AIO_OK;
}

static int say_hello(struct agent *a)
{
	Aioctl__V1__HelloRequest in = AIOCTL__V1__HELLO_REQUEST__INIT;
	Aioctl__V1__HelloReply *out = NULL;
	struct aio_rpc_status st;
	int code;

	in.host_id = a->host_id;
	in.labels = a->label_ptrs;
	in.n_labels = a->n_labels;
	in.kernel = a->kernel;
	in.agent_version = AIO_VERSION;
	in.has_interval_ms = true;
	in.interval_ms = (uint32_t)a->conf.interval_ms;
	in.has_limit_min = in.has_limit_max = in.has_limit_margin = true;
	in.limit_min = a->conf.limit_min;
	in.limit_max = a->conf.limit_max;
	in.limit_margin = a->conf.limit_margin;
	in.sysctl_file = a->conf.sysctl_file;
	in.has_boot_time_ms = boot_time_ms(a->conf.sysroot, &in.boot_time_ms);
	if (!a->has_secret && (code = enroll(a)) != AIO_OK)
		return code;
	code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "Hello", &in.base,
	                      a->conf.call_timeout_ms, false, (ProtobufCMessage **)&out, &st);
	if (code != AIO_OK) {
		if (code == AIO_UNAUTHENTICATED || code == AIO_PERMISSION_DENIED)
			log_warn("server refuses this agent: %s", st.message);
		else
			log_debug("hello: %s: %s", aio_status_name(code), st.message);
		/* the server does not know this secret (the host was removed, or
		 * its database replaced): a token given enrolls it again */
		if (code == AIO_UNAUTHENTICATED &&
		    (a->conf.enroll_token || a->conf.enroll_token_file))
			a->has_secret = false;
		return code;
	}
	pthread_mutex_lock(&a->lock);
	/* a new state dir meeting a server that knows this host, or one
	 * restored from a copy (the server has reports this agent never
	 * numbered): number after what the server has, or the new reports
	 * would be taken for replays and discarded */
	if (a->spool.fresh || out->last_seq > a->spool.last_seq) {
		if (out->last_seq > a->spool.last_seq && !a->spool.fresh)
			log_warn("the server has reports up to %" PRIu64 ", this agent numbered up "
			         "to %" PRIu64 " (state restored from a copy?): numbering after "
			         "the server's",
			         out->last_seq, a->spool.last_seq);
		agent_spool_renumber(&a->spool, out->last_seq + 1);
	}
	a->spool.fresh = false;
	pthread_mutex_unlock(&a->lock);
	a->no_batch = false; /* a server met again may be a newer one */
	log_info("connected to %s as %s (server has reports up to %" PRIu64 ")", agent_server(a),
	         a->host_id, out->last_seq);
	aioctl__v1__hello_reply__free_unpacked(out, NULL);
	return AIO_OK;
}

static void commit_positions(struct agent *a, const char *positions)
{
	char path[4200];
	int r;

	snprintf(path, sizeof(path), "%s/positions", a->conf.state_dir);
	r = aio_file_write_atomic(path, positions, strlen(positions), 0600);
	if (r < 0)
		log_warn_errno(r, "cannot write %s", path);
	else
		agent_follow_committed(a, positions);
}

/* Sends the oldest spooled report. AIO_OK: acknowledged and removed. */
static int send_oldest(struct agent *a)
{
	Aioctl__V1__ReportRequest *r = NULL;
	Aioctl__V1__ReportReply *out = NULL;
	struct aio_rpc_status st;
	char *positions = NULL;
	uint64_t seq;
	int code, err;

	pthread_mutex_lock(&a->lock);
	err = a->stopping ? -ECANCELED : agent_spool_oldest(&a->spool, &r, &positions);
	pthread_mutex_unlock(&a->lock);
	if (err == -ENOENT)
		return AIO_OK; /* only damaged entries were left: wait for more */
	if (err < 0)
		return AIO_CANCELLED;

	seq = r->seq;
	code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "Report", &r->base,
	                      a->conf.call_timeout_ms, false, (ProtobufCMessage **)&out, &st);
	aioctl__v1__report_request__free_unpacked(r, NULL);
	if (code == AIO_OK)
		aioctl__v1__report_reply__free_unpacked(out, NULL);
	else if (code == AIO_INVALID_ARGUMENT)
		log_warn("report %" PRIu64 " refused, dropped: %s", seq, st.message);
	else if (code == AIO_UNAVAILABLE)
		log_info("report %" PRIu64 ": %s", seq, st.message);
	else
		log_debug("report %" PRIu64 ": %s: %s", seq, aio_status_name(code), st.message);

	if (code == AIO_OK || code == AIO_INVALID_ARGUMENT) {
		pthread_mutex_lock(&a->lock);
		agent_spool_remove(&a->spool, seq);
		if (code == AIO_INVALID_ARGUMENT)
			agent_spool_count_dropped(&a->spool); /* never an uncounted drop */
		pthread_mutex_unlock(&a->lock);
		/* the events up to here are stored: resume after them */
		if (positions)
			commit_positions(a, positions);
	}
	free(positions);
	return code;
}

/* Removes what a ReportBatch answer settled: the reports up to acked,
 * those refused counted as dropped; then commits the positions of the
 * last one settled. */
static void settle_batch(struct agent *a, const struct agent_spool_batch *b,
                         const Aioctl__V1__ReportBatchReply *out)
{
	const char *positions = NULL;

	for (size_t i = 0; i < out->n_refused; i++)
		log_warn("report %" PRIu64 " refused, dropped: %s", out->refused[i]->seq,
		         out->refused[i]->reason ? out->refused[i]->reason : "");
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < b->n && b->reports[i]->seq <= out->acked_seq; i++) {
		agent_spool_remove(&a->spool, b->reports[i]->seq);
		if (b->positions[i])
			positions = b->positions[i];
	}
	for (size_t i = 0; i < out->n_refused; i++)
		agent_spool_count_dropped(&a->spool); /* never an uncounted drop */
	pthread_mutex_unlock(&a->lock);
	if (positions)
		commit_positions(a, positions);
}

/* Sends the spool's oldest reports in one ReportBatch (catching up after
 * an outage); a server without it, or one that refuses the batch as a
 * whole, gets them one by one. AIO_OK: some were acknowledged. */
static int send_batch(struct agent *a)
{
	Aioctl__V1__ReportBatchRequest in = AIOCTL__V1__REPORT_BATCH_REQUEST__INIT;
	Aioctl__V1__ReportBatchReply *out = NULL;
	struct agent_spool_batch b = { 0 };
	struct aio_rpc_status st;
	int code, err;

	pthread_mutex_lock(&a->lock);
	err = a->stopping ? -ECANCELED
	                  : agent_spool_oldest_batch(&a->spool, AIO_REPORT_BATCH_MAX,
	                                             AIO_REPORT_BATCH_BYTES, &b);
	pthread_mutex_unlock(&a->lock);
	if (err == -ENOENT)
		return AIO_OK;
	if (err < 0)
		return AIO_CANCELLED;
	in.reports = b.reports;
	in.n_reports = b.n;
	code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "ReportBatch", &in.base,
	                      a->conf.call_timeout_ms, false, (ProtobufCMessage **)&out, &st);
	if (code == AIO_OK) {
		log_debug("reports %" PRIu64 " to %" PRIu64 " sent in one call, %zu refused",
		          b.reports[0]->seq, out->acked_seq, out->n_refused);
		settle_batch(a, &b, out);
		aioctl__v1__report_batch_reply__free_unpacked(out, NULL);
	} else if (code == AIO_UNIMPLEMENTED || code == AIO_INVALID_ARGUMENT) {
		if (code == AIO_UNIMPLEMENTED) {
			log_info("server %s takes one report a call (no ReportBatch)",
			         agent_server(a));
			a->no_batch = true;
		} else {
			log_warn("batch of %zu reports refused (%s): sending them one by one", b.n,
			         st.message);
		}
		agent_spool_batch_done(&b);
		return send_oldest(a);
	} else {
		log_debug("%zu reports: %s: %s", b.n, aio_status_name(code), st.message);
	}
	agent_spool_batch_done(&b);
	return code;
}

/* Waits for a report, then sends what the spool holds. */
static int send_spool(struct agent *a)
{
	bool many;

	pthread_mutex_lock(&a->lock);
	while (!a->stopping && a->spool.n == 0)
		pthread_cond_wait(&a->wake, &a->lock);
	many = a->spool.n > 1;
	pthread_mutex_unlock(&a->lock);
	return many && !a->no_batch ? send_batch(a) : send_oldest(a);
}

/* A server that does not answer, as opposed to one that answers no. */
static bool unreachable(int code)
{
	return code == AIO_UNAVAILABLE || code == AIO_DEADLINE_EXCEEDED || code == AIO_INTERNAL;
}

/* Half to one and a half times ms: agents that lost one server do not
 * all knock on the next at the same moment. */
static uint64_t jitter(uint64_t ms)
{
	return ms / 2 + (uint64_t)random() % (ms + 1);
}

/* The next of --server's URLs; the spool stays, and is sent there. */
static void fail_over(struct agent *a)
{
	const char *from = agent_server(a);
	char err[512];
	int r;

	a->server_i = (a->server_i + 1) % a->n_servers;
	if ((r = aio_rpc_client_redial(a->rpc, a->servers[a->server_i], err, sizeof(err))) < 0)
		log_warn("%s", err);
	else
		log_warn("server %s does not answer: reporting to %s", from,
		         a->servers[a->server_i]);
}

void *agent_send_thread(void *arg)
{
	struct agent *a = arg;
	uint64_t backoff = BACKOFF_MIN_MS;
	bool hello = false, down_logged = false;
	unsigned failed = 0;

	for (;;) {
		int code;

		code = hello ? send_spool(a) : say_hello(a);
		if (code == AIO_OK || code == AIO_INVALID_ARGUMENT) {
			if (hello && down_logged)
				log_info("server %s reachable again", agent_server(a));
			hello = true;
			down_logged = false;
			failed = 0;
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (code == AIO_CANCELLED)
			break; /* stopping */
		if (code == AIO_FAILED_PRECONDITION || code == AIO_UNAUTHENTICATED) {
			hello = false; /* the server forgot us: introduce ourselves again */
			if (code == AIO_FAILED_PRECONDITION)
				continue;
		}
		if (!down_logged)
			log_warn("server %s: %s; keeping reports in %s", agent_server(a),
			         aio_status_name(code), a->spool.dir);
		down_logged = true;
		if (++failed >= FAILOVER_AFTER && a->n_servers > 1 && unreachable(code)) {
			fail_over(a);
			failed = 0;
			hello = false; /* a new server: introduce ourselves */
			down_logged = false;
		}
		if (agent_wait_until(a, aio_mono_ms() + jitter(backoff)))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}
