/* Reports waiting for the server's acknowledgement, oldest first. When
 * full, the oldest report is dropped and counted. Not thread-safe: the
 * agent's lock guards it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"

struct agent_report {
	uint64_t seq; /* 0 until first sent: numbered after Hello */
	Aioctl__V1__Sample sample;
};

struct agent_spool {
	struct agent_report *ring;
	size_t cap, head, len;
	uint64_t dropped;
};

int agent_spool_init(struct agent_spool *sp, size_t cap);
void agent_spool_done(struct agent_spool *sp);
/* Appends a copy of r, dropping the oldest when full. */
void agent_spool_push(struct agent_spool *sp, const struct agent_report *r);
/* The oldest report, or NULL; valid until the next push or pop. */
struct agent_report *agent_spool_peek(struct agent_spool *sp);
void agent_spool_pop(struct agent_spool *sp);
