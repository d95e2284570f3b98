/* Rollouts on disk: this module owns the rollouts and rollout_steps
 * tables. What the engine changed is written by the database thread in the
 * next batch, with the desired values and audit entries of the same
 * change (one transaction), and read back at start-up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "rollouts.h"

struct server_save;

/* A set of writes to go to disk together; NULL when out of memory. */
struct server_save *server_save_new(struct server_db *db);
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

struct server_hosts;

/* Loads rollouts and steps into *ret_list, newest first, and raises the
 * next ids past theirs (before the database thread starts). */
int server_rollout_store_load(struct server_db *db, struct server_hosts *hosts,
                              struct server_rollout **ret_list, uint64_t *next_rollout_id,
                              uint64_t *next_step_id);
/* The same on a connection of the caller's (a server taking the lead). */
int server_rollout_store_load_on(struct server_sql *conn, struct server_hosts *hosts,
                                 struct server_rollout **ret_list, uint64_t *next_rollout_id,
                                 uint64_t *next_step_id);

extern const struct server_db_migration server_rollout_store_migrations[];
extern const struct server_db_migration server_rollout_store_pg_migrations[];

/* A stored step, as the rollout report reads it. */
struct server_rollout_store_step {
	int64_t host_id;
	const char *state;
	uint64_t target;
	bool has_changed, has_runtime_before;
	uint64_t changed_ms; /* acknowledged, or finished */
	uint64_t runtime_before;
};

struct server_reader;

/* The stored state of rollout id (*ret_state malloc'd) and row() for each
 * of its steps (strings valid during the call). -ENOENT for no such
 * rollout. On the query thread. */
int server_rollout_store_read(struct server_reader *rd, uint64_t id, char **ret_state,
                              int (*row)(const struct server_rollout_store_step *p, void *arg),
                              void *arg);
