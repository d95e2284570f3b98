#include "rollout.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "clock.h"
#include "log.h"
#include "names.h"
#include "rollout_store.h"
#include "rpc_server.h"
#include "server.h"

#define TICK_MS                 100
#define EPHEMERAL_BIT           (1ULL << 62) /* command ids for live queries */
#define OFFLINE_TIMEOUT_DEFAULT (24ULL * 3600 * 1000)
#define SOAK_DEFAULT_MS         30000
#define SOAK_GRACE_MS           2000

/* A live fleet status: sample_now went to every host; answered when all
 * replied or at the deadline. */
struct server_live {
	Aioctl__V1__FleetStatusReply_Closure closure;
	void *data;
	uint64_t deadline_ms;
	int64_t *hosts; /* asked */
	bool *answered;
	size_t n;
	uint64_t first_id; /* command ids first_id .. first_id + n - 1 */
	struct server_live *next;
};

static void rollout_free(struct server_rollout *ro);

/* ----------------------------------------------------------- helpers */

static struct server_hostctl *ctl_get(struct server_engine *e, int64_t host_id)
{
	if (host_id <= 0)
		return NULL;
	if ((size_t)host_id >= e->n_ctl) {
		size_t n = (size_t)host_id * 2 + 16;
		struct server_hostctl *v = realloc(e->ctl, n * sizeof(*v));

		if (!v)
			return NULL;
		memset(v + e->n_ctl, 0, (n - e->n_ctl) * sizeof(*v));
		e->ctl = v;
		e->n_ctl = n;
	}
	return &e->ctl[host_id];
}

static struct server_rollout *find_rollout(struct server_engine *e, uint64_t id)
{
	for (struct server_rollout *ro = e->rollouts; ro; ro = ro->next)
		if (ro->id == id)
			return ro;
	return NULL;
}

/* A rollout's step ids are consecutive in the order of its steps, so
 * the step is found by subtraction: 10,000 acks to a 10,000-host rollout
 * must not each scan it. */
static struct server_step *find_step(struct server_engine *e, uint64_t step_id,
                                     struct server_rollout **ret_ro)
{
	for (struct server_rollout *ro = e->rollouts; ro; ro = ro->next) {
		uint64_t i;

		if (!ro->n_steps || step_id < ro->steps[0].id)
			continue;
		i = step_id - ro->steps[0].id;
		if (i < ro->n_steps && ro->steps[i].id == step_id) {
			*ret_ro = ro;
			return &ro->steps[i];
		}
	}
	return NULL;
}

static bool rollout_active(const struct server_rollout *ro)
{
	return ro->state == RO_RUNNING || ro->state == RO_PAUSED || ro->state == RO_ROLLING_BACK;
}

static bool step_terminal(const struct server_step *p)
{
	return p->state == STEP_DONE || p->state == STEP_FAILED || p->state == STEP_EXPIRED ||
	       p->state == STEP_CANCELLED;
}

static void step_msg(struct server_step *p, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void step_msg(struct server_step *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	p->dirty = true;
}

static void rollout_msg(struct server_rollout *ro, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void rollout_msg(struct server_rollout *ro, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ro->message, sizeof(ro->message), fmt, ap);
	va_end(ap);
	ro->dirty = true;
}

/* The value a host gets after a reboot, from its latest scan. */
static bool persisted_value(const struct server_host *h, uint64_t *ret)
{
	if (!h->detail || !h->detail->persisted)
		return false;
	*ret = h->detail->persisted->has_value ? h->detail->persisted->value
	                                       : AIO_KERNEL_DEFAULT_MAX;
	return true;
}

/* ------------------------------------------------------ commands, watch */

static void command_free_list(struct server_command *c)
{
	while (c) {
		struct server_command *next = c->next;

		free(c);
		c = next;
	}
}

static int enqueue(struct server_engine *e, int64_t host_id, const struct server_command *tmpl)
{
	struct server_hostctl *ctl = ctl_get(e, host_id);
	struct server_command *c, **tail;

	if (!ctl)
		return -ENOMEM;
	for (c = ctl->commands; c; c = c->next)
		if (c->id == tmpl->id)
			return 0; /* already outstanding */
	if (ctl->n_commands >= SERVER_COMMANDS_MAX)
		return -EAGAIN;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	*c = *tmpl;
	c->next = NULL;
	c->sent_ms = 0;
	for (tail = &ctl->commands; *tail; tail = &(*tail)->next)
		;
	*tail = c;
	ctl->n_commands++;
	return 0;
}

static void withdraw(struct server_engine *e, int64_t host_id, uint64_t command_id)
{
	struct server_hostctl *ctl = ctl_get(e, host_id);

	for (struct server_command **pp = ctl ? &ctl->commands : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->id == command_id) {
			struct server_command *c = *pp;

			*pp = c->next;
			ctl->n_commands--;
			free(c);
			return;
		}
	}
}

/* Answers the host's held Watch with the commands due now (or with none
 * when flush): returns true if it answered. */
static bool deliver(struct server_hostctl *ctl, uint64_t now, bool flush)
{
	Aioctl__V1__WatchReply rep = AIOCTL__V1__WATCH_REPLY__INIT;
	Aioctl__V1__Command cmds[SERVER_COMMANDS_MAX], *ptrs[SERVER_COMMANDS_MAX];
	Aioctl__V1__SetLimit sets[SERVER_COMMANDS_MAX];
	size_t n = 0;

	if (!ctl || !ctl->watch)
		return false;
	for (struct server_command *c = ctl->commands; c && n < SERVER_COMMANDS_MAX; c = c->next) {
		if (c->sent_ms && now < c->sent_ms + SERVER_RESEND_MS)
			continue;
		aioctl__v1__command__init(&cmds[n]);
		cmds[n].command_id = c->id;
		if (c->sample_now) {
			cmds[n].has_sample_now = true;
			cmds[n].sample_now = true;
		} else {
			aioctl__v1__set_limit__init(&sets[n]);
			sets[n].rollout_id = c->rollout_id;
			sets[n].step_id = c->step_id;
			sets[n].target = c->target;
			sets[n].has_persist = true;
			sets[n].persist = true;
			sets[n].has_force = c->force;
			sets[n].force = c->force;
			sets[n].has_rollback = c->rollback;
			sets[n].rollback = c->rollback;
			cmds[n].set_limit = &sets[n];
		}
		ptrs[n] = &cmds[n];
		c->sent_ms = now;
		n++;
	}
	if (!n && !flush)
		return false;
	rep.commands = ptrs;
	rep.n_commands = n;
	ctl->watch(&rep, ctl->watch_data);
	ctl->watch = NULL;
	ctl->watch_data = NULL;
	return true;
}

void server_engine_watch(struct server *s, int64_t host_id, uint64_t max_wait_ms,
                         Aioctl__V1__WatchReply_Closure closure, void *data)
{
	struct server_engine *e = &s->engine;
	struct server_hostctl *ctl;
	uint64_t now = aio_now_ms();

	pthread_mutex_lock(&e->lock);
	ctl = ctl_get(e, host_id);
	if (!ctl || e->stopping) {
		pthread_mutex_unlock(&e->lock);
		AIO_RPC_REFUSE(data, closure, AIO_UNAVAILABLE, "server is shutting down");
		return;
	}
	/* one held Watch per host: a newer one replaces the older */
	deliver(ctl, now, true);
	ctl->watch = closure;
	ctl->watch_data = data;
	if (!max_wait_ms || max_wait_ms > SERVER_WATCH_MAX_MS)
		max_wait_ms = SERVER_WATCH_MAX_MS;
	ctl->watch_deadline_ms = now + max_wait_ms;
	deliver(ctl, now, false);
	pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------- saving */

/* Changes made under the engine lock collect here; the engine thread
 * submits them outside the lock, so nothing waits for the database while
 * holding it (the database thread takes the lock after a commit). */
static struct server_save *pending(struct server *s)
{
	if (!s->engine.pending)
		s->engine.pending = server_save_new(s);
	return s->engine.pending;
}

static void audit_into(struct server_save *sv, const char *who, const char *action,
                       const char *target, const char *result)
{
	if (sv)
		server_save_audit(sv, who, action, target, result);
}

void server_audit(struct server *s, const char *who, const char *action, const char *target,
                  const char *result)
{
	pthread_mutex_lock(&s->engine.lock);
	audit_into(pending(s), who, action, target, result);
	pthread_cond_signal(&s->engine.wake);
	pthread_mutex_unlock(&s->engine.lock);
}

/* ---------------------------------------------------------- the steps */

static uint64_t step_command_id(uint64_t step_id, bool rollback)
{
	return step_id * 2 + (rollback ? 1 : 0);
}

static void send_step(struct server *s, struct server_rollout *ro, struct server_step *p,
                      bool rollback, uint64_t now)
{
	struct server_command c = { 0 };

	c.id = step_command_id(p->id, rollback);
	c.rollout_id = ro->id;
	c.step_id = p->id;
	c.target = p->target;
	c.force = ro->opts->has_force && ro->opts->force;
	c.rollback = rollback;
	if (enqueue(&s->engine, p->host_id, &c) < 0)
		return; /* the host's queue is full: try again next tick */
	if (rollback) {
		p->rb = RB_SENT;
	} else {
		p->state = STEP_SENT;
		p->started_ms = now;
		p->offline_since_ms = 0;
		step_msg(p, "sent");
	}
	p->dirty = true;
	deliver(ctl_get(&s->engine, p->host_id), now, false);
}

/* A step reached done: the host's desired value is its target now. */
static void step_done(struct server *s, struct server_save *sv, struct server_rollout *ro,
                      struct server_step *p, uint64_t now)
{
	struct server_host *h;
	char result[64];

	p->state = STEP_DONE;
	p->finished_ms = now;
	step_msg(p, "done");
	pthread_rwlock_wrlock(&s->hosts.lock);
	if ((h = server_hosts_find_id(&s->hosts, p->host_id))) {
		h->has_desired = true;
		h->desired = p->target;
		h->desired_rollout = ro->id;
		h->desired_ms = now;
	}
	pthread_rwlock_unlock(&s->hosts.lock);
	if (sv)
		server_save_desired(sv, p->host_id, p->target, ro->id, now);
	snprintf(result, sizeof(result), "done: %" PRIu64, p->target);
	audit_into(sv, ro->created_by, "step.apply", p->host, result);
}

static void step_failed(struct server_save *sv, struct server_rollout *ro, struct server_step *p,
                        uint64_t now, const char *why)
{
	char result[300];

	p->state = STEP_FAILED;
	p->finished_ms = now;
	step_msg(p, "%s", why);
	snprintf(result, sizeof(result), "failed: %s", why);
	audit_into(sv, ro->created_by, "step.apply", p->host, result);
	log_warn("rollout %" PRIu64 ": %s failed: %s", ro->id, p->host, why);
}

static void ack_step(struct server *s, struct server_rollout *ro, struct server_step *p,
                     const Aioctl__V1__AckRequest *ack, bool rollback, uint64_t now)
{
	struct server_save *sv = pending(s);
	uint64_t after = 0;
	bool has_after;

	if (rollback) {
		if (p->rb != RB_SENT)
			goto out_save;
		p->rb = ack->status == AIOCTL__V1__STATUS_CODE__OK ? RB_DONE : RB_FAILED;
		p->dirty = true;
		if (p->rb == RB_DONE) {
			struct server_host *h;

			pthread_rwlock_wrlock(&s->hosts.lock);
			if ((h = server_hosts_find_id(&s->hosts, p->host_id)))
				server_host_note_applied(h, ack);
			pthread_rwlock_unlock(&s->hosts.lock);
		}
		if (p->rb == RB_DONE && p->has_runtime_before) {
			struct server_host *h;

			pthread_rwlock_wrlock(&s->hosts.lock);
			if ((h = server_hosts_find_id(&s->hosts, p->host_id))) {
				h->desired = p->runtime_before;
				h->desired_ms = now;
			}
			pthread_rwlock_unlock(&s->hosts.lock);
			if (sv)
				server_save_desired(sv, p->host_id, p->runtime_before, ro->id, now);
		}
		step_msg(p, "rolled back%s%s", ack->message ? ": " : "",
		         ack->message ? ack->message : "");
		audit_into(sv, ro->created_by, "step.rollback", p->host,
		           p->rb == RB_DONE ? "done" : ack->message);
		goto out_save;
	}
	if (p->state != STEP_SENT)
		goto out_save; /* a late repeat */
	p->acked_ms = now;
	p->has_runtime_before = ack->has_runtime_before;
	p->runtime_before = ack->runtime_before;
	p->has_runtime_after = ack->has_runtime_after;
	p->runtime_after = ack->runtime_after;
	if (ack->persisted_before) {
		p->has_persisted_before = true;
		p->persisted_before = ack->persisted_before->has_value
		                              ? ack->persisted_before->value
		                              : AIO_KERNEL_DEFAULT_MAX;
	}
	has_after = ack->persisted_after != NULL;
	if (has_after) {
		after = ack->persisted_after->has_value ? ack->persisted_after->value
		                                        : AIO_KERNEL_DEFAULT_MAX;
		p->has_persisted_after = true;
		p->persisted_after = after;
	}
	if (ack->status != AIOCTL__V1__STATUS_CODE__OK) {
		step_failed(sv, ro, p, now, ack->message ? ack->message : "refused by the agent");
	} else if (!ack->has_runtime_after || ack->runtime_after != p->target || !has_after ||
	           after != p->target) {
		char why[200];

		snprintf(why, sizeof(why), "read back live %" PRIu64 ", after reboot %" PRIu64,
		         ack->runtime_after, after);
		step_failed(sv, ro, p, now, why);
	} else {
		uint64_t soak = ro->opts->has_soak_ms ? ro->opts->soak_ms : SOAK_DEFAULT_MS;
		struct server_host *h;

		pthread_rwlock_wrlock(&s->hosts.lock);
		if ((h = server_hosts_find_id(&s->hosts, p->host_id)))
			server_host_note_applied(h, ack);
		pthread_rwlock_unlock(&s->hosts.lock);
		p->state = STEP_SOAKING;
		p->soak_until_ms = now + soak;
		step_msg(p, "applied, soaking");
		if (!soak)
			step_done(s, sv, ro, p, now);
	}
out_save:
	ro->dirty = true;
}

/* --------------------------------------------------------- live query */

static void live_answer(struct server *s, struct server_live *lq);

static void ack_live(struct server *s, int64_t host_id, const Aioctl__V1__AckRequest *ack)
{
	struct server_engine *e = &s->engine;

	for (struct server_live *lq = e->live; lq; lq = lq->next) {
		uint64_t i = ack->command_id - lq->first_id;

		if (ack->command_id < lq->first_id || i >= lq->n || lq->hosts[i] != host_id)
			continue;
		if (ack->sample && ack->status == AIOCTL__V1__STATUS_CODE__OK) {
			struct server_host *h;

			lq->answered[i] = true;
			pthread_rwlock_wrlock(&s->hosts.lock);
			if ((h = server_hosts_find_id(&s->hosts, host_id))) {
				h->sample = *ack->sample;
				h->sample.base.n_unknown_fields = 0;
				h->sample.base.unknown_fields = NULL;
				h->has_sample = true;
				h->last_seen_ms = aio_now_ms();
			}
			pthread_rwlock_unlock(&s->hosts.lock);
		}
		return;
	}
}

void server_engine_ack(struct server *s, int64_t host_id, const Aioctl__V1__AckRequest *ack)
{
	struct server_engine *e = &s->engine;
	struct server_rollout *ro;
	struct server_step *p;
	bool rollback = ack->command_id & 1;

	pthread_mutex_lock(&e->lock);
	withdraw(e, host_id, ack->command_id);
	if (ack->command_id & EPHEMERAL_BIT) {
		ack_live(s, host_id, ack);
	} else if ((p = find_step(e, ack->command_id / 2, &ro)) && p->host_id == host_id) {
		ack_step(s, ro, p, ack, rollback, aio_now_ms());
	}
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

/* -------------------------------------------------------------- ticks */

static uint32_t failure_threshold(const struct server_rollout *ro)
{
	uint32_t n = ro->opts->has_max_failures ? ro->opts->max_failures : 0;

	if (ro->opts->has_max_failures_percent && ro->opts->max_failures_percent)
		return (uint32_t)((uint64_t)n * ro->n_steps / 100);
	return n;
}

static void start_rollback(struct server_rollout *ro, struct server_save *sv, const char *why)
{
	for (size_t i = 0; i < ro->n_steps; i++) {
		struct server_step *p = &ro->steps[i];

		if (p->state == STEP_PENDING) {
			p->state = STEP_CANCELLED;
			p->dirty = true;
		}
		/* hosts that took the change, or may have */
		if ((p->state == STEP_DONE || p->state == STEP_SOAKING || p->state == STEP_SENT ||
		     p->state == STEP_FAILED) &&
		    p->rb == RB_NONE && p->started_ms) {
			p->rb = RB_PENDING;
			p->dirty = true;
		}
	}
	ro->state = RO_ROLLING_BACK;
	rollout_msg(ro, "rolling back: %s", why);
	audit_into(sv, ro->created_by, "rollout.rollback", NULL, why);
}

/* Advances one rollout; returns true if anything changed. */
static void tick_rollout(struct server *s, struct server_rollout *ro, struct server_save *sv,
                         uint64_t now)
{
	bool may_start = ro->state == RO_RUNNING;
	uint32_t failed = 0;
	bool wave_busy = false, all_terminal = true;

	if (!ro->committed)
		return;
	if (ro->state == RO_ROLLING_BACK) {
		bool busy = false;

		for (size_t i = 0; i < ro->n_steps; i++) {
			struct server_step *p = &ro->steps[i];
			struct server_host *h;
			bool online;

			if (p->rb == RB_PENDING) {
				pthread_rwlock_rdlock(&s->hosts.lock);
				h = server_hosts_find_id(&s->hosts, p->host_id);
				online = h && server_host_online(h, now);
				pthread_rwlock_unlock(&s->hosts.lock);
				if (online)
					send_step(s, ro, p, true, now);
			}
			busy |= p->rb == RB_PENDING || p->rb == RB_SENT;
		}
		if (!busy) {
			ro->state = RO_ROLLED_BACK;
			ro->finished_ms = now;
			rollout_msg(ro, "rolled back");
			audit_into(sv, ro->created_by, "rollout.finish", NULL, "rolled-back");
		}
		return;
	}
	if (ro->state != RO_RUNNING && ro->state != RO_PAUSED && ro->state != RO_ABORTED)
		return;

	for (size_t i = 0; i < ro->n_steps; i++) {
		struct server_step *p = &ro->steps[i];
		struct server_host *h;
		bool online = false, changed = false, new_error = false;

		pthread_rwlock_rdlock(&s->hosts.lock);
		if ((h = server_hosts_find_id(&s->hosts, p->host_id))) {
			online = server_host_online(h, now);
			/* a report whose window closed around the apply may
			 * still show the old value: judge later ones only */
			changed = p->state == STEP_SOAKING && h->has_sample &&
			          h->sample.time_ms > p->acked_ms + SOAK_GRACE_MS &&
			          h->sample.aio_max_nr != p->target;
			new_error = p->state == STEP_SOAKING && h->last_event_ms >= p->started_ms;
		}
		pthread_rwlock_unlock(&s->hosts.lock);

		switch (p->state) {
		case STEP_PENDING:
			if (!may_start || p->wave > ro->wave)
				break;
			if (online) {
				send_step(s, ro, p, false, now);
			} else if (now >= ro->offline_deadline_ms) {
				p->state = STEP_EXPIRED;
				p->finished_ms = now;
				step_msg(p, "offline until the deadline");
				audit_into(sv, ro->created_by, "step.apply", p->host, "expired");
			} else if (!p->offline_since_ms) {
				p->offline_since_ms = now;
				step_msg(p, "offline: applied when it returns");
			}
			break;
		case STEP_SOAKING:
			if (new_error)
				step_failed(sv, ro, p, now, "AIO error during the soak");
			else if (changed)
				step_failed(sv, ro, p, now, "the value changed during the soak");
			else if (now >= p->soak_until_ms)
				step_done(s, sv, ro, p, now);
			break;
		default:
			break;
		}
		failed += p->state == STEP_FAILED;
		if (!step_terminal(p))
			all_terminal = false;
		/* a wave waits for its online hosts, not for offline ones */
		if (p->wave == ro->wave && !step_terminal(p) &&
		    !(p->state == STEP_PENDING && p->offline_since_ms))
			wave_busy = true;
	}

	if (ro->state == RO_RUNNING && failed > ro->failures_accepted + failure_threshold(ro)) {
		char why[128];

		snprintf(why, sizeof(why), "%u failed, more than --max-failures allows", failed);
		if (ro->opts->has_rollback_on_failure && ro->opts->rollback_on_failure) {
			start_rollback(ro, sv, why);
		} else {
			ro->state = RO_PAUSED;
			rollout_msg(ro, "paused: %s", why);
			audit_into(sv, ro->created_by, "rollout.pause", NULL, why);
		}
		ro->dirty = true;
		return;
	}
	if (ro->state == RO_RUNNING && !wave_busy && ro->wave + 1 < ro->n_waves) {
		ro->wave++;
		ro->dirty = true;
		return;
	}
	if (all_terminal && (ro->state == RO_RUNNING || ro->state == RO_ABORTED)) {
		if (ro->state == RO_RUNNING)
			ro->state = RO_COMPLETED;
		ro->finished_ms = now;
		if (ro->state == RO_COMPLETED)
			rollout_msg(ro, "completed: %u failed", failed);
		audit_into(sv, ro->created_by, "rollout.finish", NULL,
		           server_rollout_state_name(ro->state));
		ro->dirty = true;
	}
}

static void tick_live(struct server *s, uint64_t now)
{
	struct server_engine *e = &s->engine;

	for (struct server_live **pp = &e->live; *pp;) {
		struct server_live *lq = *pp;
		bool all = true;

		for (size_t i = 0; i < lq->n; i++)
			all &= lq->answered[i];
		if (!all && now < lq->deadline_ms) {
			pp = &lq->next;
			continue;
		}
		*pp = lq->next;
		live_answer(s, lq);
	}
}

/* Frees finished rollouts past the number kept in memory (the database
 * keeps them all). */
static void prune(struct server_engine *e)
{
	size_t n = 0;

	for (struct server_rollout **pp = &e->rollouts; *pp;) {
		struct server_rollout *ro = *pp;

		if (++n > SERVER_ROLLOUTS_KEPT && !rollout_active(ro) && !ro->dirty &&
		    ro->committed) {
			*pp = ro->next;
			rollout_free(ro);
			continue;
		}
		pp = &ro->next;
	}
}

static void tick(struct server *s)
{
	struct server_engine *e = &s->engine;
	struct server_save *sv = pending(s);
	uint64_t now = aio_now_ms();

	/* held Watches past their time get an empty answer */
	for (size_t i = 0; i < e->n_ctl; i++) {
		struct server_hostctl *ctl = &e->ctl[i];

		if (ctl->watch && !deliver(ctl, now, false) && now >= ctl->watch_deadline_ms)
			deliver(ctl, now, true);
	}
	for (struct server_rollout *ro = e->rollouts; ro; ro = ro->next) {
		tick_rollout(s, ro, sv, now);
		if (ro->dirty || ro->n_steps) {
			bool any = ro->dirty;

			for (size_t i = 0; !any && i < ro->n_steps; i++)
				any = ro->steps[i].dirty;
			if (any && sv)
				server_save_rollout(sv, ro, false);
		}
	}
	tick_live(s, now);
	prune(e);
}

static void *engine_thread(void *arg)
{
	struct server *s = arg;
	struct server_engine *e = &s->engine;

	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		struct server_save *sv;
		struct timespec ts;

		tick(s);
		sv = e->pending;
		e->pending = NULL;
		pthread_mutex_unlock(&e->lock);
		server_save_submit(sv, NULL, NULL, true);
		pthread_mutex_lock(&e->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&e->wake, &e->lock, &ts);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* --------------------------------------------------------- lifecycle */

int server_engine_init(struct server *s)
{
	struct server_engine *e = &s->engine;

	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	e->next_rollout_id = 1;
	e->next_step_id = 1;
	e->next_ephemeral_id = EPHEMERAL_BIT;
	return server_rollout_store_load(s);
}

int server_engine_start(struct server *s)
{
	struct server_engine *e = &s->engine;

	if (pthread_create(&e->thread, NULL, engine_thread, s) != 0)
		return -EAGAIN;
	e->started = true;
	return 0;
}

void server_engine_stop(struct server *s)
{
	struct server_engine *e = &s->engine;
	uint64_t now = aio_now_ms();

	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	for (size_t i = 0; i < e->n_ctl; i++)
		deliver(&e->ctl[i], now, true);
	while (e->live) {
		struct server_live *lq = e->live;

		e->live = lq->next;
		live_answer(s, lq);
	}
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	if (e->started)
		pthread_join(e->thread, NULL);
	e->started = false;
	/* the last changes, while the database thread still runs */
	server_save_submit(e->pending, NULL, NULL, true);
	e->pending = NULL;
}

static void rollout_free(struct server_rollout *ro)
{
	if (!ro)
		return;
	if (ro->opts)
		aioctl__v1__set_limit_request__free_unpacked(ro->opts, NULL);
	free(ro->skipped);
	free(ro->refused);
	free(ro->steps);
	free(ro);
}

void server_engine_done(struct server *s)
{
	struct server_engine *e = &s->engine;

	while (e->rollouts) {
		struct server_rollout *ro = e->rollouts;

		e->rollouts = ro->next;
		rollout_free(ro);
	}
	for (size_t i = 0; i < e->n_ctl; i++)
		command_free_list(e->ctl[i].commands);
	free(e->ctl);
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->lock);
}

/* ------------------------------------------------------ admin answers */

/* Fills a Rollout message from ro; strings point into ro; arrays are
 * malloc'd and released by rollout_msg_done. */
static void rollout_msg_fill(Aioctl__V1__Rollout *m, const struct server_rollout *ro, bool steps)
{
	aioctl__v1__rollout__init(m);
	m->id = ro->id;
	m->state = (char *)server_rollout_state_name(ro->state);
	m->has_target = true;
	m->target = ro->opts->target;
	m->created_by = (char *)ro->created_by;
	m->has_created_ms = true;
	m->created_ms = ro->created_ms;
	m->has_finished_ms = ro->finished_ms != 0;
	m->finished_ms = ro->finished_ms;
	m->message = (char *)ro->message;
	m->options = ro->opts;
	m->has_waves = true;
	m->waves = ro->n_waves;
	m->has_wave = true;
	m->wave = ro->wave;
	m->has_offline_deadline_ms = true;
	m->offline_deadline_ms = ro->offline_deadline_ms;
	if (steps && ro->n_steps) {
		Aioctl__V1__RolloutStep *v = calloc(ro->n_steps, sizeof(*v));
		Aioctl__V1__RolloutStep **pv = calloc(ro->n_steps, sizeof(*pv));

		if (v && pv) {
			for (size_t i = 0; i < ro->n_steps; i++) {
				const struct server_step *p = &ro->steps[i];
				Aioctl__V1__RolloutStep *q = &v[i];

				aioctl__v1__rollout_step__init(q);
				q->host = (char *)p->host;
				q->state = (char *)(p->state == STEP_PENDING && p->offline_since_ms
				                            ? "offline"
				                            : server_step_state_name(p->state));
				q->has_wave = true;
				q->wave = p->wave;
				q->has_target = true;
				q->target = p->target;
				q->has_step_id = true;
				q->step_id = p->id;
				q->has_runtime_before = p->has_runtime_before;
				q->runtime_before = p->runtime_before;
				q->has_runtime_after = p->has_runtime_after;
				q->runtime_after = p->runtime_after;
				q->has_persisted_before = p->has_persisted_before;
				q->persisted_before = p->persisted_before;
				q->has_persisted_after = p->has_persisted_after;
				q->persisted_after = p->persisted_after;
				q->message = (char *)p->message;
				q->has_started_ms = p->started_ms != 0;
				q->started_ms = p->started_ms;
				q->has_finished_ms = p->finished_ms != 0;
				q->finished_ms = p->finished_ms;
				q->rollback = (char *)server_rb_state_name(p->rb);
				pv[i] = q;
			}
			m->steps = pv;
			m->n_steps = ro->n_steps;
		} else {
			free(v);
			free(pv);
		}
	}
}

static char **split(const char *list, const char *sep, size_t *ret_n)
{
	size_t n = 0, cap = 8;
	char **v, *copy, *save = NULL;

	*ret_n = 0;
	if (!list || !*list || !(copy = strdup(list)))
		return NULL;
	v = calloc(cap + 1, sizeof(*v));
	for (char *t = strtok_r(copy, sep, &save); v && t; t = strtok_r(NULL, sep, &save)) {
		if (n == cap) {
			char **nv = realloc(v, (cap * 2 + 1) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap *= 2;
		}
		v[n++] = strdup(t);
	}
	free(copy);
	*ret_n = n;
	return v;
}

static void rollout_msg_lists(Aioctl__V1__Rollout *m, const struct server_rollout *ro)
{
	m->skipped = split(ro->skipped, ",", &m->n_skipped);
	m->refused = split(ro->refused, ";", &m->n_refused);
}

static void rollout_msg_done(Aioctl__V1__Rollout *m)
{
	if (m->n_steps)
		free(m->steps[0]);
	free(m->steps);
	for (size_t i = 0; i < m->n_skipped; i++)
		free(m->skipped[i]);
	for (size_t i = 0; i < m->n_refused; i++)
		free(m->refused[i]);
	free(m->skipped);
	free(m->refused);
}

static void answer_rollout(const struct server_rollout *ro, Aioctl__V1__Rollout_Closure closure,
                           void *data)
{
	Aioctl__V1__Rollout m;

	rollout_msg_fill(&m, ro, true);
	rollout_msg_lists(&m, ro);
	closure(&m, data);
	rollout_msg_done(&m);
}

/* ----------------------------------------------------------- planning */

static struct server_rollout *active_rollout_of(struct server_engine *e, int64_t host_id)
{
	for (struct server_rollout *ro = e->rollouts; ro; ro = ro->next) {
		if (!rollout_active(ro))
			continue;
		for (size_t i = 0; i < ro->n_steps; i++)
			if (ro->steps[i].host_id == host_id && !step_terminal(&ro->steps[i]))
				return ro;
	}
	return NULL;
}

static int append(char **list, const char *sep, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int append(char **list, const char *sep, const char *fmt, ...)
{
	char item[512], *n;
	size_t old = *list ? strlen(*list) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	n = realloc(*list, old + strlen(sep) + strlen(item) + 1);
	if (!n)
		return -ENOMEM;
	snprintf(n + old, strlen(sep) + strlen(item) + 1, "%s%s", old ? sep : "", item);
	*list = n;
	return 0;
}

struct create_job {
	struct server *s;
	uint64_t id;
	Aioctl__V1__Rollout_Closure closure;
	void *data;
};

static void created(void *arg, int err)
{
	struct create_job *j = arg;
	struct server_engine *e = &j->s->engine;
	struct server_rollout *ro;

	pthread_mutex_lock(&e->lock);
	ro = find_rollout(e, j->id);
	if (err || !ro) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_UNAVAILABLE, "rollout not stored: %s",
		               strerror(-err));
		if (ro)
			ro->state = RO_ABORTED;
	} else {
		ro->committed = true;
		answer_rollout(ro, j->closure, j->data);
		pthread_cond_signal(&e->wake);
	}
	pthread_mutex_unlock(&e->lock);
	free(j);
}

static const char *check_options(const Aioctl__V1__SetLimitRequest *in)
{
	if (!in->reconcile && (in->target == 0 || in->target > UINT32_MAX))
		return "--max: 1 to 4294967295";
	if (in->has_canary && in->canary > 10000)
		return "--canary: at most 10000";
	if (in->has_batch && (in->batch == 0 || (in->batch_percent && in->batch > 100)))
		return "--batch: a count from 1, or 1% to 100%";
	if (in->has_max_failures && in->max_failures_percent && in->max_failures > 100)
		return "--max-failures: at most 100%";
	if (in->has_soak_ms && in->soak_ms > 24ULL * 3600 * 1000)
		return "--soak: at most 24h";
	if (in->has_offline_timeout_ms && in->offline_timeout_ms > 30ULL * 24 * 3600 * 1000)
		return "--offline-timeout: at most 30d";
	return server_selector_invalid(in->selector);
}

static int by_host(const void *a, const void *b)
{
	return strcmp(((const struct server_step *)a)->host, ((const struct server_step *)b)->host);
}

/* The plan: hosts selected, skipped (at the target), refused (their own
 * policy forbids it), conflicting (in another active rollout), and the
 * steps in waves. Engine lock held; takes the hosts' read lock. */
static int plan(struct server *s, struct server_rollout *ro, struct server_rollout **ret_conflict)
{
	struct server_engine *e = &s->engine;
	const Aioctl__V1__SetLimitRequest *o = ro->opts;
	size_t cap = 0, canary, rest, per_batch;
	int r = 0;

	*ret_conflict = NULL;
	pthread_rwlock_rdlock(&s->hosts.lock);
	for (size_t i = 0; i < s->hosts.n; i++) {
		const struct server_host *h = s->hosts.all[i];
		uint64_t target = o->target, after;
		struct server_rollout *other;
		struct server_step *p;
		bool at_runtime, at_persisted;

		if (!server_host_selected(h, o->selector))
			continue;
		if (o->reconcile) {
			if (!h->has_desired)
				continue;
			target = h->desired;
		}
		at_runtime = h->has_sample && h->sample.aio_max_nr == target;
		at_persisted = persisted_value(h, &after) && after == target;
		if (at_runtime && at_persisted) {
			if (!o->reconcile)
				append(&ro->skipped, ",", "%s", h->name);
			continue;
		}
		if (h->limit_max && (target < h->limit_min || target > h->limit_max)) {
			append(&ro->refused, ";", "%s: outside its bounds %" PRIu64 "..%" PRIu64,
			       h->name, h->limit_min, h->limit_max);
			continue;
		}
		if (!(o->has_force && o->force) && h->has_sample &&
		    target < h->sample.aio_nr + h->limit_margin) {
			append(&ro->refused, ";",
			       "%s: below its usage %" PRIu64 " + margin %" PRIu64, h->name,
			       h->sample.aio_nr, h->limit_margin);
			continue;
		}
		if ((other = active_rollout_of(e, h->id)) && !(o->has_supersede && o->supersede)) {
			*ret_conflict = other;
			r = -EEXIST;
			break;
		}
		if (ro->n_steps == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *v = realloc(ro->steps, ncap * sizeof(*ro->steps));

			if (!v) {
				r = -ENOMEM;
				break;
			}
			ro->steps = v;
			cap = ncap;
		}
		p = &ro->steps[ro->n_steps++];
		memset(p, 0, sizeof(*p));
		p->host_id = h->id;
		snprintf(p->host, sizeof(p->host), "%s", h->name);
		p->target = target;
		p->state = STEP_PENDING;
		p->dirty = true;
	}
	pthread_rwlock_unlock(&s->hosts.lock);
	if (r < 0)
		return r;
	if (ro->n_steps)
		qsort(ro->steps, ro->n_steps, sizeof(*ro->steps), by_host);

	/* waves: canaries first, then batches of a count or a share */
	canary = o->has_canary ? o->canary : 1;
	if (canary > ro->n_steps)
		canary = ro->n_steps;
	rest = ro->n_steps - canary;
	if (o->has_batch && !o->batch_percent)
		per_batch = o->batch;
	else
		per_batch = (rest * (o->has_batch ? o->batch : 10) + 99) / 100;
	if (per_batch == 0)
		per_batch = 1;
	ro->n_waves = canary ? 1 : 0;
	for (size_t i = 0; i < ro->n_steps; i++) {
		ro->steps[i].wave =
		        i < canary ? 0 : (uint32_t)((i - canary) / per_batch) + (canary ? 1 : 0);
		if (ro->steps[i].wave + 1 > ro->n_waves)
			ro->n_waves = ro->steps[i].wave + 1;
	}
	return 0;
}

void server_engine_set_limit(struct server *s, const Aioctl__V1__SetLimitRequest *in,
                             const char *who, Aioctl__V1__Rollout_Closure closure, void *data)
{
	struct server_engine *e = &s->engine;
	struct server_rollout *ro, *conflict;
	struct create_job *job = NULL;
	struct server_save *sv = NULL;
	const char *bad;
	uint64_t now = aio_now_ms();
	char detail[128];
	int r;

	if ((bad = check_options(in))) {
		AIO_RPC_REFUSE(data, closure, AIO_INVALID_ARGUMENT, "%s", bad);
		return;
	}
	if (!(ro = calloc(1, sizeof(*ro))) ||
	    !(ro->opts = (Aioctl__V1__SetLimitRequest *)aio_rpc_dup(&in->base))) {
		free(ro);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	snprintf(ro->created_by, sizeof(ro->created_by), "%s", who);
	ro->created_ms = now;
	ro->offline_deadline_ms = now + (in->has_offline_timeout_ms ? in->offline_timeout_ms
	                                                            : OFFLINE_TIMEOUT_DEFAULT);

	pthread_mutex_lock(&e->lock);
	if ((r = plan(s, ro, &conflict)) < 0) {
		pthread_mutex_unlock(&e->lock);
		if (r == -EEXIST)
			aio_rpc_call_fail(data, AIO_ALREADY_EXISTS,
			                  "rollout %" PRIu64 " is still changing some of these "
			                  "hosts; wait, abort it, or use --supersede",
			                  conflict->id);
		else
			aio_rpc_call_fail(data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		closure(NULL, data);
		rollout_free(ro);
		return;
	}
	if (in->has_dry_run && in->dry_run) {
		Aioctl__V1__Rollout m;

		rollout_msg(ro, "dry run: %zu hosts in %u waves", ro->n_steps, ro->n_waves);
		rollout_msg_fill(&m, ro, true);
		rollout_msg_lists(&m, ro);
		m.state = "planned";
		m.has_dry_run = true;
		m.dry_run = true;
		for (size_t i = 0; i < m.n_steps; i++)
			m.steps[i]->state = "planned";
		closure(&m, data);
		rollout_msg_done(&m);
		pthread_mutex_unlock(&e->lock);
		rollout_free(ro);
		return;
	}

	sv = server_save_new(s);
	job = calloc(1, sizeof(*job));
	if (!sv || !job) {
		pthread_mutex_unlock(&e->lock);
		free(job);
		server_save_submit(sv, NULL, NULL, false);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		rollout_free(ro);
		return;
	}
	/* superseded rollouts stop where they are */
	for (struct server_rollout *o = e->rollouts; o; o = o->next) {
		bool overlaps = false;

		if (!rollout_active(o))
			continue;
		for (size_t i = 0; i < ro->n_steps && !overlaps; i++)
			for (size_t j = 0; j < o->n_steps && !overlaps; j++)
				overlaps = o->steps[j].host_id == ro->steps[i].host_id &&
				           !step_terminal(&o->steps[j]);
		if (!overlaps)
			continue;
		for (size_t j = 0; j < o->n_steps; j++) {
			if (o->steps[j].state == STEP_PENDING) {
				o->steps[j].state = STEP_CANCELLED;
				o->steps[j].dirty = true;
			}
		}
		o->state = RO_ABORTED;
		rollout_msg(o, "superseded by rollout %" PRIu64, e->next_rollout_id);
		audit_into(sv, who, "rollout.abort", NULL, o->message);
		server_save_rollout(sv, o, false);
	}
	ro->id = e->next_rollout_id++;
	for (size_t i = 0; i < ro->n_steps; i++)
		ro->steps[i].id = e->next_step_id++;
	ro->state = RO_RUNNING;
	if (ro->n_steps)
		rollout_msg(ro, "%zu hosts in %u waves", ro->n_steps, ro->n_waves);
	else
		rollout_msg(ro, "nothing to do: every selected host is at the target or refused");
	ro->next = e->rollouts;
	e->rollouts = ro;
	server_save_rollout(sv, ro, true);
	if (in->reconcile)
		snprintf(detail, sizeof(detail), "reconcile %" PRIu64 ": %zu hosts", ro->id,
		         ro->n_steps);
	else
		snprintf(detail, sizeof(detail), "rollout %" PRIu64 ": max %" PRIu64 ", %zu hosts",
		         ro->id, in->target, ro->n_steps);
	audit_into(sv, who, "rollout.create", NULL, detail);
	log_info("%s by %s", detail, who);
	job->s = s;
	job->id = ro->id;
	job->closure = closure;
	job->data = data;
	pthread_mutex_unlock(&e->lock);
	/* the reply goes out once the plan is on disk; only then do steps start */
	if (server_save_submit(sv, created, job, false) < 0) {
		pthread_mutex_lock(&e->lock);
		ro->state = RO_ABORTED;
		rollout_msg(ro, "not stored");
		pthread_mutex_unlock(&e->lock);
		free(job);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
}

void server_engine_rollout_op(struct server *s, uint64_t id, const char *action, const char *who,
                              Aioctl__V1__Rollout_Closure closure, void *data)
{
	struct server_engine *e = &s->engine;
	struct server_save *sv = NULL;
	struct server_rollout *ro;
	const char *refuse = NULL;

	pthread_mutex_lock(&e->lock);
	ro = find_rollout(e, id);
	if (!ro) {
		pthread_mutex_unlock(&e->lock);
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no rollout %" PRIu64, id);
		return;
	}
	if (action) {
		sv = pending(s);
		if (strcmp(action, "pause") == 0) {
			if (ro->state != RO_RUNNING)
				refuse = "only a running rollout can be paused";
			else {
				ro->state = RO_PAUSED;
				rollout_msg(ro, "paused by %s", who);
			}
		} else if (strcmp(action, "resume") == 0) {
			if (ro->state != RO_PAUSED)
				refuse = "only a paused rollout can be resumed";
			else {
				uint32_t failed = 0;

				for (size_t i = 0; i < ro->n_steps; i++)
					failed += ro->steps[i].state == STEP_FAILED;
				/* the failures so far were seen: count from here */
				ro->failures_accepted = failed;
				ro->state = RO_RUNNING;
				rollout_msg(ro, "resumed by %s", who);
			}
		} else if (strcmp(action, "abort") == 0) {
			if (ro->state != RO_RUNNING && ro->state != RO_PAUSED)
				refuse = "only a running or paused rollout can be aborted";
			else {
				for (size_t i = 0; i < ro->n_steps; i++) {
					if (ro->steps[i].state == STEP_PENDING) {
						ro->steps[i].state = STEP_CANCELLED;
						ro->steps[i].dirty = true;
					}
				}
				ro->state = RO_ABORTED;
				rollout_msg(ro, "aborted by %s", who);
			}
		} else if (strcmp(action, "rollback") == 0) {
			if (ro->state == RO_ROLLING_BACK || ro->state == RO_ROLLED_BACK)
				refuse = "already rolled back";
			else
				start_rollback(ro, sv, who);
		}
		if (refuse) {
			pthread_mutex_unlock(&e->lock);
			AIO_RPC_REFUSE(data, closure, AIO_FAILED_PRECONDITION,
			               "rollout %" PRIu64 " is %s: %s", id,
			               server_rollout_state_name(ro->state), refuse);
			return;
		}
		ro->dirty = true;
		if (sv) {
			char what[64];

			snprintf(what, sizeof(what), "rollout.%s", action);
			server_save_audit(sv, who, what, NULL, ro->message);
		}
		pthread_cond_signal(&e->wake);
	}
	answer_rollout(ro, closure, data);
	pthread_mutex_unlock(&e->lock);
}

void server_engine_rollout_list(struct server *s, uint32_t limit,
                                Aioctl__V1__RolloutListReply_Closure closure, void *data)
{
	struct server_engine *e = &s->engine;
	Aioctl__V1__RolloutListReply rep = AIOCTL__V1__ROLLOUT_LIST_REPLY__INIT;
	Aioctl__V1__Rollout *v, **pv;
	size_t n = 0;

	if (!limit || limit > SERVER_ROLLOUTS_KEPT)
		limit = SERVER_ROLLOUTS_KEPT;
	v = calloc(limit, sizeof(*v));
	pv = calloc(limit, sizeof(*pv));
	pthread_mutex_lock(&e->lock);
	for (struct server_rollout *ro = e->rollouts; v && pv && ro && n < limit; ro = ro->next) {
		rollout_msg_fill(&v[n], ro, false);
		pv[n] = &v[n];
		n++;
	}
	rep.rollouts = pv;
	rep.n_rollouts = n;
	closure(&rep, data);
	pthread_mutex_unlock(&e->lock);
	free(v);
	free(pv);
}

/* ------------------------------------------------------ drift, live */

void server_engine_drift(struct server *s, Aioctl__V1__DriftReply_Closure closure, void *data)
{
	Aioctl__V1__DriftReply rep = AIOCTL__V1__DRIFT_REPLY__INIT;
	Aioctl__V1__HostDrift *v;
	Aioctl__V1__HostDrift **pv;
	char(*causes)[256];
	size_t n = 0;

	pthread_rwlock_rdlock(&s->hosts.lock);
	v = calloc(s->hosts.n + 1, sizeof(*v));
	pv = calloc(s->hosts.n + 1, sizeof(*pv));
	causes = calloc(s->hosts.n + 1, sizeof(*causes));
	for (size_t i = 0; v && pv && causes && i < s->hosts.n; i++) {
		const struct server_host *h = s->hosts.all[i];
		const Aioctl__V1__Persisted *p = h->detail ? h->detail->persisted : NULL;
		uint64_t after = 0;
		bool has_after = persisted_value(h, &after);
		bool live_off = h->has_sample && h->sample.aio_max_nr != h->desired;
		bool boot_off = has_after && after != h->desired;
		char *c = causes[n];

		if (!h->has_desired || (!live_off && !boot_off))
			continue;
		c[0] = '\0';
		if (live_off && h->boot_time_ms > h->desired_ms && h->sample.aio_max_nr == after)
			snprintf(c, 256, "a reboot lost a live-only change");
		else if (live_off)
			snprintf(c, 256, "live value changed by hand (sysctl -w?)");
		if (boot_off) {
			size_t len = strlen(c);
			const char *sep = len ? "; " : "";

			if (p && p->file && h->sysctl_file && strcmp(p->file, h->sysctl_file) == 0)
				snprintf(c + len, 256 - len,
				         "%sthe agent's file %s was edited by hand", sep, p->file);
			else if (p && p->file)
				snprintf(c + len, 256 - len, "%s%s wins at boot", sep, p->file);
			else
				snprintf(c + len, 256 - len,
				         "%sno file sets it: a reboot gives the kernel default",
				         sep);
		}
		aioctl__v1__host_drift__init(&v[n]);
		v[n].host = h->name;
		v[n].has_desired = true;
		v[n].desired = h->desired;
		v[n].has_runtime = h->has_sample;
		v[n].runtime = h->sample.aio_max_nr;
		v[n].has_persisted = has_after;
		v[n].persisted = after;
		v[n].persisted_file = p ? p->file : NULL;
		v[n].cause = c;
		v[n].has_rollout_id = true;
		v[n].rollout_id = h->desired_rollout;
		pv[n] = &v[n];
		n++;
	}
	rep.hosts = pv;
	rep.n_hosts = n;
	closure(&rep, data);
	pthread_rwlock_unlock(&s->hosts.lock);
	free(v);
	free(pv);
	free(causes);
}

void server_fleet_status_answer(struct server *s, Aioctl__V1__FleetStatusReply_Closure closure,
                                void *data, char **not_answered, size_t n_not);

static void live_answer(struct server *s, struct server_live *lq)
{
	char **silent = calloc(lq->n + 1, sizeof(*silent));
	size_t n = 0;

	pthread_rwlock_rdlock(&s->hosts.lock);
	for (size_t i = 0; silent && i < lq->n; i++) {
		struct server_host *h;

		withdraw(&s->engine, lq->hosts[i], lq->first_id + i);
		if (lq->answered[i] || !(h = server_hosts_find_id(&s->hosts, lq->hosts[i])))
			continue;
		silent[n++] = h->name;
	}
	pthread_rwlock_unlock(&s->hosts.lock);
	server_fleet_status_answer(s, lq->closure, lq->data, silent, n);
	free(silent);
	free(lq->hosts);
	free(lq->answered);
	free(lq);
}

void server_engine_live(struct server *s, uint64_t timeout_ms,
                        Aioctl__V1__FleetStatusReply_Closure closure, void *data)
{
	struct server_engine *e = &s->engine;
	struct server_live *lq = calloc(1, sizeof(*lq));
	uint64_t now = aio_now_ms();

	pthread_mutex_lock(&e->lock);
	pthread_rwlock_rdlock(&s->hosts.lock);
	if (lq) {
		lq->n = s->hosts.n;
		lq->hosts = calloc(lq->n + 1, sizeof(*lq->hosts));
		lq->answered = calloc(lq->n + 1, sizeof(*lq->answered));
		for (size_t i = 0; lq->hosts && i < lq->n; i++)
			lq->hosts[i] = s->hosts.all[i]->id;
	}
	pthread_rwlock_unlock(&s->hosts.lock);
	if (!lq || !lq->hosts || !lq->answered || e->stopping) {
		pthread_mutex_unlock(&e->lock);
		if (lq) {
			free(lq->hosts);
			free(lq->answered);
			free(lq);
		}
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	lq->closure = closure;
	lq->data = data;
	lq->deadline_ms = now + timeout_ms;
	lq->first_id = e->next_ephemeral_id;
	e->next_ephemeral_id += lq->n;
	for (size_t i = 0; i < lq->n; i++) {
		struct server_command c = { 0 };

		c.id = lq->first_id + i;
		c.sample_now = true;
		if (enqueue(e, lq->hosts[i], &c) == 0)
			deliver(ctl_get(e, lq->hosts[i]), now, false);
	}
	lq->next = e->live;
	e->live = lq;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------ alerts */

size_t server_engine_stalled(struct server *s, uint64_t now_ms, uint64_t after_ms,
                             struct server_stall *out, size_t max)
{
	struct server_engine *e = &s->engine;
	size_t n = 0;

	pthread_mutex_lock(&e->lock);
	for (struct server_rollout *ro = e->rollouts; ro && n < max; ro = ro->next) {
		uint64_t moved = ro->created_ms;

		if (!rollout_active(ro))
			continue;
		for (size_t i = 0; i < ro->n_steps; i++) {
			const struct server_step *p = &ro->steps[i];
			uint64_t t[] = { p->started_ms, p->acked_ms, p->finished_ms };

			for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++)
				moved = t[k] > moved ? t[k] : moved;
		}
		if (moved + after_ms > now_ms)
			continue;
		out[n].id = ro->id;
		out[n].since_ms = moved;
		snprintf(out[n].why, sizeof(out[n].why), "%s%s%s",
		         server_rollout_state_name(ro->state), ro->message[0] ? ": " : "",
		         ro->message);
		n++;
	}
	pthread_mutex_unlock(&e->lock);
	return n;
}
