#include "rollout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "bounds.h"
#include "clock.h"
#include "hosts.h"
#include "log.h"
#include "plan.h"
#include "push.h"
#include "rollout_pack.h"
#include "rollout_store.h"
#include "rpc_server.h"

#define TICK_MS                 100
#define OFFLINE_TIMEOUT_DEFAULT AIO_DAY_MS
#define SOAK_DEFAULT_MS         30000
#define SOAK_GRACE_MS           2000

/* ------------------------------------------------------------- saving */

/* Changes made under the engine lock collect here; the engine thread
 * submits them outside the lock, so nothing waits for the database while
 * holding it (the database thread takes the lock after a commit). */
static struct server_save *pending(struct server_engine *e)
{
	if (!e->pending)
		e->pending = server_save_new(e->db);
	return e->pending;
}

/* An audit entry of rollout id, and its journal entry. */
static void audit_into(struct server_save *sv, uint64_t id, const char *who, const char *action,
                       const char *target, const char *result)
{
	if (sv)
		server_save_audit(sv, who, action, target, result);
	server_rollouts_log(id, who, action, result);
}

/* What a tick needs of a step's host: reports after the apply (plus a
 * grace: one whose window closed around it may still show the old value)
 * and events since the step started. */
static struct server_host_check step_host(struct server_engine *e, const struct server_step *p,
                                          uint64_t now)
{
	struct server_host_check c = { 0 };

	server_hosts_check(e->hosts, p->host_id, now, p->target, p->acked_ms + SOAK_GRACE_MS,
	                   p->started_ms, &c);
	return c;
}

/* ---------------------------------------------------------- the steps */

static uint64_t step_command_id(uint64_t step_id, bool rollback)
{
	return step_id * 2 + (rollback ? 1 : 0);
}

static void send_step(struct server_engine *e, struct server_rollout *ro, struct server_step *p,
                      bool rollback, uint64_t now)
{
	struct server_command c = { 0 };

	c.id = step_command_id(p->id, rollback);
	c.rollout_id = ro->id;
	c.step_id = p->id;
	c.target = p->target;
	c.force = ro->opts->has_force && ro->opts->force;
	c.rollback = rollback;
	if (server_push_send(e->push, p->host_id, &c, now) < 0)
		return; /* the host's queue is full: try again next tick */
	if (rollback) {
		p->rb = RB_SENT;
	} else {
		p->state = STEP_SENT;
		p->started_ms = now;
		p->offline_since_ms = 0;
		server_rollouts_step_msg(p, "sent");
	}
	p->dirty = true;
}

/* A step reached done: the host's desired value is its target now. */
static void step_done(struct server_engine *e, struct server_save *sv, struct server_rollout *ro,
                      struct server_step *p, uint64_t now)
{
	char result[64];

	p->state = STEP_DONE;
	p->finished_ms = now;
	server_rollouts_step_msg(p, "done");
	server_hosts_set_desired(e->hosts, p->host_id, p->target, ro->id, now);
	if (sv)
		server_save_desired(sv, p->host_id, p->target, ro->id, now);
	snprintf(result, sizeof(result), "done: %" PRIu64, p->target);
	audit_into(sv, ro->id, ro->created_by, "step.apply", p->host, result);
}

static void step_failed(struct server_save *sv, struct server_rollout *ro, struct server_step *p,
                        uint64_t now, const char *why)
{
	char result[300];

	p->state = STEP_FAILED;
	p->finished_ms = now;
	server_rollouts_step_msg(p, "%s", why);
	snprintf(result, sizeof(result), "failed: %s", why);
	audit_into(sv, ro->id, ro->created_by, "step.apply", p->host, result);
	aio_log_with(AIO_LOG_WARN,
	             &(struct aio_log_fields){ .message_id = AIO_MSGID_STEP_FAILED,
	                                       .host = p->host,
	                                       .rollout = ro->id },
	             "rollout %" PRIu64 ": %s failed: %s", ro->id, p->host, why);
}

static void ack_step(struct server_engine *e, struct server_rollout *ro, struct server_step *p,
                     const Aioctl__V1__AckRequest *ack, bool rollback, uint64_t now)
{
	struct server_save *sv = pending(e);
	uint64_t after = 0;
	bool has_after;

	if (rollback) {
		if (p->rb != RB_SENT)
			goto out_save;
		p->rb = ack->status == AIOCTL__V1__STATUS_CODE__OK ? RB_DONE : RB_FAILED;
		p->dirty = true;
		if (p->rb == RB_DONE)
			server_hosts_note_applied(e->hosts, p->host_id, ack);
		if (p->rb == RB_DONE && p->has_runtime_before) {
			server_hosts_set_desired(e->hosts, p->host_id, p->runtime_before, 0, now);
			if (sv)
				server_save_desired(sv, p->host_id, p->runtime_before, ro->id, now);
		}
		server_rollouts_step_msg(p, "rolled back%s%s", ack->message ? ": " : "",
		                         ack->message ? ack->message : "");
		audit_into(sv, ro->id, ro->created_by, "step.rollback", p->host,
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

		server_hosts_note_applied(e->hosts, p->host_id, ack);
		p->state = STEP_SOAKING;
		p->soak_until_ms = now + soak;
		server_rollouts_step_msg(p, "applied, soaking");
		if (!soak)
			step_done(e, sv, ro, p, now);
	}
out_save:
	ro->dirty = true;
}

void server_engine_ack(struct server_engine *e, int64_t host_id, const Aioctl__V1__AckRequest *ack)
{
	struct server_rollout *ro;
	struct server_step *p;
	bool rollback = ack->command_id & 1;

	if (server_push_ack(e->push, host_id, ack))
		return; /* a live query's */
	pthread_mutex_lock(&e->lock);
	if (!e->follower &&
	    (p = server_rollouts_find_step(e->rollouts, ack->command_id / 2, &ro)) &&
	    p->host_id == host_id)
		ack_step(e, ro, p, ack, rollback, aio_now_ms());
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
	server_rollouts_msg(ro, "rolling back: %s", why);
	audit_into(sv, ro->id, ro->created_by, "rollout.rollback", NULL, why);
}

/* Advances one rollout; returns true if anything changed. */
static void tick_rollout(struct server_engine *e, struct server_rollout *ro, struct server_save *sv,
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

			if (p->rb == RB_PENDING && step_host(e, p, now).online)
				send_step(e, ro, p, true, now);
			busy |= p->rb == RB_PENDING || p->rb == RB_SENT;
		}
		if (!busy) {
			ro->state = RO_ROLLED_BACK;
			ro->finished_ms = now;
			server_rollouts_msg(ro, "rolled back");
			audit_into(sv, ro->id, ro->created_by, "rollout.finish", NULL,
			           "rolled-back");
		}
		return;
	}
	if (ro->state != RO_RUNNING && ro->state != RO_PAUSED && ro->state != RO_ABORTED)
		return;

	for (size_t i = 0; i < ro->n_steps; i++) {
		struct server_step *p = &ro->steps[i];
		struct server_host_check h = step_host(e, p, now);

		switch (p->state) {
		case STEP_PENDING:
			if (!may_start || p->wave > ro->wave)
				break;
			if (h.online) {
				send_step(e, ro, p, false, now);
			} else if (now >= ro->offline_deadline_ms) {
				p->state = STEP_EXPIRED;
				p->finished_ms = now;
				server_rollouts_step_msg(p, "offline until the deadline");
				audit_into(sv, ro->id, ro->created_by, "step.apply", p->host,
				           "expired");
			} else if (!p->offline_since_ms) {
				p->offline_since_ms = now;
				server_rollouts_step_msg(p, "offline: applied when it returns");
			}
			break;
		case STEP_SOAKING:
			if (h.new_error)
				step_failed(sv, ro, p, now, "AIO error during the soak");
			else if (h.changed)
				step_failed(sv, ro, p, now, "the value changed during the soak");
			else if (now >= p->soak_until_ms)
				step_done(e, sv, ro, p, now);
			break;
		default:
			break;
		}
		failed += p->state == STEP_FAILED;
		if (!server_rollouts_step_terminal(p))
			all_terminal = false;
		/* a wave waits for its online hosts, not for offline ones */
		if (p->wave == ro->wave && !server_rollouts_step_terminal(p) &&
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
			server_rollouts_msg(ro, "paused: %s", why);
			audit_into(sv, ro->id, ro->created_by, "rollout.pause", NULL, why);
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
			server_rollouts_msg(ro, "completed: %u failed", failed);
		audit_into(sv, ro->id, ro->created_by, "rollout.finish", NULL,
		           server_rollouts_state_name(ro->state));
		ro->dirty = true;
	}
}

static void tick(struct server_engine *e)
{
	struct server_save *sv = pending(e);
	uint64_t now = aio_now_ms();

	for (struct server_rollout *ro = e->rollouts; ro; ro = ro->next) {
		tick_rollout(e, ro, sv, now);
		if (ro->dirty || ro->n_steps) {
			bool any = ro->dirty;

			for (size_t i = 0; !any && i < ro->n_steps; i++)
				any = ro->steps[i].dirty;
			if (any && sv)
				server_save_rollout(sv, ro, false);
		}
	}
	server_rollouts_prune(&e->rollouts);
}

static void *engine_thread(void *arg)
{
	struct server_engine *e = arg;

	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		struct server_save *sv;
		struct timespec ts;

		tick(e);
		sv = e->pending;
		e->pending = NULL;
		pthread_mutex_unlock(&e->lock);
		server_save_submit(sv, NULL, NULL, true);
		/* Watches and live queries keep the engine's beat */
		server_push_tick(e->push, aio_now_ms());
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

int server_engine_init(struct server_engine *e, struct server_hosts *hosts,
                       struct server_push *push, struct server_db *db)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	e->hosts = hosts;
	e->push = push;
	e->db = db;
	e->next_rollout_id = 1;
	e->next_step_id = 1;
	return server_rollout_store_load(db, hosts, &e->rollouts, &e->next_rollout_id,
	                                 &e->next_step_id);
}

int server_engine_start(struct server_engine *e)
{
	if (pthread_create(&e->thread, NULL, engine_thread, e) != 0)
		return -EAGAIN;
	e->started = true;
	return 0;
}

void server_engine_stop(struct server_engine *e)
{
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	if (e->started)
		pthread_join(e->thread, NULL);
	e->started = false;
	/* the last changes, while the database thread still runs */
	server_save_submit(e->pending, NULL, NULL, true);
	e->pending = NULL;
}

void server_engine_done(struct server_engine *e)
{
	server_rollouts_free_list(e->rollouts);
	e->rollouts = NULL;
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->lock);
}

/* ------------------------------------------------------ admin answers */

/* ----------------------------------------------------------- planning */

static uint64_t active_rollout_of(int64_t host_id, void *arg)
{
	struct server_engine *e = arg;

	return server_rollouts_holding(e->rollouts, host_id);
}

struct create_job {
	struct server_engine *e;
	uint64_t id;
	Aioctl__V1__Rollout_Closure closure;
	void *data;
};

static void created(void *arg, int err)
{
	struct create_job *j = arg;
	struct server_engine *e = j->e;
	struct server_rollout *ro;

	pthread_mutex_lock(&e->lock);
	ro = server_rollouts_find(e->rollouts, j->id);
	if (err || !ro) {
		AIO_RPC_REFUSE(j->data, j->closure, AIO_UNAVAILABLE, "rollout not stored: %s",
		               strerror(-err));
		if (ro)
			ro->state = RO_ABORTED;
	} else {
		ro->committed = true;
		server_rollout_pack_answer(ro, false, j->closure, j->data);
		pthread_cond_signal(&e->wake);
	}
	pthread_mutex_unlock(&e->lock);
	free(j);
}

struct plan_job {
	struct server_engine *e;
	const Aioctl__V1__SetLimitRequest *in;
	struct server_plan *plan;
};

static int plan_hosts(const struct server_host *const *all, size_t n, void *arg)
{
	struct plan_job *j = arg;

	return server_plan_make(j->in, all, n, active_rollout_of, j->e, j->plan);
}

/* Plans ro over the hosts as they are now (engine lock held). */
static int plan(struct server_engine *e, struct server_rollout *ro, uint64_t *ret_conflict)
{
	struct server_plan pl;
	struct plan_job j = { e, ro->opts, &pl };
	int r = server_hosts_read_all(e->hosts, plan_hosts, &j);

	*ret_conflict = pl.conflict;
	if (r == 0 && pl.n_steps && !(ro->steps = calloc(pl.n_steps, sizeof(*ro->steps))))
		r = -ENOMEM;
	if (r < 0) {
		server_plan_done(&pl);
		return r;
	}
	for (size_t i = 0; i < pl.n_steps; i++) {
		struct server_step *p = &ro->steps[i];
		const struct server_plan_step *q = &pl.steps[i];

		p->host_id = q->host_id;
		snprintf(p->host, sizeof(p->host), "%s", q->host);
		p->target = q->target;
		p->wave = q->wave;
		p->state = STEP_PENDING;
		p->dirty = true;
		if (ro->opts->has_dry_run && ro->opts->dry_run)
			server_plan_preview(q, p);
	}
	ro->n_lower = pl.n_lower;
	server_plan_lower_example(&pl, ro->lower_example, sizeof(ro->lower_example));
	ro->n_steps = pl.n_steps;
	ro->n_waves = pl.n_waves;
	ro->skipped = pl.skipped;
	ro->refused = pl.refused;
	pl.skipped = pl.refused = NULL;
	server_plan_done(&pl);
	return 0;
}

void server_engine_set_limit(struct server_engine *e, const Aioctl__V1__SetLimitRequest *in,
                             const char *who, Aioctl__V1__Rollout_Closure closure, void *data)
{
	struct server_rollout *ro;
	uint64_t conflict;
	struct create_job *job = NULL;
	struct server_save *sv = NULL;
	const char *bad;
	uint64_t now = aio_now_ms();
	char detail[128];
	int r;

	if ((bad = server_plan_check(in))) {
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
	if ((r = plan(e, ro, &conflict)) < 0) {
		pthread_mutex_unlock(&e->lock);
		if (r == -EEXIST)
			aio_rpc_call_fail(data, AIO_ALREADY_EXISTS,
			                  "rollout %" PRIu64 " is still changing some of these "
			                  "hosts; wait, abort it, or use --supersede",
			                  conflict);
		else
			aio_rpc_call_fail(data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		closure(NULL, data);
		server_rollouts_free(ro);
		return;
	}
	if (in->has_dry_run && in->dry_run) {
		server_rollouts_msg(
		        ro, "dry run: %zu hosts in %u waves%s", ro->n_steps, ro->n_waves,
		        !ro->n_lower ? ""
		        : in->has_allow_lower && in->allow_lower
		                ? "; it LOWERS some hosts' limit (--allow-lower given)"
		                : "; it LOWERS some hosts' limit: it needs --allow-lower");
		server_rollout_pack_answer(ro, true, closure, data);
		pthread_mutex_unlock(&e->lock);
		server_rollouts_free(ro);
		return;
	}

	if (ro->n_lower && !(in->has_allow_lower && in->allow_lower)) {
		pthread_mutex_unlock(&e->lock);
		aio_rpc_call_fail(data, AIO_FAILED_PRECONDITION,
		                  "this lowers fs.aio-max-nr on %zu host%s (%s%s): look at "
		                  "--dry-run, then add --allow-lower",
		                  ro->n_lower, ro->n_lower == 1 ? "" : "s", ro->lower_example,
		                  ro->n_lower > 1 ? ", ..." : "");
		closure(NULL, data);
		server_rollouts_free(ro);
		return;
	}
	sv = server_save_new(e->db);
	job = calloc(1, sizeof(*job));
	if (!sv || !job) {
		pthread_mutex_unlock(&e->lock);
		free(job);
		server_save_submit(sv, NULL, NULL, false);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		server_rollouts_free(ro);
		return;
	}
	/* superseded rollouts stop where they are */
	for (struct server_rollout *o = e->rollouts; o; o = o->next) {
		bool overlaps = false;

		if (!server_rollouts_active(o))
			continue;
		for (size_t i = 0; i < ro->n_steps && !overlaps; i++)
			for (size_t j = 0; j < o->n_steps && !overlaps; j++)
				overlaps = o->steps[j].host_id == ro->steps[i].host_id &&
				           !server_rollouts_step_terminal(&o->steps[j]);
		if (!overlaps)
			continue;
		for (size_t j = 0; j < o->n_steps; j++) {
			if (o->steps[j].state == STEP_PENDING) {
				o->steps[j].state = STEP_CANCELLED;
				o->steps[j].dirty = true;
			}
		}
		o->state = RO_ABORTED;
		server_rollouts_msg(o, "superseded by rollout %" PRIu64, e->next_rollout_id);
		audit_into(sv, o->id, who, "rollout.abort", NULL, o->message);
		server_save_rollout(sv, o, false);
	}
	ro->id = e->next_rollout_id++;
	for (size_t i = 0; i < ro->n_steps; i++)
		ro->steps[i].id = e->next_step_id++;
	ro->state = RO_RUNNING;
	if (ro->n_steps)
		server_rollouts_msg(ro, "%zu hosts in %u waves", ro->n_steps, ro->n_waves);
	else
		server_rollouts_msg(
		        ro, "nothing to do: every selected host is at the target or refused");
	ro->next = e->rollouts;
	e->rollouts = ro;
	server_save_rollout(sv, ro, true);
	if (in->reconcile)
		snprintf(detail, sizeof(detail), "reconcile %" PRIu64 ": %zu hosts", ro->id,
		         ro->n_steps);
	else
		snprintf(detail, sizeof(detail), "rollout %" PRIu64 ": max %" PRIu64 ", %zu hosts",
		         ro->id, in->target, ro->n_steps);
	audit_into(sv, ro->id, who, "rollout.create", NULL, detail);
	job->e = e;
	job->id = ro->id;
	job->closure = closure;
	job->data = data;
	pthread_mutex_unlock(&e->lock);
	/* the reply goes out once the plan is on disk; only then do steps start */
	if (server_save_submit(sv, created, job, false) < 0) {
		pthread_mutex_lock(&e->lock);
		ro->state = RO_ABORTED;
		server_rollouts_msg(ro, "not stored");
		pthread_mutex_unlock(&e->lock);
		free(job);
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server busy: retry later");
	}
}

static const char *const op_name[] = {
	[ROLLOUT_GET] = "get",     [ROLLOUT_PAUSE] = "pause",       [ROLLOUT_RESUME] = "resume",
	[ROLLOUT_ABORT] = "abort", [ROLLOUT_ROLLBACK] = "rollback",
};

void server_engine_rollout_op(struct server_engine *e, uint64_t id, enum server_rollout_op op,
                              const char *who, Aioctl__V1__Rollout_Closure closure, void *data)
{
	struct server_save *sv = NULL;
	struct server_rollout *ro;
	const char *refuse = NULL;

	pthread_mutex_lock(&e->lock);
	ro = server_rollouts_find(e->rollouts, id);
	if (!ro) {
		pthread_mutex_unlock(&e->lock);
		AIO_RPC_REFUSE(data, closure, AIO_NOT_FOUND, "no rollout %" PRIu64, id);
		return;
	}
	if (op != ROLLOUT_GET) {
		sv = pending(e);
		if (op == ROLLOUT_PAUSE) {
			if (ro->state != RO_RUNNING)
				refuse = "only a running rollout can be paused";
			else {
				ro->state = RO_PAUSED;
				server_rollouts_msg(ro, "paused by %s", who);
			}
		} else if (op == ROLLOUT_RESUME) {
			if (ro->state != RO_PAUSED)
				refuse = "only a paused rollout can be resumed";
			else {
				uint32_t failed = 0;

				for (size_t i = 0; i < ro->n_steps; i++)
					failed += ro->steps[i].state == STEP_FAILED;
				/* the failures so far were seen: count from here */
				ro->failures_accepted = failed;
				ro->state = RO_RUNNING;
				server_rollouts_msg(ro, "resumed by %s", who);
			}
		} else if (op == ROLLOUT_ABORT) {
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
				server_rollouts_msg(ro, "aborted by %s", who);
			}
		} else if (op == ROLLOUT_ROLLBACK) {
			if (ro->state == RO_ROLLING_BACK || ro->state == RO_ROLLED_BACK)
				refuse = "already rolled back";
			else
				start_rollback(ro, sv, who);
		}
		if (refuse) {
			pthread_mutex_unlock(&e->lock);
			AIO_RPC_REFUSE(data, closure, AIO_FAILED_PRECONDITION,
			               "rollout %" PRIu64 " is %s: %s", id,
			               server_rollouts_state_name(ro->state), refuse);
			return;
		}
		ro->dirty = true;
		if (sv) {
			char what[64];

			snprintf(what, sizeof(what), "rollout.%s", op_name[op]);
			if (op == ROLLOUT_ROLLBACK) /* start_rollback logged it */
				server_save_audit(sv, who, what, NULL, ro->message);
			else
				audit_into(sv, ro->id, who, what, NULL, ro->message);
		}
		pthread_cond_signal(&e->wake);
	}
	server_rollout_pack_answer(ro, false, closure, data);
	pthread_mutex_unlock(&e->lock);
}

void server_engine_rollout_list(struct server_engine *e, uint32_t limit,
                                Aioctl__V1__RolloutListReply_Closure closure, void *data)
{
	pthread_mutex_lock(&e->lock);
	server_rollout_pack_list(e->rollouts, limit, closure, data);
	pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------ alerts */

size_t server_engine_stalled(struct server_engine *e, uint64_t now_ms, uint64_t after_ms,
                             struct server_stall *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&e->lock);
	n = server_rollouts_stalled(e->rollouts, now_ms, after_ms, out, max);
	pthread_mutex_unlock(&e->lock);
	return n;
}

uint64_t server_engine_holding(struct server_engine *e, int64_t host_id)
{
	uint64_t id;

	pthread_mutex_lock(&e->lock);
	id = server_rollouts_holding(e->rollouts, host_id);
	pthread_mutex_unlock(&e->lock);
	return id;
}

void server_engine_by_state(struct server_engine *e, size_t ret_counts[RO_STATES])
{
	memset(ret_counts, 0, RO_STATES * sizeof(*ret_counts));
	pthread_mutex_lock(&e->lock);
	for (struct server_rollout *ro = e->rollouts; ro; ro = ro->next)
		ret_counts[ro->state]++;
	pthread_mutex_unlock(&e->lock);
}
