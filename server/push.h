/* What the server sends agents: each host's outstanding commands and its
 * held Watch, delivery and resend, and live queries (sample_now to every
 * host, answered when all replied or at a deadline). One lock guards it.
 * Lock order: engine, push, hosts. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "hosts.h"

/* Limits on what is kept per host. */
#define SERVER_PUSH_COMMANDS_MAX 16    /* outstanding commands per host */
#define SERVER_PUSH_WATCH_MAX_MS 60000 /* longest a Watch is held */
#define SERVER_PUSH_RESEND_MS    10000 /* an unacknowledged command goes again */

/* Live queries in flight: per credential, and in all. Each holds a
 * command on every host's queue until answered or late. */
#define SERVER_PUSH_LIVE_PER_OWNER 2
#define SERVER_PUSH_LIVE_MAX       16
#define SERVER_PUSH_OWNER_MAX      63

/* A command id with this bit set is a live query's, never a step's. */
#define SERVER_PUSH_EPHEMERAL_BIT (1ULL << 62)

struct server_command {
	uint64_t id;
	uint64_t rollout_id, step_id;
	uint64_t target;
	bool force, rollback, sample_now;
	uint64_t sent_ms;    /* 0: not sent yet */
	uint64_t relayed_ms; /* told the other servers then; 0: theirs, or one server */
	struct server_command *next;
};

struct server_hostctl;
struct server_live;

struct server_push {
	pthread_mutex_t lock;
	struct server_hosts *hosts;
	struct server_hostctl *ctl; /* by host id */
	size_t n_ctl;
	uint64_t next_ephemeral_id;
	struct server_live *live;
	bool stopping;
	/* several servers: a command queued here is told to the others */
	void (*relay)(void *arg, int64_t host_id, const struct server_command *c);
	void *relay_arg;
};

void server_push_init(struct server_push *p, struct server_hosts *hosts);
/* Answers every held call; later calls are refused. */
void server_push_stop(struct server_push *p);
void server_push_done(struct server_push *p);

/* Holds host_id's Watch until a command is due or max_wait_ms (bounded by
 * SERVER_PUSH_WATCH_MAX_MS) passed; a newer Watch answers the older. */
void server_push_watch(struct server_push *p, int64_t host_id, uint64_t max_wait_ms,
                       Aioctl__V1__WatchReply_Closure closure, void *data);
/* Queues a copy of c for host_id (once per c->id) and delivers it if the
 * host's Watch is held. -EAGAIN when the host's queue is full. */
int server_push_send(struct server_push *p, int64_t host_id, const struct server_command *c,
                     uint64_t now_ms);
/* server_push_send for a command another server queued (not relayed). */
int server_push_take(struct server_push *p, int64_t host_id, const struct server_command *c,
                     uint64_t now_ms);
/* Takes an acknowledgement off the host's queue. A live query's answer is
 * kept here (true); false: the command was a rollout step's. */
bool server_push_ack(struct server_push *p, int64_t host_id, const Aioctl__V1__AckRequest *ack);
/* Asks every host for a sample now; closure gets the fleet status once all
 * answered or after timeout_ms, naming those that did not. owner names
 * the credential asking. 0; -EBUSY past SERVER_PUSH_LIVE_PER_OWNER for
 * owner or SERVER_PUSH_LIVE_MAX in all, -ESHUTDOWN, -ENOMEM: closure is
 * then not called (the caller answers). */
int server_push_live(struct server_push *p, const char *owner, uint64_t timeout_ms,
                     Aioctl__V1__FleetStatusReply_Closure closure, void *data);
/* Resends what is due, answers Watches past their time and live queries
 * that are complete or late. */
void server_push_tick(struct server_push *p, uint64_t now_ms);
/* Watches held now. */
size_t server_push_watches(struct server_push *p);
