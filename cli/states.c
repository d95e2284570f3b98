/* Rollout, step and rollback states: the codes the server sends, their
 * names as aioctl prints them, and the code for a server of the previous
 * release, which sent the names only. */
#include "states.h"

#include <string.h>

static const char *const rollout_names[] = {
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_STATE_UNKNOWN] = "unknown",
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_RUNNING] = "running",
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PAUSED] = "paused",
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_COMPLETED] = "completed",
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ABORTED] = "aborted",
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLING_BACK] = "rolling-back",
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLED_BACK] = "rolled-back",
	[AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PLANNED] = "planned",
};

static const char *const step_names[] = {
	[AIOCTL__V1__STEP_STATE__STEP_STATE_UNKNOWN] = "unknown",
	[AIOCTL__V1__STEP_STATE__STEP_PENDING] = "pending",
	[AIOCTL__V1__STEP_STATE__STEP_OFFLINE] = "offline",
	[AIOCTL__V1__STEP_STATE__STEP_SENT] = "sent",
	[AIOCTL__V1__STEP_STATE__STEP_SOAKING] = "soaking",
	[AIOCTL__V1__STEP_STATE__STEP_DONE] = "done",
	[AIOCTL__V1__STEP_STATE__STEP_FAILED] = "failed",
	[AIOCTL__V1__STEP_STATE__STEP_EXPIRED] = "expired",
	[AIOCTL__V1__STEP_STATE__STEP_CANCELLED] = "cancelled",
	[AIOCTL__V1__STEP_STATE__STEP_PLANNED] = "planned",
};

static const char *const rollback_names[] = {
	[AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_NONE] = "",
	[AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_PENDING] = "pending",
	[AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_SENT] = "sent",
	[AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_DONE] = "done",
	[AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_FAILED] = "failed",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The code whose name is s (a previous release's field), else 0. */
static int code_of(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 1; s && i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return (int)i;
	return 0;
}

static const char *name_of(const char *const *names, size_t n, int code)
{
	return code >= 0 && (size_t)code < n && names[code] ? names[code] : names[0];
}

Aioctl__V1__RolloutState cli_rollout_state(bool has_code, Aioctl__V1__RolloutState code,
                                           const char *name)
{
	return has_code ? code
	                : (Aioctl__V1__RolloutState)code_of(rollout_names, N(rollout_names), name);
}

Aioctl__V1__StepState cli_step_state(bool has_code, Aioctl__V1__StepState code, const char *name)
{
	return has_code ? code : (Aioctl__V1__StepState)code_of(step_names, N(step_names), name);
}

Aioctl__V1__RollbackState cli_rollback_state(const Aioctl__V1__RolloutStep *p)
{
	return p->has_rollback_code ? p->rollback_code
	                            : (Aioctl__V1__RollbackState)code_of(
	                                      rollback_names, N(rollback_names), p->rollback);
}

const char *cli_rollout_state_name(Aioctl__V1__RolloutState st)
{
	return name_of(rollout_names, N(rollout_names), (int)st);
}

const char *cli_step_state_name(Aioctl__V1__StepState st)
{
	return name_of(step_names, N(step_names), (int)st);
}

const char *cli_rollback_state_name(Aioctl__V1__RollbackState st)
{
	return name_of(rollback_names, N(rollback_names), (int)st);
}
