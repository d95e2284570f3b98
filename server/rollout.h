/* The rollout engine: plans limit changes over hosts, pushes them through
 * the agents' held Watch calls, gates each wave on acknowledgement, read
 * back and a soak without new AIO errors, and pauses or rolls back past a
 * failure threshold. Every state change is written to SQLite, and the
 * engine picks up where it was after a restart (also after kill -9): steps
 * have fixed ids, and agents apply a step once however often it arrives.
 *
 * One lock guards the engine: rollouts, each host's outstanding commands
 * and held Watch, live queries. Lock order: engine, then hosts. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "bounds.h"

struct server;

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
	char *skipped; /* host names, comma separated */
	char *refused; /* "host: why" entries, "; " separated */
	struct server_step *steps;
	size_t n_steps;
	bool dirty;
	struct server_rollout *next;
};

/* Limits on what the engine keeps. */
#define SERVER_COMMANDS_MAX  16    /* outstanding commands per host */
#define SERVER_WATCH_MAX_MS  60000 /* longest a Watch is held */
#define SERVER_RESEND_MS     10000 /* an unacknowledged command goes again */
#define SERVER_ROLLOUTS_KEPT 200   /* finished rollouts kept in memory */

struct server_command {
	uint64_t id;
	uint64_t rollout_id, step_id;
	uint64_t target;
	bool force, rollback, sample_now;
	uint64_t sent_ms; /* 0: not sent yet */
	struct server_command *next;
};

struct server_hostctl {
	struct server_command *commands;
	size_t n_commands;
	Aioctl__V1__WatchReply_Closure watch; /* the held Watch, or NULL */
	void *watch_data;
	uint64_t watch_deadline_ms;
};

struct server_live;
struct server_save;

struct server_engine {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stopping;
	struct server_rollout *rollouts; /* newest first */
	struct server_hostctl *ctl;      /* by host id */
	size_t n_ctl;
	uint64_t next_rollout_id, next_step_id, next_ephemeral_id;
	struct server_live *live;
	struct server_save *pending; /* changes for the next write */
};

int server_engine_init(struct server *s);
int server_engine_start(struct server *s);
/* Answers every held call, stops the thread. */
void server_engine_stop(struct server *s);
void server_engine_done(struct server *s);

/* Agent calls. */
void server_engine_watch(struct server *s, int64_t host_id, uint64_t max_wait_ms,
                         Aioctl__V1__WatchReply_Closure closure, void *data);
void server_engine_ack(struct server *s, int64_t host_id, const Aioctl__V1__AckRequest *ack);

/* Admin calls; each answers its closure (maybe later). who names the caller
 * for the audit log. */
void server_engine_set_limit(struct server *s, const Aioctl__V1__SetLimitRequest *in,
                             const char *who, Aioctl__V1__Rollout_Closure closure, void *data);
/* action: "pause", "resume", "abort", "rollback"; NULL: just get. */
void server_engine_rollout_op(struct server *s, uint64_t id, const char *action, const char *who,
                              Aioctl__V1__Rollout_Closure closure, void *data);
void server_engine_rollout_list(struct server *s, uint32_t limit,
                                Aioctl__V1__RolloutListReply_Closure closure, void *data);
void server_engine_drift(struct server *s, Aioctl__V1__DriftReply_Closure closure, void *data);

/* A rollout still under way whose steps have not moved since since_ms. */
struct server_stall {
	uint64_t id, since_ms;
	char why[300]; /* its state and message */
};

/* Rollouts not finished with no step started, acknowledged or finished
 * in the last after_ms; at most max into out. */
size_t server_engine_stalled(struct server *s, uint64_t now_ms, uint64_t after_ms,
                             struct server_stall *out, size_t max);
void server_engine_live(struct server *s, uint64_t timeout_ms,
                        Aioctl__V1__FleetStatusReply_Closure closure, void *data);

/* Appends to the audit log (through the database thread). */
void server_audit(struct server *s, const char *who, const char *action, const char *target,
                  const char *result);
