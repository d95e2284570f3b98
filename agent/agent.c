#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "names.h"
#include "path.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000

static int parse_labels(struct agent *a)
{
	size_t n = a->conf.labels.n;

	if (n > AIO_LABELS_MAX) {
		log_err("--label: at most %d labels", AIO_LABELS_MAX);
		return -EINVAL;
	}
	a->labels = calloc(n ? n : 1, sizeof(*a->labels));
	a->label_ptrs = calloc(n ? n : 1, sizeof(*a->label_ptrs));
	if (!a->labels || !a->label_ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char key[AIO_LABEL_KEY_MAX + 1], value[AIO_LABEL_VALUE_MAX + 1];
		const char *s = a->conf.labels.v[i];

		if (aio_label_parse(s, key, sizeof(key), value, sizeof(value)) < 0) {
			log_err("--label %s: not KEY=VALUE (example: --label rack=r12); keys take "
			        "letters, digits, '.', '-', '_', '/'",
			        s);
			return -EINVAL;
		}
		aioctl__v1__label__init(&a->labels[i]);
		a->labels[i].key = strdup(key);
		a->labels[i].value = strdup(value);
		if (!a->labels[i].key || !a->labels[i].value)
			return -ENOMEM;
		a->label_ptrs[i] = &a->labels[i];
		a->n_labels = i + 1;
	}
	return 0;
}

static void read_kernel(struct agent *a)
{
	char path[4096], *text = NULL;
	struct utsname u;

	if (aio_path_join(a->conf.sysroot, "/proc/sys/kernel/osrelease", path, sizeof(path)) == 0 &&
	    aio_file_read_all(path, AIO_KERNEL_MAX, &text, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(a->kernel, sizeof(a->kernel), "%s", text);
		free(text);
		if (aio_text_valid(a->kernel, AIO_KERNEL_MAX) && a->kernel[0])
			return;
	}
	if (uname(&u) == 0)
		snprintf(a->kernel, sizeof(a->kernel), "%s", u.release);
}

int agent_init(struct agent *a)
{
	struct aio_rpc_client_opts o = { 0 };
	char err[512];
	int r;

	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	if (a->conf.host_id)
		snprintf(a->host_id, sizeof(a->host_id), "%s", a->conf.host_id);
	else if (gethostname(a->host_id, sizeof(a->host_id)) < 0)
		a->host_id[0] = '\0';
	if (!aio_host_name_valid(a->host_id)) {
		log_err("--host-id %s: not a host name (letters, digits, '.', '-', '_'; example: "
		        "--host-id hv-0042)",
		        a->host_id);
		return -EINVAL;
	}
	if ((r = parse_labels(a)) < 0)
		return r;
	if (a->conf.sample_interval_ms > a->conf.interval_ms)
		a->conf.sample_interval_ms = a->conf.interval_ms;
	if ((r = agent_sampler_init(&a->sampler, a->conf.sysroot)) < 0) {
		log_err("--sysroot %s: path too long", a->conf.sysroot);
		return r;
	}
	read_kernel(a);
	if ((r = agent_spool_init(&a->spool, a->conf.queue_max)) < 0)
		return r;
	if ((r = aio_mkdir_p(a->conf.state_dir, 0700)) < 0) {
		log_err_errno(r, "--state-dir %s", a->conf.state_dir);
		return r;
	}

	o.url = a->conf.server;
	o.recv_max = a->conf.max_message_size;
	o.reconnect_min_ms = 100;
	o.reconnect_max_ms = 5000;
	o.host_id = a->host_id;
	o.tls = (struct aio_tls_opts){ a->conf.tls_ca, a->conf.tls_cert, a->conf.tls_key,
		                       a->conf.tls_server_name };
	r = aio_rpc_client_open(&o, &a->rpc, err, sizeof(err));
	if (r < 0) {
		log_err("--server: %s", err);
		return r;
	}
	return 0;
}

/* Waits until the monotonic time at_ms or a stop; true when stopping. */
static bool wait_until(struct agent *a, uint64_t at_ms)
{
	struct timespec ts;
	bool stopping;

	pthread_mutex_lock(&a->lock);
	while (!a->stopping && aio_mono_ms() < at_ms) {
		ts.tv_sec = (time_t)(at_ms / 1000);
		ts.tv_nsec = (long)(at_ms % 1000) * 1000000;
		pthread_cond_timedwait(&a->wake, &a->lock, &ts);
	}
	stopping = a->stopping;
	pthread_mutex_unlock(&a->lock);
	return stopping;
}

static void *sample_thread(void *arg)
{
	struct agent *a = arg;
	/* the first report goes out after the first reading: a new host shows
	 * its values at once, not one interval later */
	uint64_t next_sample = aio_mono_ms(), next_report = next_sample;
	int last_err = 0;

	a->sampler.start_ms = aio_now_ms();
	while (!wait_until(a, next_sample)) {
		int r = agent_sampler_read(&a->sampler);

		if (r < 0 && r != last_err)
			log_warn_errno(r, "cannot read %s or %s", a->sampler.nr_path,
			               a->sampler.max_path);
		else if (r == 0 && last_err)
			log_info("counters readable again");
		last_err = r;

		next_sample += a->conf.sample_interval_ms;
		if (aio_mono_ms() >= next_report) {
			struct agent_report rep = { 0 };

			next_report += a->conf.interval_ms;
			if (agent_sampler_take(&a->sampler, aio_now_ms(), &rep.sample)) {
				pthread_mutex_lock(&a->lock);
				agent_spool_push(&a->spool, &rep);
				pthread_cond_broadcast(&a->wake);
				pthread_mutex_unlock(&a->lock);
			}
		}
		/* after a stall (suspend, overload) skip missed ticks, don't burst */
		if (next_sample + a->conf.interval_ms < aio_mono_ms()) {
			next_sample = aio_mono_ms();
			next_report = next_sample + a->conf.interval_ms;
		}
	}
	return NULL;
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
	code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "Hello", &in.base,
	                      a->conf.call_timeout_ms, false, (ProtobufCMessage **)&out, &st);
	if (code != AIO_OK) {
		log_debug("hello: %s: %s", aio_status_name(code), st.message);
		return code;
	}
	/* continue after what the server has, in case our state was lost */
	if (out->has_last_seq && out->last_seq >= a->next_seq)
		a->next_seq = out->last_seq + 1;
	if (a->next_seq == 0)
		a->next_seq = 1;
	log_info("connected to %s as %s (next report %llu)", a->conf.server, a->host_id,
	         (unsigned long long)a->next_seq);
	aioctl__v1__hello_reply__free_unpacked(out, NULL);
	return AIO_OK;
}

/* Sends the oldest spooled report; AIO_OK pops it. */
static int send_one(struct agent *a, struct agent_report *rep)
{
	Aioctl__V1__ReportRequest in = AIOCTL__V1__REPORT_REQUEST__INIT;
	Aioctl__V1__ReportReply *out = NULL;
	struct aio_rpc_status st;
	int code;

	in.seq = rep->seq;
	in.sample = &rep->sample;
	code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "Report", &in.base,
	                      a->conf.call_timeout_ms, false, (ProtobufCMessage **)&out, &st);
	if (code == AIO_OK)
		aioctl__v1__report_reply__free_unpacked(out, NULL);
	else if (code == AIO_INVALID_ARGUMENT)
		log_warn("report %llu refused, dropped: %s", (unsigned long long)rep->seq,
		         st.message);
	else
		log_debug("report %llu: %s: %s", (unsigned long long)rep->seq,
		          aio_status_name(code), st.message);
	return code;
}

static void *report_thread(void *arg)
{
	struct agent *a = arg;
	uint64_t backoff = BACKOFF_MIN_MS;
	bool hello = false, down_logged = false;

	for (;;) {
		struct agent_report rep, *head;
		int code;

		if (!hello) {
			code = say_hello(a);
			if (code != AIO_OK) {
				if (!down_logged && code != AIO_CANCELLED)
					log_warn("server %s not reachable (%s); keeping reports",
					         a->conf.server, aio_status_name(code));
				down_logged = true;
				if (wait_until(a, aio_mono_ms() + backoff))
					break;
				backoff =
				        backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			hello = true;
			down_logged = false;
			backoff = BACKOFF_MIN_MS;
		}

		pthread_mutex_lock(&a->lock);
		while (!a->stopping && !(head = agent_spool_peek(&a->spool)))
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->stopping) {
			pthread_mutex_unlock(&a->lock);
			break;
		}
		if (head->seq == 0)
			head->seq = a->next_seq++;
		rep = *head;
		pthread_mutex_unlock(&a->lock);

		code = send_one(a, &rep);
		if (code == AIO_OK || code == AIO_INVALID_ARGUMENT) {
			pthread_mutex_lock(&a->lock);
			/* the head is still rep unless the spool overflowed meanwhile */
			head = agent_spool_peek(&a->spool);
			if (head && head->seq == rep.seq)
				agent_spool_pop(&a->spool);
			pthread_mutex_unlock(&a->lock);
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (code == AIO_FAILED_PRECONDITION || code == AIO_UNAUTHENTICATED) {
			hello = false; /* the server forgot us: introduce ourselves again */
			continue;
		}
		if (!down_logged && code != AIO_CANCELLED)
			log_warn("server %s: %s; keeping reports", a->conf.server,
			         aio_status_name(code));
		down_logged = true;
		if (wait_until(a, aio_mono_ms() + backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

int agent_start(struct agent *a)
{
	if (pthread_create(&a->sample_thread, NULL, sample_thread, a) != 0)
		return -EAGAIN;
	if (pthread_create(&a->report_thread, NULL, report_thread, a) != 0) {
		agent_stop(a);
		pthread_join(a->sample_thread, NULL);
		return -EAGAIN;
	}
	a->threads_started = true;
	log_info("reporting %s every %llums as %s", a->sampler.nr_path,
	         (unsigned long long)a->conf.interval_ms, a->host_id);
	return 0;
}

void agent_stop(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->lock);
	aio_rpc_client_close(a->rpc); /* ends a call in flight */
	if (a->threads_started) {
		pthread_join(a->sample_thread, NULL);
		pthread_join(a->report_thread, NULL);
		a->threads_started = false;
	}
}

void agent_done(struct agent *a)
{
	aio_rpc_client_free(a->rpc);
	a->rpc = NULL;
	for (size_t i = 0; i < a->n_labels; i++) {
		free(a->labels[i].key);
		free(a->labels[i].value);
	}
	free(a->labels);
	free(a->label_ptrs);
	agent_spool_done(&a->spool);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
}
