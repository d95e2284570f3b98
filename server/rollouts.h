/* Rollouts as records: a rollout, its steps and their states, their
 * names on disk and on the wire, and the questions asked of a list of
 * them. The engine (rollout.c) owns the list and its lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "bounds.h"

enum server_step_state {
	STEP_PENDING,
	STEP_SENT,
	STEP_SOAKING,
	STEP_DONE,
	STEP_FAILED,
	STEP_EXPIRED,
	STEP_CANCELLED,
};

enum server_rb_state { RB_NONE, RB_PENDING, RB_SENT, RB_DONE, RB_FAILED };

enum server_rollout_state {
	RO_RUNNING,
	RO_PAUSED,
	RO_COMPLETED,
	RO_ABORTED,
	RO_ROLLING_BACK,
	RO_ROLLED_BACK,
	RO_STATES,
};

struct server_step {
	uint64_t id;
	int64_t host_id;
	char host[AIO_HOST_NAME_MAX + 1];
	uint32_t wave;
	uint64_t target;
	enum server_step_state state;
	enum server_rb_state rb;
	bool has_runtime_before, has_runtime_after, has_persisted_before, has_persisted_after;
	uint64_t runtime_before, runtime_after, persisted_before, persisted_after;
	char message[256];
	uint64_t started_ms, acked_ms, soak_until_ms, finished_ms, offline_since_ms;
	bool dirty; /* to be written */
};

struct server_rollout {
	uint64_t id;
	enum server_rollout_state state;
	Aioctl__V1__SetLimitRequest *opts; /* owned */
	char created_by[128];
	uint64_t created_ms, finished_ms, offline_deadline_ms;
	uint32_t wave, n_waves;
	uint32_t failures_accepted; /* failures a resume took note of */
	bool committed;             /* the plan is on disk: steps may start */
	char message[256];
	char *skipped;                              /* host names, comma separated */
	char *refused;                              /* "host: why" entries, "; " separated */
	size_t n_lower;                             /* planned steps that lower a host's limit */
	char lower_example[AIO_HOST_NAME_MAX + 48]; /* "host: 262144 -> 131072" */
	struct server_step *steps;
	size_t n_steps;
	bool dirty;
	struct server_rollout *next;
};

#define SERVER_ROLLOUTS_KEPT 200 /* finished rollouts kept in memory */

/* A rollout still under way whose steps have not moved since since_ms. */
struct server_stall {
	uint64_t id, since_ms;
	char why[300]; /* its state and message */
};

const char *server_rollouts_step_state_name(enum server_step_state st);
const char *server_rollouts_rb_state_name(enum server_rb_state st);
const char *server_rollouts_state_name(enum server_rollout_state st);
/* The state with this name; def for an unknown one. */
int server_rollouts_state_parse(const char *const *names, size_t n, const char *s, int def);
extern const char *const server_rollouts_step_state_names[];
extern const char *const server_rollouts_rb_state_names[];
extern const char *const server_rollouts_state_names[];

/* The states as they cross the wire (a pending step whose host is
 * offline is STEP_OFFLINE there). */
Aioctl__V1__RolloutState server_rollouts_state_code(enum server_rollout_state st);
Aioctl__V1__StepState server_rollouts_step_code(enum server_step_state st, bool offline);
Aioctl__V1__RollbackState server_rollouts_rb_code(enum server_rb_state st);

struct server_rollout *server_rollouts_find(struct server_rollout *list, uint64_t id);
/* The step with this id and its rollout (*ret_ro), or NULL. */
struct server_step *server_rollouts_find_step(struct server_rollout *list, uint64_t step_id,
                                              struct server_rollout **ret_ro);
/* The id of an active rollout with a step still to finish on host_id, or 0. */
uint64_t server_rollouts_holding(const struct server_rollout *list, int64_t host_id);
bool server_rollouts_active(const struct server_rollout *ro);
bool server_rollouts_step_terminal(const struct server_step *p);
void server_rollouts_step_msg(struct server_step *p, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void server_rollouts_msg(struct server_rollout *ro, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Frees finished rollouts past SERVER_ROLLOUTS_KEPT (the database keeps
 * them all). */
void server_rollouts_prune(struct server_rollout **list);
/* Active rollouts with no step started, acknowledged or finished in the
 * last after_ms; at most max into out. */
size_t server_rollouts_stalled(const struct server_rollout *list, uint64_t now_ms,
                               uint64_t after_ms, struct server_stall *out, size_t max);
void server_rollouts_free(struct server_rollout *ro);
/* Frees every rollout of a list (linked by next). */
void server_rollouts_free_list(struct server_rollout *list);

/* What happens to a whole rollout (an audit action "rollout.*") is also a
 * journal entry (AIO_MSGID_ROLLOUT) for whoever follows rollouts there. */
void server_rollouts_log(uint64_t id, const char *who, const char *action, const char *result);
