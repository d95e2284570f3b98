/* Several aio-servers on one PostgreSQL (db = postgresql://...): each
 * keeps its row in the servers table; one leads (it holds a session
 * advisory lock) and runs the rollouts, retention and alerts; the hosts
 * other servers serve come into this one's registry, so any server takes
 * any agent and every server shows the same fleet; host ids come from the
 * database in blocks; a command the leader queues and an agent's ack
 * cross servers over LISTEN/NOTIFY; admin calls for rollouts go to the
 * leader. One thread with a connection of its own does it. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "db.h"
#include "push.h"

struct server_cluster;
struct server_config;
struct server_creds;
struct server_engine;
struct server_hosts;

/* What the cluster works with: the server's own parts. */
struct server_cluster_parts {
	const struct server_config *conf;
	struct server_db *db;
	struct server_hosts *hosts;
	struct server_push *push;
	struct server_engine *engine;
	struct server_creds *creds;
};

/* The servers read, at most. */
#define SERVER_CLUSTER_PEERS_MAX 64

/* A server in the servers table, as server_cluster_servers gives it. */
struct server_cluster_peer {
	char name[128];
	char agent_url[256], admin_url[256];
	char version[32];
	uint64_t started_ms, seen_ms, leader_since_ms;
	uint64_t agents; /* the agents whose Watch it holds */
	bool leader, alive;
	bool self; /* this server */
};

extern const struct server_db_migration server_cluster_pg_migrations[];

/* Starts the cluster thread for a server on PostgreSQL: 0 or a negative
 * errno, logged. name: this server's, unique among them. */
int server_cluster_start(const struct server_cluster_parts *parts, const char *name,
                         struct server_cluster **ret);
/* Gives up the lead and stops. */
void server_cluster_stop(struct server_cluster *c);
/* Whether this server leads: true without a cluster (one server). */
bool server_cluster_leads(const struct server_cluster *c);
/* The leader's name and admin URL; false when none is known. */
bool server_cluster_leader(struct server_cluster *c, char *name, size_t nlen, char *admin_url,
                           size_t ulen);
/* The servers as last read (up to max): their number. */
size_t server_cluster_servers(struct server_cluster *c, struct server_cluster_peer *out,
                              size_t max);
/* Sends an agent's ack to the other servers (the leader's engine, their
 * push queues). */
void server_cluster_ack(struct server_cluster *c, int64_t host_id,
                        const Aioctl__V1__AckRequest *ack);
/* push.c's relay: a command queued here goes to the host's queue on the
 * other servers, for whichever holds its Watch. */
void server_cluster_relay(void *arg, int64_t host_id, const struct server_command *cmd);
/* A rollout call (data, its closure) on a server that does not lead: sent
 * to the leader with the caller's token, its answer relayed; false when
 * this server leads (the caller serves it). */
bool server_cluster_forward(struct server_cluster *c, void *data, ProtobufCClosure closure);
/* For /metrics: times this server took the lead. */
uint64_t server_cluster_takeovers(const struct server_cluster *c);
