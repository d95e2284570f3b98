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

static int check_policy(struct agent *a)
{
	const char *f = a->conf.sysctl_file;
	size_t len = strlen(f);

	if (a->conf.limit_min > a->conf.limit_max) {
		log_err("--limit-min %llu is above --limit-max %llu",
		        (unsigned long long)a->conf.limit_min,
		        (unsigned long long)a->conf.limit_max);
		return -EINVAL;
	}
	if (f[0] != '/' || !strstr(f, "/sysctl.d/") || len < 6 || strcmp(f + len - 5, ".conf") ||
	    strstr(f, "/../")) {
		log_err("--sysctl-file %s: must be a .conf file in a sysctl.d directory "
		        "(example: /etc/sysctl.d/zz-aioctl.conf)",
		        f);
		return -EINVAL;
	}
	return 0;
}

/* STATE/host.secret: this host's identity towards the server, from its
 * enrollment. Readable by the agent alone. */
static int load_secret(struct agent *a, char *buf, size_t len)
{
	char path[4200], *text = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/host.secret", a->conf.state_dir);
	r = aio_file_read_all(path, 256, &text, NULL);
	if (r == -ENOENT) {
		if (!a->conf.enroll_token && !a->conf.enroll_token_file)
			log_warn("not enrolled and no --enroll-token: the server will refuse "
			         "this agent (make one with: aioctl enroll create --host %s)",
			         a->host_id);
		return 0;
	}
	if (r < 0) {
		log_err_errno(r, "%s", path);
		return r;
	}
	text[strcspn(text, "\r\n")] = '\0';
	snprintf(buf, len, "%s", text);
	free(text);
	a->has_secret = buf[0] != '\0';
	return 0;
}

/* Where to resume reading logs: the positions stored with the newest
 * spooled report (its events are safe on disk), else the positions
 * committed after the last acknowledgement, else nothing (first start). */
static int restore_positions(struct agent *a)
{
	char path[4200], *positions = NULL;

	if (agent_spool_newest_positions(&a->spool, &positions) < 0) {
		snprintf(path, sizeof(path), "%s/positions", a->conf.state_dir);
		if (aio_file_read_all(path, 16 << 20, &positions, NULL) < 0)
			positions = NULL;
	}
	agent_follow_open(a, positions);
	free(positions);
	return 0;
}

/* --server: URLs separated by commas (and spaces). */
static int parse_servers(struct agent *a)
{
	char *save = NULL;

	srandom((unsigned)(aio_now_ms() ^ (uint64_t)getpid()));
	if (!(a->servers_text = strdup(a->conf.server)))
		return -ENOMEM;
	for (char *t = strtok_r(a->servers_text, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (a->n_servers == AGENT_SERVERS_MAX) {
			log_err("--server: at most %d URLs", AGENT_SERVERS_MAX);
			return -EINVAL;
		}
		a->servers[a->n_servers++] = t;
	}
	if (!a->n_servers) {
		log_err("--server: no URL");
		return -EINVAL;
	}
	return 0;
}

int agent_init(struct agent *a)
{
	struct aio_rpc_client_opts o = { 0 };
	char err[512], secret[128];
	pthread_condattr_t attr;
	int r;

	pthread_mutex_init(&a->lock, NULL);
	/* agent_wait_until counts in monotonic time: so must the condition */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &attr);
	pthread_condattr_destroy(&attr);
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
	if ((r = aio_mkdir_p(a->conf.state_dir, 0700)) < 0) {
		log_err_errno(r, "--state-dir %s", a->conf.state_dir);
		return r;
	}
	if ((r = agent_spool_open(&a->spool, a->conf.state_dir, a->conf.spool_max)) < 0) {
		log_err_errno(r, "spool in %s", a->conf.state_dir);
		return r;
	}
	if (a->spool.n)
		log_info("%zu reports from before the restart wait in %s", a->spool.n,
		         a->spool.dir);
	if (!(a->pending = calloc(AIO_EVENTS_MAX, sizeof(*a->pending))))
		return -ENOMEM;
	if ((r = check_policy(a)) < 0)
		return r;
	if ((r = agent_apply_init(&a->applier, a->conf.sysroot, a->conf.sysctl_file,
	                          a->conf.state_dir, a->conf.limit_min, a->conf.limit_max,
	                          a->conf.limit_margin)) < 0) {
		log_err_errno(r, "--sysctl-file %s", a->conf.sysctl_file);
		return r;
	}
	if ((r = restore_positions(a)) < 0)
		return r;

	if ((r = load_secret(a, secret, sizeof(secret))) < 0)
		return r;
	o.host_secret = a->has_secret ? secret : NULL;
	if ((r = parse_servers(a)) < 0)
		return r;
	o.url = a->servers[0];
	o.recv_max = a->conf.max_message_size;
	o.reconnect_min_ms = 100;
	o.reconnect_max_ms = 5000;
	o.host_id = a->host_id;
	o.tls = (struct aio_tls_opts){ a->conf.tls_ca, a->conf.tls_cert, a->conf.tls_key,
		                       a->conf.tls_server_name, false };
	r = aio_rpc_client_open(&o, &a->rpc, err, sizeof(err));
	if (r < 0) {
		log_err("--server: %s", err);
		return r;
	}
	return 0;
}

const char *agent_server(struct agent *a)
{
	return a->rpc ? aio_rpc_client_url(a->rpc) : a->servers[0];
}

bool agent_wait_until(struct agent *a, uint64_t at_ms)
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

int agent_start(struct agent *a)
{
	void *(*const fns[])(void *) = { agent_report_thread, agent_send_thread,
		                         agent_follow_thread, agent_control_thread };

	/* the first report already says who holds capacity and what a reboot
	 * would give */
	agent_follow_scan(a);

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		if (pthread_create(&a->threads[i], NULL, fns[i], a) != 0) {
			agent_stop(a);
			return -EAGAIN;
		}
		a->n_threads++;
	}
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
	for (size_t i = 0; i < a->n_threads; i++)
		pthread_join(a->threads[i], NULL);
	a->n_threads = 0;
}

void agent_done(struct agent *a)
{
	aio_rpc_client_free(a->rpc);
	free(a->servers_text);
	a->rpc = NULL;
	for (size_t i = 0; i < a->n_labels; i++) {
		free(a->labels[i].key);
		free(a->labels[i].value);
	}
	free(a->labels);
	free(a->label_ptrs);
	agent_follow_close(a);
	agent_spool_close(&a->spool);
	free(a->pending);
	free(a->positions);
	if (a->attrib)
		agent_attrib_done(a->attrib);
	free(a->attrib);
	free(a->persist);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
}
