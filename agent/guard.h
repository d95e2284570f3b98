/* aio-guard: libvirt's qemu hook at "prepare begin", before QEMU starts.
 * It reads the domain's XML, knows its AIO demand (demand.h), compares it
 * with the host's room, fs.aio-max-nr - fs.aio-nr, less what starts under
 * way have reserved, and decides by policy:
 *   raise   the room is made: the live value and the agent's sysctl.d file
 *           go to the next power of two that fits the demand plus the
 *           margin, as a rollout step does (apply.c), never past
 *           limit-max; past it, refused;
 *   refuse  exit 1 with one line that libvirt shows in virsh start;
 *   warn    exit 0, the shortfall written to stderr (libvirt's log);
 *   off     exit 0 at once.
 * A start that passes keeps a reservation (STATE/guard/DOMAIN) until the
 * host's aio-nr reaches what it expects or reservation-timeout passes, so
 * domains started at once do not pass on the same room; a lock
 * (STATE/guard.lock) orders them. It needs neither aio-agent nor
 * aio-server running. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "demand.h"
#include "logparse.h"

enum agent_guard_policy { GUARD_OFF, GUARD_WARN, GUARD_REFUSE, GUARD_RAISE };

enum agent_guard_verdict {
	GUARD_PASSED,  /* room enough (or nothing asked) */
	GUARD_RAISED,  /* room made */
	GUARD_WARNED,  /* too little room, let through */
	GUARD_REFUSED, /* too little room, the start fails */
};

struct agent_guard_result {
	enum agent_guard_verdict verdict;
	struct agent_demand demand;
	uint64_t nr, max, reserved; /* what was read; events others reserved */
	uint64_t raised_to;         /* GUARD_RAISED */
	char message[1024];         /* one line, for libvirt */
};

/* A decision other than a pass is kept for the agent to report: one file
 * in STATE/guard-events, named by its time (AGENT_GUARD_EVENT_NAME bytes,
 * so names sort by time), read by the agent's follower and removed once
 * the report carrying it is stored. */
#define AGENT_GUARD_EVENT_NAME 29

int agent_guard_policy_parse(const char *s, enum agent_guard_policy *ret);
/* The decisions kept after the one named after ("" for all), oldest
 * first, as events to fn (false: stop, it is full); *last (at least
 * AGENT_GUARD_EVENT_NAME + 1 bytes) becomes the last one given. */
void agent_guard_events_read(const char *state_dir, const char *after,
                             bool (*fn)(const struct agent_event *ev, void *arg), void *arg,
                             char *last);
/* Removes the decisions up to and including upto (reported, stored). */
void agent_guard_events_trim(const char *state_dir, const char *upto);
/* Decides for one start: xml is the domain's, conf the agent's. Returns 0
 * with *ret filled; a negative errno when the guard itself failed (bad
 * XML, unreadable counters, no state dir), with ret->message saying why. */
int agent_guard_decide(const struct agent_config *conf, enum agent_guard_policy policy,
                       const char *xml, size_t len, struct agent_guard_result *ret);
/* Drops domain's reservation: it stopped, or its start failed. */
void agent_guard_release(const struct agent_config *conf, const char *domain);
/* The hook: argv is NAME OP SUBOP [EXTRA] as libvirt gives them, in the
 * XML on stdin. Returns the exit status (message on err). */
int agent_guard_main(const struct agent_config *conf, int argc, char **argv, FILE *in, FILE *err);
