/* The Agent service: what aio-agent calls. Handlers update the in-memory
 * registry and queue a database write; the reply goes out from the database
 * thread once the write committed, so an OK means "stored". */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "cluster.h"
#include "log.h"
#include "names.h"
#include "secret.h"
#include "server.h"
#include "store_hosts.h"

/* A queued write and the call waiting for it. */
struct batch;

struct pending {
	struct server_db_write w; /* first: done() gets &w */
	struct server *s;
	ProtobufCClosure closure;
	void *closure_data;
	struct batch *batch; /* a report of a ReportBatch, answered with it */
};

/* A ReportBatch being stored: answered when its last write is done. */
struct batch {
	struct server *s;
	ProtobufCClosure closure;
	void *closure_data;
	atomic_size_t left; /* writes not done yet */
	atomic_int err;     /* the first store error */
	Aioctl__V1__ReportBatchReply rep;
	Aioctl__V1__RefusedReport *refused; /* rep.refused points into these */
	Aioctl__V1__RefusedReport **refused_ptrs;
};

/* How old a sample may be: spool replays and backfills (replay-max). */
static uint64_t replay_max_ms = AIO_SAMPLE_PAST_MAX_MS;

void server_agent_set_replay_max(uint64_t ms)
{
	replay_max_ms = ms;
}

static void fail(void *call_data, ProtobufCClosure closure, int status, const char *msg)
{
	aio_rpc_call_fail(call_data, status, "%s", msg);
	closure(NULL, call_data);
}

/* Answers a call whose write could not be queued. */
static void submit_failed(struct pending *p, int err)
{
	if (err == -EAGAIN)
		fail(p->closure_data, p->closure, AIO_RESOURCE_EXHAUSTED,
		     "server busy: write queue full, retry later");
	else
		fail(p->closure_data, p->closure, AIO_UNAVAILABLE, "server is shutting down");
	server_db_write_free(&p->w);
}

/* A host this server cannot add now: out of memory, or (several servers
 * on one database) between two blocks of ids, for a moment. */
static void new_host_failed(void *data, ProtobufCClosure closure, int r)
{
	if (r == -EAGAIN)
		fail(data, closure, AIO_UNAVAILABLE, "server busy taking new host ids: retry");
	else
		fail(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
}

static int store_status(int err)
{
	return err == -ENOSPC ? AIO_RESOURCE_EXHAUSTED : AIO_UNAVAILABLE;
}

static const char *store_message(int err)
{
	return err == -ENOSPC ? "server cannot store: disk full; keep the data and retry"
	                      : "server cannot store now; keep the data and retry";
}

struct auth {
	const Aioctl__V1__Credentials *creds;
	const char *hash;
	int status;
	bool wrong_secret;
	char owner[AIO_HOST_NAME_MAX + 1];
	char why[256];
};

static int auth_check(const struct server_host *h, void *arg)
{
	struct auth *a = arg;

	a->status = AIO_OK;
	if (!h->secret_hash[0]) {
		a->status = AIO_UNAUTHENTICATED;
		snprintf(a->why, sizeof(a->why),
		         "host %s is not enrolled (aioctl enroll create, then "
		         "aio-agent --enroll-token)",
		         a->creds->host_id);
	} else if (h->revoked_ms) {
		a->status = AIO_PERMISSION_DENIED;
		snprintf(a->why, sizeof(a->why), "host %s is revoked", a->creds->host_id);
	} else if (!a->creds->host_secret) {
		a->status = AIO_UNAUTHENTICATED;
		snprintf(a->why, sizeof(a->why), "no host secret");
	} else if (!aio_secret_equal(a->hash, h->secret_hash)) {
		a->status = AIO_UNAUTHENTICATED;
		a->wrong_secret = true;
		snprintf(a->why, sizeof(a->why), "host secret not accepted");
	}
	return 0;
}

static int secret_owner(const struct server_host *const *all, size_t n, void *arg)
{
	struct auth *a = arg;

	for (size_t i = 0; i < n; i++) {
		if (aio_secret_equal(a->hash, all[i]->secret_hash)) {
			snprintf(a->owner, sizeof(a->owner), "%s", all[i]->name);
			a->status = AIO_PERMISSION_DENIED;
			snprintf(a->why, sizeof(a->why), "that secret is not %s's",
			         a->creds->host_id);
		}
	}
	return 0;
}

/* Every agent call but Enroll carries the host's secret. A secret that
 * belongs to another host is an impersonation attempt: refused, logged,
 * audited. */
int server_agent_authorize(struct aio_rpc_call *call, void *arg)
{
	struct server *s = arg;
	const Aioctl__V1__Credentials *creds = aio_rpc_call_creds(call);
	const char *method = aio_rpc_call_method(call);
	char hash[AIO_SECRET_HASH_LEN], owner[AIO_HOST_NAME_MAX + 1] = "", why[256];
	struct auth a = { 0 };
	int status;

	if (strcmp(method, "aioctl.v1.Agent/Enroll") == 0)
		return AIO_OK; /* the enrollment token is checked by the handler */
	if (!creds->host_id || !aio_host_name_valid(creds->host_id)) {
		aio_rpc_call_fail(call, AIO_UNAUTHENTICATED, "agent calls need a valid host id");
		return AIO_UNAUTHENTICATED;
	}
	if (creds->host_secret)
		aio_secret_hash(creds->host_secret, hash);
	a.creds = creds;
	a.hash = hash;
	if (server_hosts_read_name(&s->hosts, creds->host_id, auth_check, &a) == -ENOENT) {
		a.status = AIO_UNAUTHENTICATED;
		snprintf(a.why, sizeof(a.why),
		         "host %s is not enrolled (aioctl enroll create, then "
		         "aio-agent --enroll-token)",
		         creds->host_id);
	}
	/* a secret of another host: whose, for the audit log */
	if (a.status == AIO_UNAUTHENTICATED && a.wrong_secret)
		server_hosts_read_all(&s->hosts, secret_owner, &a);
	status = a.status;
	snprintf(why, sizeof(why), "%s", a.why);
	snprintf(owner, sizeof(owner), "%s", a.owner);
	if (status != AIO_OK) {
		char peer[64];

		aio_rpc_call_peer(call, peer, sizeof(peer));
		if (owner[0]) {
			char who[340];

			log_warn("%s from %s: host %s's secret used to speak for %s", method, peer,
			         owner, creds->host_id);
			snprintf(who, sizeof(who), "host %s@%s", owner, peer);
			server_audit_log(s->db, who, "impersonation", creds->host_id, "refused");
		} else if (status == AIO_PERMISSION_DENIED) {
			log_warn("%s from %s: %s", method, peer, why);
		}
		aio_rpc_call_fail(call, status, "%s", why);
	}
	return status;
}

struct enroll_job {
	ProtobufCClosure closure;
	void *data;
	char secret[AIO_SECRET_HASH_LEN];
};

static void enrolled(void *arg, int err)
{
	struct enroll_job *j = arg;
	Aioctl__V1__EnrollReply rep = AIOCTL__V1__ENROLL_REPLY__INIT;

	if (err) {
		fail(j->data, j->closure, store_status(err), store_message(err));
	} else {
		rep.host_secret = j->secret;
		j->closure(&rep.base, j->data);
	}
	free(j);
}

struct enroll_host {
	const char *hash;
	struct server_db_write *w;
	char old[AIO_SECRET_HASH_LEN]; /* the secret's hash it replaces, "" if none */
	uint64_t revoked_ms;
};

/* Whether host has an identity (a secret, or one revoked). */
static int host_known(const struct server_host *h, void *arg)
{
	*(bool *)arg = h->secret_hash[0] || h->revoked_ms;
	return 0;
}

static int enroll_host(struct server_host *h, void *arg)
{
	struct enroll_host *e = arg;

	snprintf(e->old, sizeof(e->old), "%s", h->secret_hash);
	e->revoked_ms = h->revoked_ms;
	snprintf(h->secret_hash, sizeof(h->secret_hash), "%s", e->hash);
	h->revoked_ms = 0;
	if (!h->first_seen_ms)
		h->first_seen_ms = aio_now_ms();
	return server_db_write_host_fill(e->w, h);
}

static void agent_rpc_enroll(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__EnrollRequest *in,
                             Aioctl__V1__EnrollReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	const Aioctl__V1__Credentials *creds = aio_rpc_call_creds(data);
	struct server_db_write *w = NULL;
	char msg[256], hash[AIO_SECRET_HASH_LEN], who[320], peer[64], what[160];
	struct enroll_job *j;
	struct enroll_host e = { 0 };
	bool known = false;
	int status, r;

	if (!aio_host_name_valid(in->host_id) || !creds->host_id ||
	    strcmp(creds->host_id, in->host_id) != 0 ||
	    strnlen(in->token, AIO_RPC_CRED_MAX + 1) > AIO_RPC_CRED_MAX) {
		fail(data, (ProtobufCClosure)closure, AIO_INVALID_ARGUMENT,
		     "enroll: a host name (the same as the caller's) and a token");
		return;
	}
	aio_rpc_call_peer(data, peer, sizeof(peer));
	snprintf(who, sizeof(who), "host %s@%s", in->host_id, peer);
	server_hosts_read_name(&s->hosts, in->host_id, host_known, &known);
	if ((status = server_creds_enroll_take(&s->creds, in->token, in->host_id, known, msg,
	                                       sizeof(msg))) != AIO_OK) {
		log_warn("enroll of %s from %s refused: %s", in->host_id, peer, msg);
		server_audit_log(s->db, who, "host.enroll", in->host_id, msg);
		fail(data, (ProtobufCClosure)closure, status, msg);
		return;
	}
	if (!(j = calloc(1, sizeof(*j))) || !(w = calloc(1, sizeof(*w))) ||
	    aio_secret_hex(j->secret, sizeof(j->secret), 32) < 0) {
		free(j);
		free(w);
		fail(data, (ProtobufCClosure)closure, AIO_RESOURCE_EXHAUSTED,
		     "server out of memory");
		return;
	}
	aio_secret_hash(j->secret, hash);
	j->closure = (ProtobufCClosure)closure;
	j->data = data;

	e.hash = hash;
	e.w = w;
	if ((r = server_hosts_update_name(&s->hosts, in->host_id, true, enroll_host, &e)) < 0) {
		server_db_write_free(w);
		free(j);
		new_host_failed(data, (ProtobufCClosure)closure, r);
		return;
	}
	/* the host row, then its secret; the reply waits for the commit */
	w->done = NULL;
	if ((r = server_db_submit(s->db, w)) < 0)
		server_db_write_free(w);
	if (r < 0 || server_store_hosts_secret(s->db, in->host_id, hash, enrolled, j) < 0) {
		free(j);
		fail(data, (ProtobufCClosure)closure, AIO_RESOURCE_EXHAUSTED,
		     "server busy: retry later");
		return;
	}
	/* old and new identity by their hashes' first 12 digits */
	if (e.old[0] || e.revoked_ms)
		snprintf(what, sizeof(what), "re-enrolled: secret %.12s%s replaced by %.12s",
		         e.old[0] ? e.old : "(none)", e.revoked_ms ? " (revoked)" : "", hash);
	else
		snprintf(what, sizeof(what), "enrolled: secret %.12s", hash);
	log_info("host %s %s from %s", in->host_id, what, peer);
	server_audit_log(s->db, who, "host.enroll", in->host_id, what);
}

const char *server_agent_check_hello(const Aioctl__V1__HelloRequest *in)
{
	if (!aio_host_name_valid(in->host_id))
		return "host_id: 1 to 253 letters, digits, '.', '-' or '_'";
	if (in->n_labels > AIO_LABELS_MAX)
		return "too many labels (limit 32)";
	for (size_t i = 0; i < in->n_labels; i++) {
		if (!aio_label_key_valid(in->labels[i]->key))
			return "label key: 1 to 63 letters, digits, '.', '-', '_' or '/'";
		if (!aio_label_value_valid(in->labels[i]->value))
			return "label value: up to 255 printable characters, no '=' or ','";
		for (size_t j = 0; j < i; j++)
			if (strcmp(in->labels[i]->key, in->labels[j]->key) == 0)
				return "label key given twice";
	}
	if (in->kernel && !aio_text_valid(in->kernel, AIO_KERNEL_MAX))
		return "kernel: up to 128 printable characters";
	if (in->agent_version && !aio_text_valid(in->agent_version, AIO_VERSION_MAX))
		return "agent_version: up to 64 printable characters";
	if (in->sysctl_file && !aio_text_valid(in->sysctl_file, AIO_PATH_MAX))
		return "sysctl_file: up to 1024 printable characters";
	if (in->has_interval_ms &&
	    (in->interval_ms < AIO_INTERVAL_MIN_MS || in->interval_ms > AIO_INTERVAL_MAX_MS))
		return "interval_ms out of range (100ms to 1h)";
	return NULL;
}

static void hello_stored(struct server_db_write *w, int err)
{
	struct pending *p = (struct pending *)w;
	Aioctl__V1__HelloReply rep = AIOCTL__V1__HELLO_REPLY__INIT;

	if (err) {
		fail(p->closure_data, p->closure, store_status(err), store_message(err));
	} else {
		rep.has_last_seq = true;
		rep.last_seq = w->seq;
		rep.has_server_time_ms = true;
		rep.server_time_ms = aio_now_ms();
		p->closure(&rep.base, p->closure_data);
	}
	server_db_write_free(w);
}

struct hello {
	const Aioctl__V1__HelloRequest *in;
	struct server_db_write *w;
	uint64_t now;
};

static int hello_host(struct server_host *h, void *arg)
{
	struct hello *hi = arg;
	const Aioctl__V1__HelloRequest *in = hi->in;

	if (!h->first_seen_ms)
		log_info("host %s: first hello", in->host_id);
	if (server_hosts_set_labels(h, in->labels, in->n_labels) < 0 ||
	    server_hosts_set_string(&h->kernel, in->kernel) < 0 ||
	    server_hosts_set_string(&h->agent_version, in->agent_version) < 0 ||
	    server_hosts_set_string(&h->sysctl_file, in->sysctl_file) < 0)
		return -ENOMEM;
	if (in->has_interval_ms)
		h->interval_ms = in->interval_ms;
	h->limit_min = in->has_limit_min ? in->limit_min : 0;
	h->limit_max = in->has_limit_max ? in->limit_max : 0;
	h->limit_margin = in->has_limit_margin ? in->limit_margin : 0;
	h->boot_time_ms = in->has_boot_time_ms ? in->boot_time_ms : 0;
	if (in->has_counting)
		h->counting = (int)in->counting;
	if (!h->first_seen_ms)
		h->first_seen_ms = hi->now;
	h->last_seen_ms = hi->now;
	h->served_ms = aio_mono_ms();
	hi->w->seq = h->last_seq;
	return server_db_write_host_fill(hi->w, h);
}

static void agent_rpc_hello(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__HelloRequest *in,
                            Aioctl__V1__HelloReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	const Aioctl__V1__Credentials *creds = aio_rpc_call_creds(data);
	struct hello hi;
	struct pending *p;
	const char *bad;
	uint64_t now = aio_now_ms();
	int r;

	if ((bad = server_agent_check_hello(in))) {
		fail(data, (ProtobufCClosure)closure, AIO_INVALID_ARGUMENT, bad);
		return;
	}
	if (strcmp(creds->host_id, in->host_id) != 0) {
		log_warn("hello: credentials of %s used to speak for %s", creds->host_id,
		         in->host_id);
		fail(data, (ProtobufCClosure)closure, AIO_PERMISSION_DENIED,
		     "host_id differs from the caller's identity");
		return;
	}

	p = calloc(1, sizeof(*p));
	if (!p) {
		fail(data, (ProtobufCClosure)closure, AIO_RESOURCE_EXHAUSTED,
		     "server out of memory");
		return;
	}
	hi.in = in;
	hi.w = &p->w;
	hi.now = now;
	if ((r = server_hosts_update_name(&s->hosts, in->host_id, true, hello_host, &hi)) < 0) {
		server_db_write_free(&p->w);
		new_host_failed(data, (ProtobufCClosure)closure, r);
		return;
	}
	p->w.done = hello_stored;
	p->closure = (ProtobufCClosure)closure;
	p->closure_data = data;
	if ((r = server_db_submit(s->db, &p->w)) < 0)
		submit_failed(p, r);
}

/* n text fields of a host's message were cleaned: counted for /metrics,
 * logged at most once a minute. */
static void note_cleaned(struct server *s, const char *host, size_t n)
{
	static _Atomic uint64_t next_log_ms;
	uint64_t now = aio_mono_ms(), next = atomic_load(&next_log_ms);

	atomic_fetch_add(&s->fields_cleaned_total, n);
	if (now >= next && atomic_compare_exchange_strong(&next_log_ms, &next, now + 60000))
		log_warn("%s sent %zu text fields holding control characters, bytes that are not "
		         "UTF-8 or too long; stored cleaned (aioctl_server_fields_cleaned_total; "
		         "logged once a minute)",
		         host, n);
}

/* A text field a peer sent, cleaned in place (aio_text_clean); *n counts
 * the fields changed. False for a required field that is empty. */
static bool clean(char *s, size_t max, bool required, size_t *n)
{
	if (aio_text_clean(s, max))
		(*n)++;
	return !required || (s && *s);
}

/* Drops item i of an array of n unpacked messages (a field that was
 * required and is missing). */
static void drop_item(void **v, size_t *n, size_t i)
{
	protobuf_c_message_free_unpacked(v[i], NULL);
	memmove(v + i, v + i + 1, (*n - i - 1) * sizeof(*v));
	(*n)--;
}

/* Every text field of in made safe to store and show: a VM name set
 * through argv or a log line holding a control character or a byte that is
 * not UTF-8 costs that field its bytes, never the report its samples. An
 * event without its key or source, or an AIO user without a name, is the
 * one item dropped. Returns the fields changed or dropped. */
static size_t clean_report(Aioctl__V1__ReportRequest *in)
{
	size_t n = 0;

	for (size_t i = 0; i < in->n_events; i++) {
		Aioctl__V1__AioEvent *e = in->events[i];
		bool ok = clean(e->source, AIO_PATH_MAX, true, &n);

		ok &= clean(e->key, AIO_EVENT_KEY_MAX, true, &n);
		clean(e->vm, AIO_VM_NAME_MAX, false, &n);
		clean(e->disk, AIO_DISK_MAX, false, &n);
		clean(e->line, AIO_EVENT_LINE_MAX, false, &n);
		clean(e->incident, AIO_INCIDENT_MAX, false, &n);
		if (e->has_contexts && e->contexts > AIO_DOMAIN_CONTEXTS_MAX) {
			e->has_contexts = false; /* no domain asks this much */
			n++;
		}
		if (!ok) {
			drop_item((void **)in->events, &in->n_events, i--);
			n++;
		}
	}
	for (size_t i = 0; i < in->n_users; i++) {
		bool ok = clean(in->users[i]->name, AIO_VM_NAME_MAX, true, &n);

		clean(in->users[i]->events_basis, AIO_BASIS_MAX, false, &n);
		if (!ok) {
			drop_item((void **)in->users, &in->n_users, i--);
			n++;
		}
	}
	if (in->persisted) {
		Aioctl__V1__Persisted *p = in->persisted;

		clean(p->file, AIO_PATH_MAX, false, &n);
		clean(p->procps_file, AIO_PATH_MAX, false, &n);
		for (size_t i = 0; i < p->n_settings; i++)
			if (!clean(p->settings[i]->file, AIO_PATH_MAX, true, &n)) {
				drop_item((void **)p->settings, &p->n_settings, i--);
				n++;
			}
	}
	return n;
}

const char *server_agent_check_report(Aioctl__V1__ReportRequest *in, uint64_t now,
                                      size_t *ret_cleaned)
{
	const Aioctl__V1__Sample *smp = in->sample;

	*ret_cleaned = 0;
	if (smp->time_ms > now + AIO_SAMPLE_FUTURE_MAX_MS)
		return "sample time is in the future (check the agent's clock)";
	if (smp->time_ms + replay_max_ms < now)
		return "sample is older than the server's replay bound (replay-max)";
	if (smp->aio_nr_min > smp->aio_nr_max || smp->aio_nr < smp->aio_nr_min ||
	    smp->aio_nr > smp->aio_nr_max)
		return "sample: aio_nr must lie between aio_nr_min and aio_nr_max";
	if (smp->aio_nr_max > AIO_COUNTER_MAX || smp->aio_max_nr > AIO_COUNTER_MAX)
		return "sample: aio-nr and aio-max-nr at most 2^40";
	if (in->seq == 0)
		return "seq starts at 1";
	if (in->seq > AIO_SEQ_MAX)
		return "seq past 2^62: the agent's state is damaged (restarted, it numbers after "
		       "the server's last report)";
	if (in->n_users > AIO_USERS_MAX)
		return "too many AIO users in one report";
	if (in->n_events > AIO_EVENTS_MAX)
		return "too many events in one report";
	if (in->persisted && in->persisted->n_settings > AIO_SETTINGS_MAX)
		return "too many sysctl settings";
	for (size_t i = 0; i < in->n_events; i++) {
		if (in->events[i]->time_ms > now + AIO_SAMPLE_FUTURE_MAX_MS)
			return "event time is in the future";
		/* the server lists an incident's sources; an agent sends one */
		if (in->events[i]->n_sources)
			return "event: sources is the server's field; send source";
	}
	*ret_cleaned = clean_report(in);
	return NULL;
}

/* The report's events that were stored new, or merged into their
 * incident's, join the host's recent ones. */
static int note_events(struct server_host *h, void *arg)
{
	const struct server_db_write *w = arg;

	for (size_t i = 0; i < w->report->n_events; i++) {
		if (w->event_new[i] == SERVER_EVENT_NEW)
			server_host_add_event(h, w->report->events[i]);
		else if (w->event_new[i] == SERVER_EVENT_MERGED)
			server_host_merge_event(h, w->report->events[i]);
	}
	return 0;
}

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	free(b->refused);
	free(b->refused_ptrs);
	free(b);
}

static void batch_reply(struct batch *b)
{
	int err = atomic_load(&b->err);

	if (err) {
		fail(b->closure_data, b->closure, store_status(err), store_message(err));
	} else {
		atomic_fetch_add(&b->s->report_batches_total, 1);
		b->closure(&b->rep.base, b->closure_data);
	}
	batch_free(b);
}

static void report_stored(struct server_db_write *w, int err)
{
	struct pending *p = (struct pending *)w;
	Aioctl__V1__ReportReply rep = AIOCTL__V1__REPORT_REPLY__INIT;
	struct batch *b = p->batch;

	if (!err && w->event_new) {
		server_hosts_update_id(&p->s->hosts, w->host_id, note_events, w);
		for (size_t i = 0; i < w->report->n_events; i++) {
			int k = w->report->events[i]->kind -
			        AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED;

			if (w->event_new[i] == SERVER_EVENT_NEW && k >= 0 && k < 3)
				atomic_fetch_add(&p->s->guard_total[k], 1);
		}
	}
	if (!err && !w->duplicate)
		atomic_fetch_add(&p->s->reports_total, 1);
	if (b) {
		int none = 0;

		if (err)
			atomic_compare_exchange_strong(&b->err, &none, err);
		if (atomic_fetch_sub(&b->left, 1) == 1)
			batch_reply(b);
	} else if (err) {
		fail(p->closure_data, p->closure, store_status(err), store_message(err));
	} else {
		rep.has_acked_seq = true;
		rep.acked_seq = w->seq;
		p->closure(&rep.base, p->closure_data);
	}
	server_db_write_free(w);
}

static void pack_detail(const Aioctl__V1__HostDetail *d, struct server_db_write *w)
{
	size_t len = aioctl__v1__host_detail__get_packed_size(d);

	w->detail_blob = malloc(len ? len : 1);
	if (!w->detail_blob)
		return;
	w->detail_len = aioctl__v1__host_detail__pack(d, w->detail_blob);
}

struct report_host {
	const Aioctl__V1__ReportRequest *in;
	struct server_db_write *w;
	uint64_t now;
};

static int report_host(struct server_host *h, void *arg)
{
	struct report_host *rh = arg;
	const Aioctl__V1__ReportRequest *in = rh->in;

	h->last_seen_ms = rh->now;
	h->served_ms = aio_mono_ms();
	/* a replayed older report does not roll the latest values back */
	if (in->seq > h->last_seq || !h->has_sample) {
		h->last_seq = in->seq > h->last_seq ? in->seq : h->last_seq;
		server_host_set_sample(h, in->sample, rh->now);
		if (server_host_merge_detail(h, in, rh->now) == 0 && h->detail &&
		    (in->persisted || in->has_unexplained || in->n_users))
			pack_detail(h->detail, rh->w);
		if (in->has_dropped)
			h->dropped = in->dropped;
	}
	rh->w->host_id = h->id;
	return 0;
}

/* One report checked and taken into the host's latest values: its write,
 * ready to submit and owning in, in *ret_p. Otherwise the status that
 * refuses it, with why (a static string) or the text in buf. */
static int take_report(struct server *s, const char *host, Aioctl__V1__ReportRequest *in,
                       uint64_t now, struct pending **ret_p, const char **why, char *buf,
                       size_t len)
{
	struct report_host rh;
	struct pending *p;
	size_t cleaned;

	/* the agent's clock is ahead: its report is good, only not yet; it
	 * keeps it and sends it again, where a refusal would drop it */
	if (in->sample && in->sample->time_ms > now + AIO_SAMPLE_FUTURE_MAX_MS) {
		snprintf(buf, len,
		         "sample time is %" PRIu64 " s ahead of the server's clock: the report is "
		         "kept and sent again (check the agent's clock)",
		         (in->sample->time_ms - now) / 1000);
		*why = buf;
		return AIO_UNAVAILABLE;
	}
	if ((*why = server_agent_check_report(in, now, &cleaned)))
		return AIO_INVALID_ARGUMENT;
	if (cleaned)
		note_cleaned(s, host, cleaned);
	if (!(p = calloc(1, sizeof(*p)))) {
		*why = "server out of memory";
		return AIO_RESOURCE_EXHAUSTED;
	}
	rh.in = in;
	rh.w = &p->w;
	rh.now = now;
	if (server_hosts_update_name(&s->hosts, host, false, report_host, &rh) < 0) {
		free(p);
		*why = "unknown host: say Hello first";
		return AIO_FAILED_PRECONDITION;
	}
	p->w.type = SERVER_DB_WRITE_SAMPLE;
	p->w.seq = in->seq;
	p->w.sample = *in->sample;
	p->w.sample.base.n_unknown_fields = 0;
	p->w.sample.base.unknown_fields = NULL;
	p->w.last_seen_ms = now;
	/* the database thread stores the events after the handler returns */
	p->w.report = in;
	p->s = s;
	p->w.done = report_stored;
	*ret_p = p;
	return AIO_OK;
}

static void agent_rpc_report(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__ReportRequest *in,
                             Aioctl__V1__ReportReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	struct pending *p;
	const char *why;
	char msg[200];
	int code, r;

	code = take_report(s, aio_rpc_call_creds(data)->host_id, (Aioctl__V1__ReportRequest *)in,
	                   aio_now_ms(), &p, &why, msg, sizeof(msg));
	if (code != AIO_OK) {
		fail(data, (ProtobufCClosure)closure, code, why);
		return;
	}
	aio_rpc_call_take_input(data); /* p->w.report */
	p->closure = (ProtobufCClosure)closure;
	p->closure_data = data;
	if ((r = server_db_submit(s->db, &p->w)) < 0)
		submit_failed(p, r);
}

/* Frees writes linked by next (none submitted). */
static void free_writes(struct server_db_write *w)
{
	while (w) {
		struct server_db_write *next = w->next;

		server_db_write_free(w);
		w = next;
	}
}

/* Many reports, oldest first: each is judged as Report judges it, the ones
 * taken are stored in one transaction, and the answer comes when they are.
 * A report refused for good is listed; one ahead of the server's clock
 * ends the batch there (the agent keeps it and the rest). */
static void agent_rpc_report_batch(Aioctl__V1__Agent_Service *svc,
                                   const Aioctl__V1__ReportBatchRequest *in,
                                   Aioctl__V1__ReportBatchReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	const char *host = aio_rpc_call_creds(data)->host_id, *why = NULL;
	Aioctl__V1__ReportBatchRequest *own;
	struct server_db_write *first = NULL, **tail = &first;
	uint64_t now = aio_now_ms(), acked = 0;
	size_t n = 0;
	struct batch *b;
	char msg[200];
	int code = AIO_OK, r;

	if (!in->n_reports || in->n_reports > AIO_REPORT_BATCH_MAX) {
		snprintf(msg, sizeof(msg), "a batch holds 1 to %d reports, not %zu",
		         AIO_REPORT_BATCH_MAX, in->n_reports);
		fail(data, (ProtobufCClosure)closure, AIO_INVALID_ARGUMENT, msg);
		return;
	}
	for (size_t i = 1; i < in->n_reports; i++)
		if (in->reports[i]->seq <= in->reports[i - 1]->seq) {
			fail(data, (ProtobufCClosure)closure, AIO_INVALID_ARGUMENT,
			     "a batch's reports go in ascending seq");
			return;
		}
	b = calloc(1, sizeof(*b));
	if (!b || !(b->refused = calloc(in->n_reports, sizeof(*b->refused))) ||
	    !(b->refused_ptrs = calloc(in->n_reports, sizeof(*b->refused_ptrs)))) {
		batch_free(b);
		fail(data, (ProtobufCClosure)closure, AIO_RESOURCE_EXHAUSTED,
		     "server out of memory");
		return;
	}
	aioctl__v1__report_batch_reply__init(&b->rep);
	b->rep.refused = b->refused_ptrs;
	b->s = s;
	b->closure = (ProtobufCClosure)closure;
	b->closure_data = data;
	own = (Aioctl__V1__ReportBatchRequest *)aio_rpc_call_take_input(data);
	for (size_t i = 0; i < own->n_reports; i++) {
		Aioctl__V1__ReportRequest *rq = own->reports[i];
		struct pending *p;

		code = take_report(s, host, rq, now, &p, &why, msg, sizeof(msg));
		if (code == AIO_INVALID_ARGUMENT) {
			Aioctl__V1__RefusedReport *x = &b->refused[b->rep.n_refused];

			aioctl__v1__refused_report__init(x);
			x->seq = rq->seq;
			x->reason = (char *)why;
			b->refused_ptrs[b->rep.n_refused++] = x;
			acked = rq->seq;
			code = AIO_OK;
			continue;
		}
		if (code != AIO_OK)
			break;
		own->reports[i] = NULL; /* the write owns it now */
		p->batch = b;
		*tail = &p->w;
		tail = &p->w.next;
		n++;
		acked = rq->seq;
	}
	aioctl__v1__report_batch_request__free_unpacked(own, NULL);
	if (code != AIO_OK && (code != AIO_UNAVAILABLE || !acked)) {
		/* nothing taken (a first report ahead of the clock), or the host
		 * or memory gone: the agent keeps them all */
		free_writes(first);
		batch_free(b);
		fail(data, (ProtobufCClosure)closure, code, why);
		return;
	}
	b->rep.has_acked_seq = true;
	b->rep.acked_seq = acked;
	if (!n) {
		batch_reply(b); /* every one refused */
		return;
	}
	atomic_store(&b->left, n);
	if ((r = server_db_submit_many(s->db, first, n)) < 0) {
		free_writes(first);
		fail(data, (ProtobufCClosure)closure,
		     r == -EAGAIN ? AIO_RESOURCE_EXHAUSTED : AIO_UNAVAILABLE,
		     r == -EAGAIN ? "server busy: write queue full, retry later"
		                  : "server is shutting down");
		batch_free(b);
	}
}

/* The caller's host, known from Hello; 0 when unknown. */
static int64_t caller_host(struct server *s, void *data)
{
	return server_hosts_id(&s->hosts, aio_rpc_call_creds(data)->host_id);
}

static void agent_rpc_watch(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__WatchRequest *in,
                            Aioctl__V1__WatchReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	int64_t id = caller_host(s, data);

	if (!id) {
		fail(data, (ProtobufCClosure)closure, AIO_FAILED_PRECONDITION,
		     "unknown host: say Hello first");
		return;
	}
	server_push_watch(&s->push, id, in->has_max_wait_ms ? in->max_wait_ms : 0, closure, data);
}

static void agent_rpc_ack(Aioctl__V1__Agent_Service *svc, const Aioctl__V1__AckRequest *in,
                          Aioctl__V1__AckReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__AckReply rep = AIOCTL__V1__ACK_REPLY__INIT;
	int64_t id = caller_host(s, data);

	if (!id) {
		fail(data, (ProtobufCClosure)closure, AIO_FAILED_PRECONDITION,
		     "unknown host: say Hello first");
		return;
	}
	if (in->sample &&
	    (in->sample->aio_nr > AIO_COUNTER_MAX || in->sample->aio_nr_max > AIO_COUNTER_MAX ||
	     in->sample->aio_max_nr > AIO_COUNTER_MAX)) {
		fail(data, (ProtobufCClosure)closure, AIO_INVALID_ARGUMENT,
		     "ack: sample: aio-nr and aio-max-nr at most 2^40");
		return;
	}
	if (in->sample && in->sample->time_ms > aio_now_ms() + AIO_SAMPLE_FUTURE_MAX_MS) {
		fail(data, (ProtobufCClosure)closure, AIO_INVALID_ARGUMENT,
		     "ack: sample time is in the future (check the agent's clock)");
		return;
	}
	/* an ack refused is a step's result lost: its text is cleaned */
	{
		Aioctl__V1__AckRequest *ack = (Aioctl__V1__AckRequest *)in;
		size_t cleaned = 0;

		clean(ack->message, AIO_RPC_STATUS_MESSAGE_MAX, false, &cleaned);
		if (ack->persisted_before)
			clean(ack->persisted_before->file, AIO_PATH_MAX, false, &cleaned);
		if (ack->persisted_after)
			clean(ack->persisted_after->file, AIO_PATH_MAX, false, &cleaned);
		if (cleaned)
			note_cleaned(s, aio_rpc_call_creds(data)->host_id, cleaned);
	}
	/* acks only ever settle the caller's own commands */
	server_engine_ack(&s->engine, id, in);
	server_cluster_ack(s->cluster, id, in); /* the leader may be another */
	closure(&rep, data);
}

Aioctl__V1__Agent_Service server_agent_service = {
	AIOCTL__V1__AGENT__BASE_INIT,
	.enroll = agent_rpc_enroll,
	.hello = agent_rpc_hello,
	.report = agent_rpc_report,
	.report_batch = agent_rpc_report_batch,
	.watch = agent_rpc_watch,
	.ack = agent_rpc_ack,
};
