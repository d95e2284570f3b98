/* aio-server's parts and their order of start and stop. */
#pragma once

#include <stdatomic.h>

#include "alerts.h"
#include "config.h"
#include "creds.h"
#include "db.h"
#include "hosts.h"
#include "query.h"
#include "retention.h"
#include "rollout.h"
#include "rpc_server.h"

#define SERVER_TOKEN_BYTES 32

struct server {
	struct server_config conf;
	struct server_hosts hosts;
	struct server_db *db;
	struct server_query *query;
	struct server_engine engine;
	struct server_creds creds;
	struct aio_periodic retention; /* prunes each tier */
	struct server_alerts alerts;
	atomic_uint_fast64_t pruned_total, prune_passes;
	struct nng_http_server *http; /* /metrics, or NULL */
	atomic_uint_fast64_t reports_total;
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
const char *server_agent_check_report(const Aioctl__V1__ReportRequest *in, uint64_t now_ms);
int server_admin_authorize(struct aio_rpc_call *call, void *arg);
/* Answers a FleetStatus with every host, naming the silent ones. */
void server_fleet_status_answer(struct server *s, Aioctl__V1__FleetStatusReply_Closure closure,
                                void *data, char **not_answered, size_t n_not);
