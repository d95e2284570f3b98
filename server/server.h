/* aio-server's parts and their order of start and stop.
 *
 * Threads, and what each may block on:
 * - nng's callback threads run the RPC handlers (agent_rpc.c, admin_rpc.c)
 *   and /metrics: they take the host registry's lock (hosts.c), the
 *   engine's, push's, creds' and alerts' mutexes for short moments, and
 *   queue writes and queries; they never wait for the disk.
 * - the database thread (db.c) commits queued writes in batches; it waits
 *   on SQLite only. Write callbacks run on its done thread, which may take
 *   the registry's lock and answer calls.
 * - the query thread (query.c) runs reads that go to disk, on its own
 *   connection; trend reads may use one helper thread beside it.
 * - the engine thread (rollout.c) ticks rollouts and push.c every 100 ms;
 *   it takes engine, then push, then hosts, and submits its writes
 *   outside its lock (blocking while the write queue is full).
 * - the retention thread (retention.c) waits for each of its small steps
 *   to commit.
 * - the alerts thread (alerts.c) reads the registry and the engine, and
 *   queues its writes.
 * Lock order: engine, push, hosts; creds and alerts take no other lock. */
#pragma once

#include <stdatomic.h>

#include "alerts.h"
#include "config.h"
#include "creds.h"
#include "db.h"
#include "hosts.h"
#include "metrics.h"
#include "notify.h"
#include "push.h"
#include "query.h"
#include "retention.h"
#include "rollout.h"
#include "rpc_server.h"
#include "web.h"

#define SERVER_TOKEN_BYTES 32

struct server {
	struct server_config conf;
	struct server_hosts hosts;
	struct server_db *db;
	struct server_query *query;
	struct server_push push;
	struct server_engine engine;
	struct server_creds creds;
	struct server_retention retention; /* prunes each tier */
	struct server_alerts alerts;
	struct server_notify notify;   /* pushes the alerts */
	struct server_metrics metrics; /* /metrics */
	struct server_web web;         /* /api/v1 and /ui */
	atomic_uint_fast64_t reports_total;
	atomic_uint_fast64_t report_batches_total; /* ReportBatch calls stored */
	atomic_uint_fast64_t fields_cleaned_total; /* text fields agents sent cleaned */
	/* the guard's decisions reported, new ones: raised, refused, warned */
	atomic_uint_fast64_t guard_total[3];
	struct server_cluster *cluster; /* several servers on PostgreSQL, or NULL */
	struct aio_rpc_server *agent_rpc;
	struct aio_rpc_server *admin_rpc;
	char admin_token[SERVER_TOKEN_BYTES * 2 + 1];
};

int server_start(struct server *s);
void server_stop(struct server *s);
/* Reads STATE-DIR/admin.token, creating it (mode 0600) on first start. */
int server_token_load(const char *state_dir, char *buf, size_t len, char *err, size_t errlen);

/* The services' handlers, in agent_rpc.c and admin_rpc.c. */
extern Aioctl__V1__Agent_Service server_agent_service;
extern Aioctl__V1__Admin_Service server_admin_service;
int server_agent_authorize(struct aio_rpc_call *call, void *arg);
/* What is wrong with an agent's message, or NULL: every bound checked. */
const char *server_agent_check_hello(const Aioctl__V1__HelloRequest *in);
void server_agent_set_replay_max(uint64_t ms);
/* Refuses a report that cannot be stored (NULL if it can) and cleans its
 * text fields in place, *ret_cleaned counting what it changed. */
const char *server_agent_check_report(Aioctl__V1__ReportRequest *in, uint64_t now_ms,
                                      size_t *ret_cleaned);
int server_admin_authorize(struct aio_rpc_call *call, void *arg);
