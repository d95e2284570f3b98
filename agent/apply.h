/* Applies a limit the server asked for, within this host's own policy, and
 * takes it back on request. It writes exactly two things: the agent's own
 * sysctl.d file and SYSROOT/proc/sys/fs/aio-max-nr.
 *
 * Apply: check the local bounds (and usage plus a margin unless forced);
 * keep what the file held; write the file atomically; re-scan sysctl.d the
 * way systemd-sysctl would, and if another file would still win at boot,
 * put the file back and fail naming that file; write the live value; read
 * both back. A step delivered again gets its first answer again. */
#pragma once

#include <stdint.h>

#include "aioctl.pb-c.h"

/* The guard's own steps (guard.c) have this bit in their id. */
#define AGENT_GUARD_STEP (1ULL << 63)
/* Step records kept in STATE/steps (each at most 256 KiB). */
#define AGENT_STEPS_KEPT 512

struct agent_applier {
	char sysroot[4096];
	char file[1024];      /* the agent's sysctl.d file, as on the host */
	char file_real[4096]; /* ... under the sysroot */
	char max_real[4096];
	char nr_real[4096];
	char steps_dir[4096];
	uint64_t min, max, margin;
};

int agent_apply_init(struct agent_applier *ap, const char *sysroot, const char *file,
                     const char *state_dir, uint64_t min, uint64_t max, uint64_t margin);
/* A step record's bytes as stored in STATE/steps, or NULL when damaged
 * (caller frees with aioctl__v1__agent_step_record__free_unpacked). */
Aioctl__V1__AgentStepRecord *agent_apply_record_parse(const uint8_t *data, size_t len);
/* Carries out cmd and returns the acknowledgement to send (caller frees
 * with aioctl__v1__ack_request__free_unpacked). */
Aioctl__V1__AckRequest *agent_apply(struct agent_applier *ap, uint64_t command_id,
                                    const Aioctl__V1__SetLimit *cmd);
