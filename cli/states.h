/* Rollout, step and rollback states as codes, and their printed names. */
#pragma once

#include <stdbool.h>

#include "aioctl.pb-c.h"

/* A message's state: its code, or (from a server of the previous release,
 * which sent names only) the code of its name. */
Aioctl__V1__RolloutState cli_rollout_state(bool has_code, Aioctl__V1__RolloutState code,
                                           const char *name);
Aioctl__V1__StepState cli_step_state(bool has_code, Aioctl__V1__StepState code, const char *name);
Aioctl__V1__RollbackState cli_rollback_state(const Aioctl__V1__RolloutStep *p);

#define CLI_ROLLOUT_STATE(r) cli_rollout_state((r)->has_state_code, (r)->state_code, (r)->state)
#define CLI_STEP_STATE(p)    cli_step_state((p)->has_state_code, (p)->state_code, (p)->state)

const char *cli_rollout_state_name(Aioctl__V1__RolloutState st);
const char *cli_step_state_name(Aioctl__V1__StepState st);
/* "" for none. */
const char *cli_rollback_state_name(Aioctl__V1__RollbackState st);
