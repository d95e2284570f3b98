#include "rollouts.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *const server_rollouts_step_state_names[] = {
	[STEP_PENDING] = "pending",     [STEP_SENT] = "sent",
	[STEP_SOAKING] = "soaking",     [STEP_DONE] = "done",
	[STEP_FAILED] = "failed",       [STEP_EXPIRED] = "expired",
	[STEP_CANCELLED] = "cancelled", NULL,
};
const char *const server_rollouts_rb_state_names[] = {
	[RB_NONE] = "",     [RB_PENDING] = "pending", [RB_SENT] = "sent",
	[RB_DONE] = "done", [RB_FAILED] = "failed",   NULL,
};
const char *const server_rollouts_state_names[] = {
	[RO_RUNNING] = "running",
	[RO_PAUSED] = "paused",
	[RO_COMPLETED] = "completed",
	[RO_ABORTED] = "aborted",
	[RO_ROLLING_BACK] = "rolling-back",
	[RO_ROLLED_BACK] = "rolled-back",
	NULL,
};

const char *server_rollouts_step_state_name(enum server_step_state st)
{
	return server_rollouts_step_state_names[st];
}

const char *server_rollouts_rb_state_name(enum server_rb_state st)
{
	return server_rollouts_rb_state_names[st];
}

const char *server_rollouts_state_name(enum server_rollout_state st)
{
	return server_rollouts_state_names[st];
}

int server_rollouts_state_parse(const char *const *names, size_t n, const char *s, int def)
{
	for (size_t i = 0; s && i < n && names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return def;
}

Aioctl__V1__RolloutState server_rollouts_state_code(enum server_rollout_state st)
{
	static const Aioctl__V1__RolloutState codes[] = {
		[RO_RUNNING] = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_RUNNING,
		[RO_PAUSED] = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PAUSED,
		[RO_COMPLETED] = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_COMPLETED,
		[RO_ABORTED] = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ABORTED,
		[RO_ROLLING_BACK] = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLING_BACK,
		[RO_ROLLED_BACK] = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLED_BACK,
	};

	return codes[st];
}

Aioctl__V1__StepState server_rollouts_step_code(enum server_step_state st, bool offline)
{
	static const Aioctl__V1__StepState codes[] = {
		[STEP_PENDING] = AIOCTL__V1__STEP_STATE__STEP_PENDING,
		[STEP_SENT] = AIOCTL__V1__STEP_STATE__STEP_SENT,
		[STEP_SOAKING] = AIOCTL__V1__STEP_STATE__STEP_SOAKING,
		[STEP_DONE] = AIOCTL__V1__STEP_STATE__STEP_DONE,
		[STEP_FAILED] = AIOCTL__V1__STEP_STATE__STEP_FAILED,
		[STEP_EXPIRED] = AIOCTL__V1__STEP_STATE__STEP_EXPIRED,
		[STEP_CANCELLED] = AIOCTL__V1__STEP_STATE__STEP_CANCELLED,
	};

	return st == STEP_PENDING && offline ? AIOCTL__V1__STEP_STATE__STEP_OFFLINE : codes[st];
}

Aioctl__V1__RollbackState server_rollouts_rb_code(enum server_rb_state st)
{
	static const Aioctl__V1__RollbackState codes[] = {
		[RB_NONE] = AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_NONE,
		[RB_PENDING] = AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_PENDING,
		[RB_SENT] = AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_SENT,
		[RB_DONE] = AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_DONE,
		[RB_FAILED] = AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_FAILED,
	};

	return codes[st];
}

struct server_rollout *server_rollouts_find(struct server_rollout *list, uint64_t id)
{
	for (struct server_rollout *ro = list; ro; ro = ro->next)
		if (ro->id == id)
			return ro;
	return NULL;
}

/* A rollout's step ids are consecutive in the order of its steps, so
 * the step is found by subtraction: 10,000 acks to a 10,000-host rollout
 * must not each scan it. */
struct server_step *server_rollouts_find_step(struct server_rollout *list, uint64_t step_id,
                                              struct server_rollout **ret_ro)
{
	for (struct server_rollout *ro = list; ro; ro = ro->next) {
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

bool server_rollouts_active(const struct server_rollout *ro)
{
	return ro->state == RO_RUNNING || ro->state == RO_PAUSED || ro->state == RO_ROLLING_BACK;
}

bool server_rollouts_step_terminal(const struct server_step *p)
{
	return p->state == STEP_DONE || p->state == STEP_FAILED || p->state == STEP_EXPIRED ||
	       p->state == STEP_CANCELLED;
}

uint64_t server_rollouts_holding(const struct server_rollout *list, int64_t host_id)
{
	for (const struct server_rollout *ro = list; ro; ro = ro->next) {
		if (!server_rollouts_active(ro))
			continue;
		for (size_t i = 0; i < ro->n_steps; i++)
			if (ro->steps[i].host_id == host_id &&
			    !server_rollouts_step_terminal(&ro->steps[i]))
				return ro->id;
	}
	return 0;
}

void server_rollouts_step_msg(struct server_step *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	p->dirty = true;
}

void server_rollouts_msg(struct server_rollout *ro, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ro->message, sizeof(ro->message), fmt, ap);
	va_end(ap);
	ro->dirty = true;
}

void server_rollouts_prune(struct server_rollout **list)
{
	size_t n = 0;

	for (struct server_rollout **pp = list; *pp;) {
		struct server_rollout *ro = *pp;

		if (++n > SERVER_ROLLOUTS_KEPT && !server_rollouts_active(ro) && !ro->dirty &&
		    ro->committed) {
			*pp = ro->next;
			server_rollouts_free(ro);
			continue;
		}
		pp = &ro->next;
	}
}

size_t server_rollouts_stalled(const struct server_rollout *list, uint64_t now_ms,
                               uint64_t after_ms, struct server_stall *out, size_t max)
{
	size_t n = 0;

	for (const struct server_rollout *ro = list; ro && n < max; ro = ro->next) {
		uint64_t moved = ro->created_ms;

		if (!server_rollouts_active(ro))
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
		         server_rollouts_state_name(ro->state), ro->message[0] ? ": " : "",
		         ro->message);
		n++;
	}
	return n;
}

void server_rollouts_free_list(struct server_rollout *list)
{
	while (list) {
		struct server_rollout *ro = list;

		list = ro->next;
		server_rollouts_free(ro);
	}
}

void server_rollouts_free(struct server_rollout *ro)
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

void server_rollouts_log(uint64_t id, const char *who, const char *action, const char *result)
{
	struct aio_log_fields f = { .message_id = AIO_MSGID_ROLLOUT, .rollout = id };
	char prefix[40];
	int n = snprintf(prefix, sizeof(prefix), "rollout %" PRIu64 ": ", id);

	if (strncmp(action, "rollout.", 8) != 0)
		return;
	if (!strncmp(result, prefix, (size_t)n))
		result += n; /* a creation's detail names it already */
	aio_log_with(AIO_LOG_INFO, &f, "rollout %" PRIu64 ": %s by %s: %s", id, action + 8, who,
	             result);
}
