/* The rollout engine: plans limit changes over hosts, pushes them through
 * the agents' held Watch calls, gates each wave on acknowledgement, read
 * back and a soak without new AIO errors, and pauses or rolls back past a
 * failure threshold. Every state change is written to SQLite, and the
 * engine picks up where it was after a restart (also after kill -9): steps
 * have fixed ids, and agents apply a step once however often it arrives.
 *
 * One lock guards the engine's rollouts; commands reach agents through
 * push.c. Lock order: engine, push, hosts. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "rollouts.h"

struct server_db;
struct server_hosts;
struct server_push;
struct server_sql;

struct server_save;

struct server_engine {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stopping;
	/* what it works with: hosts to read, agents to reach, the disk */
	struct server_hosts *hosts;
	struct server_push *push;
	struct server_db *db;
	struct server_rollout *rollouts; /* newest first */
	uint64_t next_rollout_id, next_step_id;
	struct server_save *pending; /* changes for the next write */
	/* one of several servers on one database, not the leader: the
	 * rollouts are the leader's to run (cluster.c) */
	bool follower;
};

/* Loads the stored rollouts (before the database thread starts). */
int server_engine_init(struct server_engine *e, struct server_hosts *hosts,
                       struct server_push *push, struct server_db *db);
int server_engine_start(struct server_engine *e);
/* Stops the thread and writes its last changes. */
void server_engine_stop(struct server_engine *e);
void server_engine_done(struct server_engine *e);

/* Several servers on one database (rollout_lead.c): follow (run no
 * rollout; admin calls are the leader's), or lead, taking the rollouts as stored now on conn
 * (the caller's connection): 0 or a negative errno (then it follows). */
void server_rollout_lead_follow(struct server_engine *e);
int server_rollout_lead_take(struct server_engine *e, struct server_sql *conn);
bool server_rollout_lead_held(struct server_engine *e);

/* An agent's acknowledgement of one of the engine's commands. */
void server_engine_ack(struct server_engine *e, int64_t host_id, const Aioctl__V1__AckRequest *ack);

/* Admin calls; each answers its closure (maybe later). who names the caller
 * for the audit log. */
void server_engine_set_limit(struct server_engine *e, const Aioctl__V1__SetLimitRequest *in,
                             const char *who, Aioctl__V1__Rollout_Closure closure, void *data);
enum server_rollout_op {
	ROLLOUT_GET,
	ROLLOUT_PAUSE,
	ROLLOUT_RESUME,
	ROLLOUT_ABORT,
	ROLLOUT_ROLLBACK
};
void server_engine_rollout_op(struct server_engine *e, uint64_t id, enum server_rollout_op op,
                              const char *who, Aioctl__V1__Rollout_Closure closure, void *data);
void server_engine_rollout_list(struct server_engine *e, uint32_t limit,
                                Aioctl__V1__RolloutListReply_Closure closure, void *data);

/* Rollouts not finished with no step started, acknowledged or finished
 * in the last after_ms; at most max into out. */
size_t server_engine_stalled(struct server_engine *e, uint64_t now_ms, uint64_t after_ms,
                             struct server_stall *out, size_t max);
/* Rollouts kept in memory, by state. */
/* A rollout under way with a step still to finish on host_id, or 0. */
uint64_t server_engine_holding(struct server_engine *e, int64_t host_id);
void server_engine_by_state(struct server_engine *e, size_t ret_counts[RO_STATES]);
