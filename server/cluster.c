#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "creds.h"
#include "hosts.h"
#include "log.h"
#include "rollout.h"
#include "rpc_client.h"
#include "rpc_server.h"
#include "sql.h"
#include "store_hosts.h"

/* The advisory lock the leader holds for its session. */
#define LEADER_LOCK  "7340196"
/* How often the thread beats, tries for the lead and reads the others. */
#define TICK_MS      500
/* A server not seen for this long is gone (its row stays, not alive). */
#define ALIVE_MS     5000
/* Host ids taken at a time (the sequence's increment): with a spare, a
 * server enrolls 2,048 hosts between two beats. */
#define ID_BLOCK     1024
/* A host that called this server this recently is this server's own: what
 * others stored of it is older. */
#define LOCAL_MS     15000
/* Notes waiting to go out, at most (a push to every host of a large fleet,
 * and its acks). */
#define OUTBOX_MAX   200000
/* Admin calls going to the leader at once, at most. */
#define FORWARDS_MAX 16

const struct server_db_migration server_cluster_pg_migrations[] = {
	{ 15, "CREATE TABLE servers ("
	      "  name text PRIMARY KEY, agent_url text NOT NULL, admin_url text NOT NULL,"
	      "  version text NOT NULL, started_ms bigint NOT NULL, seen_ms bigint NOT NULL,"
	      "  agents bigint NOT NULL DEFAULT 0, leader boolean NOT NULL DEFAULT false,"
	      "  leader_since_ms bigint);"
	      /* host ids in blocks of 1024, after those SQLite or an older
	       * server gave */
	      "CREATE SEQUENCE host_ids INCREMENT BY 1024;"
	      "SELECT setval('host_ids', (SELECT coalesce(max(id), 0) + 1 FROM hosts), false);" },
	{ 0, NULL },
};

struct note {
	struct note *next;
	char channel[8];
	char *payload;
};

struct server_cluster {
	struct server_cluster_parts p;
	char name[128];
	struct server_sql *conn;
	pthread_t thread;
	int wake_fd;
	pthread_mutex_t lock;
	bool stopping;
	_Atomic bool leader;
	_Atomic uint64_t takeovers;
	uint64_t started_ms, leader_since_ms;
	uint64_t next_tick, next_refresh, next_connect; /* mono */
	uint64_t refreshes;
	struct note *outbox, **outbox_tail;
	size_t n_outbox;
	uint64_t dropped_notes;
	size_t n_forwards; /* lock */
	/* under lock: the servers as last read */
	struct server_cluster_peer peers[SERVER_CLUSTER_PEERS_MAX];
	size_t n_peers;
};

bool server_cluster_leads(const struct server_cluster *c)
{
	return !c || atomic_load(&c->leader);
}

uint64_t server_cluster_takeovers(const struct server_cluster *c)
{
	return c ? atomic_load(&c->takeovers) : 0;
}

size_t server_cluster_servers(struct server_cluster *c, struct server_cluster_peer *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n_peers < max ? c->n_peers : max;
	memcpy(out, c->peers, n * sizeof(*out));
	pthread_mutex_unlock(&c->lock);
	return n;
}

bool server_cluster_leader(struct server_cluster *c, char *name, size_t nlen, char *admin_url,
                           size_t ulen)
{
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_peers && !found; i++) {
		if (c->peers[i].leader && c->peers[i].alive) {
			snprintf(name, nlen, "%s", c->peers[i].name);
			snprintf(admin_url, ulen, "%s", c->peers[i].admin_url);
			found = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* ------------------------------------------------------ notifications */

static void post(struct server_cluster *c, const char *channel, char *payload)
{
	struct note *n = calloc(1, sizeof(*n));
	uint64_t one = 1;

	if (!n) {
		free(payload);
		return;
	}
	snprintf(n->channel, sizeof(n->channel), "%s", channel);
	n->payload = payload;
	pthread_mutex_lock(&c->lock);
	if (c->n_outbox >= OUTBOX_MAX) {
		uint64_t dropped = ++c->dropped_notes;

		pthread_mutex_unlock(&c->lock);
		free(payload);
		free(n);
		/* a command goes again at its resend time; an ack's step is
		 * resent by the leader until one arrives */
		if (dropped == 1 || dropped % 10000 == 0)
			log_warn("cluster: %" PRIu64 " notes for the other servers dropped: "
			         "PostgreSQL takes them slower than they come",
			         dropped);
		return;
	}
	*c->outbox_tail = n;
	c->outbox_tail = &n->next;
	c->n_outbox++;
	pthread_mutex_unlock(&c->lock);
	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		log_debug("cluster: wake: %s", strerror(errno));
}

void server_cluster_relay(void *arg, int64_t host_id, const struct server_command *cmd)
{
	struct server_cluster *c = arg;
	char *text;

	if (asprintf(&text, "%" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %d %d",
	             host_id, cmd->id, cmd->rollout_id, cmd->step_id, cmd->target, cmd->force,
	             cmd->rollback, cmd->sample_now) >= 0)
		post(c, "aio_cmd", text);
}

void server_cluster_ack(struct server_cluster *c, int64_t host_id,
                        const Aioctl__V1__AckRequest *ack)
{
	Aioctl__V1__AckRequest small;
	Aioctl__V1__Persisted before, after;
	size_t len;
	uint8_t *buf;
	char *text;
	int n;

	if (!c)
		return;
	/* NOTIFY carries 8000 bytes, hex twice the ack's: what the agent
	 * read of its sysctl files (paths of up to 4 KiB, only shown) goes
	 * when it does not fit; the values stay */
	if ((len = aioctl__v1__ack_request__get_packed_size(ack)) > 3900) {
		small = *ack;
		if (ack->persisted_before) {
			before = *ack->persisted_before;
			before.file = before.procps_file = NULL;
			before.n_settings = 0;
			small.persisted_before = &before;
		}
		if (ack->persisted_after) {
			after = *ack->persisted_after;
			after.file = after.procps_file = NULL;
			after.n_settings = 0;
			small.persisted_after = &after;
		}
		ack = &small;
		if ((len = aioctl__v1__ack_request__get_packed_size(ack)) > 3900) {
			log_warn("cluster: an ack of %zu bytes is too big to send to the other "
			         "servers; the leader sees it when the agent sends it again",
			         len);
			return;
		}
	}
	if (!(buf = malloc(len ? len : 1)))
		return;
	aioctl__v1__ack_request__pack(ack, buf);
	if (!(text = malloc(32 + 2 * len))) {
		free(buf);
		return;
	}
	n = snprintf(text, 32, "%" PRId64 " ", host_id);
	for (size_t i = 0; i < len; i++)
		n += snprintf(text + n, 3, "%02x", buf[i]);
	free(buf);
	post(c, "aio_ack", text);
}

/* The outbox in as few NOTIFYs as fit: one line a note, up to NOTIFY_BYTES
 * a payload, so a push to 10,000 hosts is some 80 round trips. */
#define NOTIFY_BYTES 7800

static void notify(struct server_cluster *c, struct server_sql_stmt *st, const char *channel,
                   const char *payload)
{
	server_sql_bind_text(st, 1, channel);
	server_sql_bind_text(st, 2, payload);
	if (server_sql_step(st) != SQLITE_ROW)
		log_warn("cluster: not sent to the other servers: %s", server_sql_errmsg(c->conn));
	server_sql_reset(st);
}

static void send_outbox(struct server_cluster *c)
{
	static const char *const channels[] = { "aio_cmd", "aio_ack" };
	struct server_sql_stmt *st = NULL;
	struct note *list, *next;
	char *buf = NULL;

	pthread_mutex_lock(&c->lock);
	list = c->outbox;
	c->outbox = NULL;
	c->outbox_tail = &c->outbox;
	c->n_outbox = 0;
	pthread_mutex_unlock(&c->lock);
	if (!list)
		return;
	if (!server_sql_broken(c->conn) &&
	    server_sql_prepare(c->conn, "SELECT pg_notify(?1, ?2)", false, &st) == SQLITE_OK &&
	    (buf = malloc(NOTIFY_BYTES + 1))) {
		for (size_t k = 0; k < 2; k++) {
			size_t n = 0;

			for (struct note *e = list; e; e = e->next) {
				size_t len = strlen(e->payload);

				if (strcmp(e->channel, channels[k]) || len >= NOTIFY_BYTES)
					continue;
				if (n && n + 1 + len > NOTIFY_BYTES) {
					buf[n] = '\0';
					notify(c, st, channels[k], buf);
					n = 0;
				}
				if (n)
					buf[n++] = '\n';
				memcpy(buf + n, e->payload, len);
				n += len;
			}
			if (n) {
				buf[n] = '\0';
				notify(c, st, channels[k], buf);
			}
		}
	}
	free(buf);
	server_sql_finalize(st);
	for (; list; list = next) {
		next = list->next;
		free(list->payload);
		free(list);
	}
}

/* Another server's command for a host: queued here too, delivered if this
 * server holds the host's Watch. */
static void take_cmd(struct server_cluster *c, const char *text)
{
	struct server_command cmd = { 0 };
	int64_t host;
	int force = 0, rollback = 0, sample_now = 0;

	if (sscanf(text, "%" SCNd64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %d %d %d",
	           &host, &cmd.id, &cmd.rollout_id, &cmd.step_id, &cmd.target, &force, &rollback,
	           &sample_now) != 8)
		return;
	cmd.force = force;
	cmd.rollback = rollback;
	cmd.sample_now = sample_now; /* another server's live query */
	server_push_take(c->p.push, host, &cmd, aio_now_ms());
}

/* Another server's ack: off this one's queue, and to the engine if this
 * one leads. */
static void take_ack(struct server_cluster *c, const char *text)
{
	const char *hex = strchr(text, ' ');
	Aioctl__V1__AckRequest *ack;
	size_t len, i;
	uint8_t *buf;
	int64_t host;

	if (!hex || sscanf(text, "%" SCNd64, &host) != 1)
		return;
	hex++;
	len = strlen(hex) / 2;
	if (!(buf = malloc(len ? len : 1)))
		return;
	for (i = 0; i < len; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			break;
		buf[i] = (uint8_t)v;
	}
	ack = i == len ? aioctl__v1__ack_request__unpack(NULL, len, buf) : NULL;
	free(buf);
	if (!ack)
		return;
	if (atomic_load(&c->leader))
		server_engine_ack(c->p.engine, host, ack); /* takes it off the queue too */
	else
		server_push_ack(c->p.push, host, ack);
	aioctl__v1__ack_request__free_unpacked(ack, NULL);
}

static void take_notes(struct server_cluster *c)
{
	PGconn *pg = server_sql_pg(c->conn);
	PGnotify *n;

	if (!PQconsumeInput(pg))
		return;
	while ((n = PQnotifies(pg))) {
		/* a session hears its own notifications too */
		if (n->be_pid != PQbackendPID(pg)) {
			char *save = NULL;

			/* a line a command or ack */
			for (char *line = strtok_r(n->extra, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				if (!strcmp(n->relname, "aio_cmd"))
					take_cmd(c, line);
				else if (!strcmp(n->relname, "aio_ack"))
					take_ack(c, line);
			}
		}
		PQfreemem(n);
	}
}

/* ---------------------------------------------------------- the lead */

static void lose_lead(struct server_cluster *c, const char *why)
{
	if (!atomic_load(&c->leader))
		return;
	atomic_store(&c->leader, false);
	server_rollout_lead_follow(c->p.engine);
	log_warn("cluster: %s no longer leads: %s", c->name, why);
}

/* The lock is free (the leader's session ended): this server leads, from
 * the rollouts as the last leader stored them. */
static void try_lead(struct server_cluster *c)
{
	struct server_sql_stmt *st;
	uint64_t t0 = aio_mono_ms();
	bool got = false;
	int r;

	if (server_sql_prepare(c->conn, "SELECT pg_try_advisory_lock(" LEADER_LOCK ")", false,
	                       &st) != SQLITE_OK)
		return;
	if (server_sql_step(st) == SQLITE_ROW)
		got = server_sql_column_int64(st, 0) != 0;
	server_sql_finalize(st);
	if (!got)
		return;
	if ((r = server_rollout_lead_take(c->p.engine, c->conn)) < 0) {
		log_warn("cluster: cannot take the stored rollouts: %s", strerror(-r));
		server_sql_exec(c->conn, "SELECT pg_advisory_unlock(" LEADER_LOCK ")");
		return;
	}
	c->leader_since_ms = aio_now_ms();
	atomic_store(&c->leader, true);
	atomic_fetch_add(&c->takeovers, 1);
	log_info("cluster: %s leads (rollouts taken over in %" PRIu64 " ms)", c->name,
	         aio_mono_ms() - t0);
}

/* --------------------------------------------------------- the others */

static void heartbeat(struct server_cluster *c)
{
	static const char sql[] =
	        "INSERT INTO servers (name, agent_url, admin_url, version, started_ms, seen_ms,"
	        " agents, leader, leader_since_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 <> 0, ?9)"
	        " ON CONFLICT (name) DO UPDATE SET agent_url = excluded.agent_url,"
	        " admin_url = excluded.admin_url, version = excluded.version,"
	        " started_ms = excluded.started_ms, seen_ms = excluded.seen_ms,"
	        " agents = excluded.agents, leader = excluded.leader,"
	        " leader_since_ms = excluded.leader_since_ms";
	struct server_sql_stmt *st;
	bool leader = atomic_load(&c->leader);

	if (server_sql_prepare(c->conn, sql, false, &st) != SQLITE_OK)
		return;
	server_sql_bind_text(st, 1, c->name);
	server_sql_bind_text(st, 2, c->p.conf->listen);
	server_sql_bind_text(st, 3, c->p.conf->admin_listen);
	server_sql_bind_text(st, 4, AIO_VERSION);
	server_sql_bind_int64(st, 5, (int64_t)c->started_ms);
	server_sql_bind_int64(st, 6, (int64_t)aio_now_ms());
	server_sql_bind_int64(st, 7, (int64_t)server_push_watches(c->p.push));
	server_sql_bind_int64(st, 8, leader);
	if (leader)
		server_sql_bind_int64(st, 9, (int64_t)c->leader_since_ms);
	if (server_sql_step(st) != SQLITE_DONE)
		log_debug("cluster: heartbeat: %s", server_sql_errmsg(c->conn));
	server_sql_finalize(st);
	/* one leader in the table: the one holding the lock says so */
	if (leader)
		server_sql_exec(c->conn, "UPDATE servers SET leader = false WHERE leader AND"
		                         " name <> current_setting('aio.server')");
}

static void read_servers(struct server_cluster *c)
{
	struct server_cluster_peer peers[SERVER_CLUSTER_PEERS_MAX];
	struct server_sql_stmt *st;
	uint64_t now = aio_now_ms();
	size_t n = 0;

	if (server_sql_prepare(c->conn,
	                       "SELECT name, agent_url, admin_url, version, started_ms, seen_ms,"
	                       " agents, leader, coalesce(leader_since_ms, 0) FROM servers"
	                       " ORDER BY name",
	                       false, &st) != SQLITE_OK)
		return;
	while (n < SERVER_CLUSTER_PEERS_MAX && server_sql_step(st) == SQLITE_ROW) {
		struct server_cluster_peer *p = &peers[n++];

		snprintf(p->name, sizeof(p->name), "%s", server_sql_column_text(st, 0));
		snprintf(p->agent_url, sizeof(p->agent_url), "%s", server_sql_column_text(st, 1));
		snprintf(p->admin_url, sizeof(p->admin_url), "%s", server_sql_column_text(st, 2));
		snprintf(p->version, sizeof(p->version), "%s", server_sql_column_text(st, 3));
		p->started_ms = (uint64_t)server_sql_column_int64(st, 4);
		p->seen_ms = (uint64_t)server_sql_column_int64(st, 5);
		p->agents = (uint64_t)server_sql_column_int64(st, 6);
		p->leader = server_sql_column_int64(st, 7) != 0;
		p->leader_since_ms = (uint64_t)server_sql_column_int64(st, 8);
		p->alive = p->seen_ms + ALIVE_MS >= now;
		p->self = !strcmp(p->name, c->name);
	}
	server_sql_finalize(st);
	pthread_mutex_lock(&c->lock);
	memcpy(c->peers, peers, n * sizeof(*peers));
	c->n_peers = n;
	pthread_mutex_unlock(&c->lock);
}

static void take_ids(struct server_cluster *c)
{
	struct server_sql_stmt *st;

	/* one block in use and a spare */
	if (server_hosts_ids_left(c->p.hosts) >= ID_BLOCK)
		return;
	if (server_sql_prepare(c->conn, "SELECT nextval('host_ids')", false, &st) != SQLITE_OK)
		return;
	if (server_sql_step(st) == SQLITE_ROW)
		server_hosts_id_block(c->p.hosts, server_sql_column_int64(st, 0), ID_BLOCK);
	server_sql_finalize(st);
}

struct peer_host {
	const struct server_store_host_row *row;
	uint64_t mono;
	bool detail_due;
};

static bool local(const struct server_host *h, uint64_t mono)
{
	return h->served_ms && mono - h->served_ms < LOCAL_MS;
}

static int take_peer(struct server_host *h, void *arg)
{
	struct peer_host *ph = arg;
	const struct server_store_host_row *r = ph->row;

	if (local(h, ph->mono))
		return 0; /* it calls here: this server's view is the newest */
	server_hosts_set_string(&h->kernel, r->kernel);
	server_hosts_set_string(&h->agent_version, r->agent_version);
	server_hosts_set_string(&h->sysctl_file, r->sysctl_file);
	h->interval_ms = r->interval_ms;
	h->counting = r->counting;
	h->first_seen_ms = r->first_seen_ms;
	h->last_seen_ms = r->last_seen_ms > h->last_seen_ms ? r->last_seen_ms : h->last_seen_ms;
	h->limit_min = r->limit_min;
	h->limit_max = r->limit_max;
	h->limit_margin = r->limit_margin;
	h->boot_time_ms = r->boot_time_ms;
	h->has_desired = r->has_desired;
	h->desired = r->desired;
	h->desired_rollout = r->desired_rollout;
	h->desired_ms = r->desired_ms;
	snprintf(h->secret_hash, sizeof(h->secret_hash), "%s",
	         r->secret_hash ? r->secret_hash : "");
	h->revoked_ms = r->revoked_ms;
	if (r->has_report) {
		h->last_seq = r->last_seq > h->last_seq ? r->last_seq : h->last_seq;
		if (!h->has_sample || r->sample.time_ms > h->sample.time_ms) {
			h->has_sample = true;
			h->sample = r->sample;
		}
		/* seen when it last reported, as after a restart */
		if (r->sample.time_ms > h->last_seen_ms)
			h->last_seen_ms = r->sample.time_ms;
	}
	ph->detail_due = r->detail_len != h->peer_detail_len;
	h->peer_detail_len = r->detail_len;
	return 0;
}

struct refresh {
	struct server_cluster *c;
	uint64_t mono;
	int64_t *details; /* hosts whose scans changed */
	size_t n_details, cap;
	int64_t label_host;
	bool label_skip;
};

static void peer_row(const struct server_store_host_row *row, void *arg)
{
	struct refresh *rf = arg;
	struct peer_host ph = { row, rf->mono, false };

	if (row->removed_ms) {
		server_hosts_remove(rf->c->p.hosts, row->id); /* removed through another server */
		return;
	}
	if (server_hosts_update_peer(rf->c->p.hosts, row->id, row->name, take_peer, &ph) != 0 ||
	    !ph.detail_due)
		return;
	if (rf->n_details == rf->cap) {
		size_t cap = rf->cap ? 2 * rf->cap : 64;
		int64_t *d = realloc(rf->details, cap * sizeof(*d));

		if (!d)
			return; /* read again next time */
		rf->details = d;
		rf->cap = cap;
	}
	rf->details[rf->n_details++] = row->id;
}

static int take_detail(struct server_host *h, void *arg)
{
	server_host_set_detail(h, arg);
	return 0;
}

static int clear_labels(struct server_host *h, void *arg)
{
	struct refresh *rf = arg;

	if (local(h, rf->mono))
		return -EEXIST;
	return server_hosts_set_labels(h, NULL, 0);
}

struct label {
	const char *key, *value;
};

static int add_label(struct server_host *h, void *arg)
{
	const struct label *l = arg;

	return server_hosts_add_label(h, l->key, l->value);
}

static void peer_label(int64_t id, const char *key, const char *value, void *arg)
{
	struct refresh *rf = arg;
	struct label l = { key, value };

	if (id != rf->label_host) {
		rf->label_host = id;
		rf->label_skip = server_hosts_update_id(rf->c->p.hosts, id, clear_labels, rf) != 0;
	}
	if (!rf->label_skip && key && value)
		server_hosts_update_id(rf->c->p.hosts, id, add_label, &l);
}

/* What the other servers stored of the hosts they serve, into this
 * server's registry: a host enrolled there, its secret, its latest values,
 * labels and scans; a host removed there goes. */
static void refresh_hosts(struct server_cluster *c)
{
	struct refresh rf = { .c = c, .mono = aio_mono_ms() };

	if (server_store_hosts_read(c->conn, peer_row, &rf) < 0)
		return;
	for (size_t i = 0; i < rf.n_details; i++) {
		Aioctl__V1__HostDetail *d = NULL;

		if (server_store_hosts_read_detail(c->conn, rf.details[i], &d) == 0 && d &&
		    server_hosts_update_id(c->p.hosts, rf.details[i], take_detail, d) != 0)
			aioctl__v1__host_detail__free_unpacked(d, NULL);
	}
	free(rf.details);
	/* labels change when an agent restarts with others: every tenth time */
	if (c->refreshes++ % 10 == 0)
		server_store_hosts_read_labels(c->conn, peer_label, &rf);
}

/* ------------------------------------------------ calls for the leader */

struct forward {
	struct server_cluster *c;
	void *data; /* the call, answered through closure */
	ProtobufCClosure closure;
	ProtobufCMessage *in; /* taken from the call */
	char method[64];
	char *token;
	char url[256];
	uint64_t timeout_ms;
};

static void *forward_thread(void *arg)
{
	struct forward *f = arg;
	const struct server_config *conf = f->c->p.conf;
	struct aio_rpc_client_opts o = { 0 };
	struct aio_rpc_client *rpc = NULL;
	ProtobufCMessage *out = NULL;
	struct aio_rpc_status st = { 0 };
	char err[512];
	int code;

	o.url = f->url;
	o.wait_connect = true;
	o.connect_timeout_ms = f->timeout_ms;
	o.admin_token = f->token;
	o.tls = (struct aio_tls_opts){ conf->admin_tls_ca ? conf->admin_tls_ca : conf->tls_ca,
		                       conf->tls_cert, conf->tls_key, NULL, false };
	if (aio_rpc_client_open(&o, &rpc, err, sizeof(err)) < 0) {
		aio_rpc_call_fail(f->data, AIO_UNAVAILABLE, "the leader: %s", err);
		f->closure(NULL, f->data);
	} else {
		code = aio_rpc_invoke(rpc, &aioctl__v1__admin__descriptor, f->method, f->in,
		                      f->timeout_ms, true, &out, &st);
		if (code == AIO_OK) {
			f->closure(out, f->data);
			protobuf_c_message_free_unpacked(out, NULL);
		} else {
			aio_rpc_call_fail(f->data, code, "%s", st.message);
			f->closure(NULL, f->data);
		}
	}
	aio_rpc_client_free(rpc);
	protobuf_c_message_free_unpacked(f->in, NULL);
	free(f->token);
	pthread_mutex_lock(&f->c->lock);
	f->c->n_forwards--;
	pthread_mutex_unlock(&f->c->lock);
	free(f);
	return NULL;
}

bool server_cluster_forward(struct server_cluster *c, void *data, ProtobufCClosure closure)
{
	const Aioctl__V1__Credentials *creds = aio_rpc_call_creds(data);
	uint64_t deadline = aio_rpc_call_deadline(data), now = aio_now_ms();
	struct forward *f;
	char leader[128];
	pthread_t t;
	bool busy;

	if (server_cluster_leads(c))
		return false;
	if (!(f = calloc(1, sizeof(*f)))) {
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		return true;
	}
	if (!server_cluster_leader(c, leader, sizeof(leader), f->url, sizeof(f->url))) {
		free(f);
		AIO_RPC_REFUSE(data, closure, AIO_UNAVAILABLE,
		               "no server leads right now (one takes over within seconds): retry");
		return true;
	}
	f->c = c;
	f->data = data;
	f->closure = closure;
	f->timeout_ms = deadline > now + 100 ? deadline - now - 100 : 30000;
	/* "aioctl.v1.Admin/SetLimit": the method's own name */
	snprintf(f->method, sizeof(f->method), "%s",
	         strrchr(aio_rpc_call_method(data), '/')
	                 ? strrchr(aio_rpc_call_method(data), '/') + 1
	                 : aio_rpc_call_method(data));
	f->token = creds->admin_token ? strdup(creds->admin_token) : NULL;
	pthread_mutex_lock(&c->lock);
	busy = c->n_forwards >= FORWARDS_MAX;
	if (!busy)
		c->n_forwards++;
	pthread_mutex_unlock(&c->lock);
	if (busy || !(f->in = aio_rpc_call_take_input(data))) {
		if (!busy) {
			pthread_mutex_lock(&c->lock);
			c->n_forwards--;
			pthread_mutex_unlock(&c->lock);
		}
		free(f->token);
		free(f);
		AIO_RPC_REFUSE(data, closure, AIO_UNAVAILABLE,
		               "too many calls for the leader: retry");
		return true;
	}
	if (pthread_create(&t, NULL, forward_thread, f) != 0) {
		pthread_mutex_lock(&c->lock);
		c->n_forwards--;
		pthread_mutex_unlock(&c->lock);
		protobuf_c_message_free_unpacked(f->in, NULL);
		free(f->token);
		free(f);
		AIO_RPC_REFUSE(data, closure, AIO_UNAVAILABLE, "server busy: retry");
		return true;
	}
	pthread_detach(t);
	return true;
}

/* ---------------------------------------------------------- the thread */

/* The session's setup: its server's name (for the SQL that needs it) and
 * the channels it hears. */
static int session_init(struct server_cluster *c)
{
	struct server_sql_stmt *st;
	int rc;

	if (server_sql_prepare(c->conn, "SELECT set_config('aio.server', ?1, false)", false, &st) !=
	    SQLITE_OK)
		return -EIO;
	server_sql_bind_text(st, 1, c->name);
	rc = server_sql_step(st);
	server_sql_finalize(st);
	if (rc != SQLITE_ROW ||
	    server_sql_exec(c->conn, "LISTEN aio_cmd; LISTEN aio_ack") != SQLITE_OK)
		return -EIO;
	return 0;
}

static void tick(struct server_cluster *c)
{
	uint64_t now = aio_mono_ms();

	if (server_sql_broken(c->conn)) {
		lose_lead(c, "PostgreSQL connection lost");
		if (now < c->next_connect)
			return;
		c->next_connect = now + 1000;
		if (server_sql_reconnect(c->conn) < 0 || session_init(c) < 0)
			return;
		log_info("cluster: connected to PostgreSQL again");
	}
	take_ids(c);
	if (now >= c->next_refresh) {
		refresh_hosts(c);
		server_creds_refresh(c->p.creds, c->conn);
		c->next_refresh = now + 1000;
	}
	if (!atomic_load(&c->leader))
		try_lead(c);
	heartbeat(c);
	read_servers(c);
	if (server_sql_broken(c->conn))
		lose_lead(c, "PostgreSQL connection lost");
}

static void *cluster_thread(void *arg)
{
	struct server_cluster *c = arg;

	for (;;) {
		PGconn *pg = server_sql_pg(c->conn);
		struct pollfd fds[2] = { { c->wake_fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
		uint64_t now = aio_mono_ms(), buf;
		bool stop;

		pthread_mutex_lock(&c->lock);
		stop = c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		if (!server_sql_broken(c->conn))
			fds[1].fd = PQsocket(pg);
		poll(fds, 2, now < c->next_tick ? (int)(c->next_tick - now) : 0);
		if (fds[0].revents & POLLIN && read(c->wake_fd, &buf, sizeof(buf)) < 0)
			log_debug("cluster: wake: %s", strerror(errno));
		if (!server_sql_broken(c->conn)) {
			take_notes(c);
			send_outbox(c);
		}
		if (aio_mono_ms() >= c->next_tick) {
			tick(c);
			c->next_tick = aio_mono_ms() + TICK_MS;
		}
	}
	return NULL;
}

int server_cluster_start(const struct server_cluster_parts *parts, const char *name,
                         struct server_cluster **ret)
{
	struct server_cluster *c = calloc(1, sizeof(*c));
	char err[512];
	int r;

	if (!c)
		return -ENOMEM;
	c->p = *parts;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->started_ms = aio_now_ms();
	c->outbox_tail = &c->outbox;
	pthread_mutex_init(&c->lock, NULL);
	if ((c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = server_sql_open_postgresql(server_db_path(c->p.db), &c->conn, err, sizeof(err))) <
	    0) {
		log_err("cluster: %s", err);
		goto fail;
	}
	if ((r = session_init(c)) < 0) {
		log_err("cluster: %s", server_sql_errmsg(c->conn));
		goto fail;
	}
	/* followers run no rollout until they take the lead */
	server_rollout_lead_follow(c->p.engine);
	c->p.push->relay = server_cluster_relay;
	c->p.push->relay_arg = c;
	/* the first ids and the others' hosts before any agent calls */
	tick(c);
	c->next_tick = aio_mono_ms() + TICK_MS;
	if (pthread_create(&c->thread, NULL, cluster_thread, c) != 0) {
		r = -EAGAIN;
		goto fail;
	}
	log_info("cluster: %s on %s with %zu other servers", c->name, "PostgreSQL",
	         c->n_peers ? c->n_peers - 1 : 0);
	*ret = c;
	return 0;

fail:
	server_sql_close(c->conn);
	if (c->wake_fd > 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return r;
}

void server_cluster_stop(struct server_cluster *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_mutex_unlock(&c->lock);
	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		log_debug("cluster: wake: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	c->p.push->relay = NULL;
	/* the lock goes with the session: another server leads now */
	if (atomic_load(&c->leader))
		server_sql_exec(c->conn, "UPDATE servers SET leader = false WHERE"
		                         " name = current_setting('aio.server')");
	server_sql_close(c->conn);
	close(c->wake_fd);
	while (c->outbox) {
		struct note *n = c->outbox;

		c->outbox = n->next;
		free(n->payload);
		free(n);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}
