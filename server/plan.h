/* A rollout's plan: the hosts a SetLimit selects, those it skips (live and
 * after-reboot values already at the target), those it refuses (outside
 * the host's own bounds, or below its usage plus margin), and the waves
 * the rest run in: canaries first, then batches of a count or a share.
 * Pure: it reads a view of the hosts and asks a callback whether a host is
 * still being changed by another rollout. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "bounds.h"
#include "hosts.h"
#include "rollouts.h"

struct server_plan_step {
	int64_t host_id;
	char host[AIO_HOST_NAME_MAX + 1];
	uint64_t target;
	uint32_t wave;
	/* what the host has now, live and after a reboot (if known) */
	bool has_live, has_after;
	uint64_t live, after;
	bool lowers; /* the target is below either */
};

struct server_plan {
	struct server_plan_step *steps; /* by host name */
	size_t n_steps;
	uint32_t n_waves;
	char *skipped;     /* host names, comma separated, or NULL */
	char *refused;     /* "host: why" entries, "; " separated, or NULL */
	size_t n_lower;    /* steps that lower a host's limit */
	uint64_t conflict; /* on -EEXIST: the rollout that holds a host */
};

/* The id of an active rollout with a step still to finish on host_id, or
 * 0. */
typedef uint64_t (*server_plan_conflict_fn)(int64_t host_id, void *arg);

/* Why the request's options are refused (a message naming the flag), or
 * NULL. */
const char *server_plan_check(const Aioctl__V1__SetLimitRequest *in);
/* Plans in over hosts (sorted by id). -EEXIST when a selected host is in
 * another rollout and in does not supersede (ret->conflict says which),
 * -ENOMEM. ret is filled either way; server_plan_done frees it. */
int server_plan_make(const Aioctl__V1__SetLimitRequest *in, const struct server_host *const *hosts,
                     size_t n, server_plan_conflict_fn conflict, void *arg,
                     struct server_plan *ret);
void server_plan_done(struct server_plan *p);
/* A dry run's step: the host's values before and after, and a word when
 * it lowers them. */
void server_plan_preview(const struct server_plan_step *q, struct server_step *p);
/* "host: 262144 -> 131072" for the first step that lowers a limit, or "". */
void server_plan_lower_example(const struct server_plan *p, char *buf, size_t len);
