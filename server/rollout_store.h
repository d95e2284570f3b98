/* Rollouts on disk: what the engine changed, written by the database
 * thread in the next batch, and read back at start-up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "rollout.h"

struct server_save;

/* A set of writes to go to disk together; NULL when out of memory. */
struct server_save *server_save_new(struct server *s);
/* Adds copies of ro's row and of its dirty steps (all steps if all). */
int server_save_rollout(struct server_save *sv, struct server_rollout *ro, bool all);
int server_save_desired(struct server_save *sv, int64_t host_id, uint64_t value,
                        uint64_t rollout_id, uint64_t when_ms);
int server_save_audit(struct server_save *sv, const char *who, const char *action,
                      const char *target, const char *result);
/* Submits and frees sv; then(arg, err) runs on the database thread after
 * the commit (err 0) or failure, unless submitting fails (then not called,
 * negative errno returned). wait: block while the write queue is full. An
 * empty set runs then at once. */
int server_save_submit(struct server_save *sv, void (*then)(void *arg, int err), void *arg,
                       bool wait);
const char *server_step_state_name(enum server_step_state st);
const char *server_rb_state_name(enum server_rb_state st);
const char *server_rollout_state_name(enum server_rollout_state st);

/* Loads rollouts and steps (before the database thread starts). */
int server_rollout_store_load(struct server *s);
