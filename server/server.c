#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"
#include "fileio.h"
#include "log.h"
#include "secret.h"
#include "store.h"

/* Queries waiting for the query thread before callers are told to retry. */
#define QUERY_QUEUE_MAX 256

int server_token_load(const char *state_dir, char *buf, size_t len, char *err, size_t errlen)
{
	char path[4096], *text = NULL;
	struct stat sb;
	int fd, r;

	snprintf(path, sizeof(path), "%s/admin.token", state_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char line[SERVER_TOKEN_BYTES * 2 + 2];
		size_t n;

		r = aio_secret_hex(line, sizeof(line), SERVER_TOKEN_BYTES);
		n = strlen(line);
		line[n++] = '\n';
		if (r < 0 || write(fd, line, n) != (ssize_t)n || fsync(fd) < 0) {
			r = r < 0 ? r : -errno;
			close(fd);
			unlink(path);
			snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-r));
			return r;
		}
		close(fd);
		log_info("created admin token %s (mode 0600)", path);
	} else if (errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (stat(path, &sb) == 0 && (sb.st_mode & 077))
		log_warn("%s is readable by others (mode %03o); chmod 600 it", path,
		         (unsigned)(sb.st_mode & 0777));
	r = aio_file_read_all(path, 1024, &text, NULL);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	text[strcspn(text, "\r\n")] = '\0';
	if (strlen(text) < 16 || strlen(text) >= len) {
		snprintf(err, errlen, "%s: not a token (16 to %zu characters)", path, len - 1);
		free(text);
		return -EINVAL;
	}
	snprintf(buf, len, "%s", text);
	free(text);
	return 0;
}

/* Plain tcp:// is for loopback (labs, tests); anything else needs TLS or an
 * explicit --insecure. */
static bool url_is_loopback(const char *url)
{
	static const char *const ok[] = { "tcp://127.",
		                          "tcp://localhost:", "tcp://[::1]:", "tcp4://127.",
		                          "tcp6://[::1]:" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strncmp(url, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

static int check_plain(const struct server_config *c, const char *what, const char *url)
{
	if (strncmp(url, "tls+", 4) == 0 || url_is_loopback(url))
		return 0;
	if (!c->insecure) {
		log_err("--%s %s: plain TCP off loopback lets anyone on the network reach the "
		        "kernel limits; use tls+tcp:// with --tls-cert/--tls-key/--tls-ca, or "
		        "--insecure",
		        what, url);
		return -EPERM;
	}
	log_warn("INSECURE: --%s %s accepts unauthenticated plain TCP from the network", what, url);
	return 0;
}

/* The agents' cap, within the descriptors the process may open: the
 * admin listener, the database and the rest keep room. */
static size_t agent_connections(const struct server_config *c)
{
	uint64_t room = c->max_connections;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		room = rl.rlim_cur > c->max_admin_connections + 256
		               ? rl.rlim_cur - c->max_admin_connections - 256
		               : 1;
	if (!c->max_connections || c->max_connections <= room)
		return (size_t)(c->max_connections ? c->max_connections : room);
	log_warn("max-connections %" PRIu64 " is past what %" PRIu64 " descriptors allow beside "
	         "the admin listener: %" PRIu64 " (raise LimitNOFILE)",
	         c->max_connections, (uint64_t)rl.rlim_cur, room);
	return (size_t)room;
}

static int listen_one(struct server *s, const char *what, const char *who, const char *url,
                      const char *ca, size_t max_connections, ProtobufCService *svc,
                      aio_rpc_auth_fn auth, struct aio_rpc_server **ret)
{
	struct aio_rpc_server_opts o = {
		.url = url,
		.service = svc,
		.authorize = auth,
		.arg = s,
		.recv_max = s->conf.max_message_size,
		.pool = (unsigned)s->conf.rpc_pool,
		.tls = { ca, s->conf.tls_cert, s->conf.tls_key, NULL, false },
		.name = who,
		.max_connections = max_connections,
		.idle_ms = s->conf.idle_timeout_ms,
	};
	char err[512];
	int r;

	if ((r = check_plain(&s->conf, what, url)) < 0)
		return r;
	r = aio_rpc_server_start(&o, ret, err, sizeof(err));
	if (r < 0) {
		log_err("--%s: %s", what, err);
		return r;
	}
	log_info("listening for %s on %s", who, url);
	return 0;
}

/* A state dir with an admin token held a server: a missing or empty
 * database there is a lost one (a disk swapped, a file removed), and
 * starting anyway would begin an empty fleet, every token and host gone. */
static int check_lost_db(const struct server_config *c, const char *db_path, const char *shown)
{
	char token[4200], err[512];
	int r;

	snprintf(token, sizeof(token), "%s/admin.token", c->state_dir);
	if (c->initialize || access(token, F_OK) != 0)
		return 0;
	if ((r = server_db_exists(db_path, err, sizeof(err))) < 0) {
		log_err("database %s: %s", shown, err);
		return r;
	}
	if (r)
		return 0;
	log_err("database %s is %s, but %s says a server ran here: restore the database "
	        "from a backup, or start with --initialize for an empty fleet (every host "
	        "then enrolls again)",
	        shown,
	        server_sql_is_postgresql(db_path) ? "empty"
	        : access(db_path, F_OK)           ? "missing"
	                                          : "empty",
	        token);
	return -ENOENT;
}

/* The web listener: its own URL, or http-listen's when that is loopback
 * (plain HTTP elsewhere would carry tokens in the clear). */
static int web_start(struct server *s)
{
	const char *url = s->conf.web_listen ? s->conf.web_listen : s->conf.http_listen;

	if (!url || !*url)
		return 0;
	if (!server_web_url_safe(url)) {
		if (!s->conf.web_listen) {
			log_warn("no web console on http-listen %s: plain HTTP off loopback; "
			         "set web-listen to an https:// URL",
			         url);
			return 0;
		}
		if (!s->conf.insecure) {
			log_err("--web-listen %s: plain HTTP off loopback carries admin tokens in "
			        "the clear; use https:// with --tls-cert/--tls-key, or --insecure",
			        url);
			return -EPERM;
		}
		log_warn("INSECURE: --web-listen %s takes admin tokens over plain HTTP", url);
	}
	s->web.admin = s->admin_rpc;
	s->web.creds = &s->creds;
	s->web.conf = &s->conf;
	return server_web_start(&s->web, url);
}

/* server-name, or this machine's name and the agents' port: unique
 * among the servers on one database. */
static const char *server_name(const struct server *s, char *buf, size_t len)
{
	char host[200] = "aio-server";
	const char *port = strrchr(s->conf.listen, ':');

	if (s->conf.server_name && *s->conf.server_name)
		return s->conf.server_name;
	gethostname(host, sizeof(host) - 1);
	snprintf(buf, len, "%s:%s", host, port ? port + 1 : "0");
	return buf;
}

int server_start(struct server *s)
{
	char path[4096], shown[4096], err[512], name[256];
	const char *admin_ca;
	int r;

	server_agent_set_replay_max(s->conf.replay_max_ms);
	if ((r = aio_mkdir_p(s->conf.state_dir, 0700)) < 0) {
		log_err_errno(r, "state dir %s", s->conf.state_dir);
		return r;
	}
	if (s->conf.db)
		snprintf(path, sizeof(path), "%s", s->conf.db);
	else
		snprintf(path, sizeof(path), "%s/server.db", s->conf.state_dir);
	server_sql_display(path, shown, sizeof(shown));
	if ((r = check_lost_db(&s->conf, path, shown)) < 0)
		return r;
	if ((r = server_token_load(s->conf.state_dir, s->admin_token, sizeof(s->admin_token), err,
	                           sizeof(err))) < 0) {
		log_err("%s", err);
		return r;
	}
	if ((r = server_hosts_init(&s->hosts)) < 0)
		return r;
	if ((r = server_store_open(path, &s->db, err, sizeof(err))) < 0) {
		log_err("database %s", err);
		return r;
	}
	if ((r = server_store_load_hosts(s->db, &s->hosts)) < 0) {
		log_err_errno(r, "database %s: cannot load hosts", shown);
		return r;
	}
	log_info("database %s: %zu hosts", shown, s->hosts.n);
	if ((r = server_creds_load(&s->creds, s->db, s->admin_token)) < 0) {
		log_err_errno(r, "database %s: cannot load credentials", shown);
		return r;
	}
	server_push_init(&s->push, &s->hosts);
	if ((r = server_engine_init(&s->engine, &s->hosts, &s->push, s->db)) < 0) {
		log_err_errno(r, "database %s: cannot load rollouts", shown);
		return r;
	}
	if ((r = server_alerts_init(&s->alerts, &s->conf, &s->hosts, &s->engine, s->db)) < 0 ||
	    (r = server_alerts_load(&s->alerts)) < 0) {
		log_err_errno(r, "database %s: cannot load alerts", shown);
		return r;
	}
	if ((r = server_db_start(s->db, s->conf.db_queue_max, s->conf.db_batch_max,
	                         s->conf.db_batch_wait_ms * 1000)) < 0)
		return r;
	server_db_set_keepalive(s->db, s->conf.raw_keepalive_ms);
	/* on PostgreSQL, one of maybe several servers: the rollouts wait for
	 * the lead */
	if (server_sql_is_postgresql(path)) {
		struct server_cluster_parts parts = { &s->conf, s->db,      &s->hosts,
			                              &s->push, &s->engine, &s->creds };

		if ((r = server_cluster_start(&parts, server_name(s, name, sizeof(name)),
		                              &s->cluster)) < 0)
			return r;
	}
	if ((r = server_engine_start(&s->engine)) < 0)
		return r;
	s->retention.engine = &s->engine;
	if ((r = server_retention_start(&s->retention, &s->conf, s->db)) < 0)
		return r;
	if ((r = server_alerts_start(&s->alerts)) < 0 ||
	    (r = server_notify_start(&s->notify, &s->conf, &s->alerts, &s->hosts)) < 0)
		return r;
	if ((r = server_query_open(path, QUERY_QUEUE_MAX, &s->query, err, sizeof(err))) < 0) {
		log_err("database %s", err);
		return r;
	}
	if ((r = listen_one(s, "listen", "agents", s->conf.listen, s->conf.tls_ca,
	                    agent_connections(&s->conf), &server_agent_service.base,
	                    server_agent_authorize, &s->agent_rpc)) < 0)
		return r;
	/* nng 1.5 cannot tell which certificate a peer showed, so a host's
	 * certificate cannot be bound to its name: the listeners trust
	 * different CAs instead (and a host proves its name by its secret) */
	admin_ca = s->conf.admin_tls_ca ? s->conf.admin_tls_ca : s->conf.tls_ca;
	if (!strncmp(s->conf.listen, "tls+", 4) && !strncmp(s->conf.admin_listen, "tls+", 4) &&
	    s->conf.tls_ca && admin_ca && !strcmp(admin_ca, s->conf.tls_ca))
		log_warn("the admin listener trusts the agents' CA (%s): an agent's certificate "
		         "passes TLS there, leaving only the admin token; set admin-tls-ca to a CA "
		         "of aioctl's own (deploy/make-certs.sh makes one)",
		         s->conf.tls_ca);
	if ((r = listen_one(s, "admin-listen", "aioctl", s->conf.admin_listen, admin_ca,
	                    s->conf.max_admin_connections, &server_admin_service.base,
	                    server_admin_authorize, &s->admin_rpc)) < 0)
		return r;
	s->metrics = (struct server_metrics){
		.hosts = &s->hosts,
		.push = &s->push,
		.engine = &s->engine,
		.db = s->db,
		.alerts = &s->alerts,
		.notify = &s->notify,
		.retention = &s->retention,
		.cluster = s->cluster,
		.reports_total = &s->reports_total,
		.report_batches_total = &s->report_batches_total,
		.fields_cleaned_total = &s->fields_cleaned_total,
		.guard_total = s->guard_total,
		.agent_pipes = aio_rpc_server_pipes(s->agent_rpc),
		.admin_pipes = aio_rpc_server_pipes(s->admin_rpc),
	};
	if ((r = web_start(s)) < 0)
		return r;
	if (s->conf.http_listen && *s->conf.http_listen &&
	    (r = server_metrics_start(&s->metrics, s->conf.http_listen)) < 0)
		return r;
	return 0;
}

void server_stop(struct server *s)
{
	/* stop taking requests, finish the writes (their replies fail), free */
	aio_rpc_server_close(s->agent_rpc);
	aio_rpc_server_close(s->admin_rpc);
	server_metrics_stop(&s->metrics);
	server_notify_stop(&s->notify);
	server_alerts_stop(&s->alerts);
	server_push_stop(&s->push);      /* answers held Watches and live queries */
	server_cluster_stop(s->cluster); /* gives up the lead */
	s->cluster = NULL;
	server_web_stop(&s->web); /* after push: its live answers go out */
	server_engine_stop(&s->engine);
	server_retention_stop(&s->retention);
	server_query_close(s->query);
	s->query = NULL;
	server_db_close(s->db);
	s->db = NULL;
	aio_rpc_server_free(s->agent_rpc);
	aio_rpc_server_free(s->admin_rpc);
	server_engine_done(&s->engine);
	server_push_done(&s->push);
	server_alerts_done(&s->alerts);
	server_creds_done(&s->creds);
	server_hosts_done(&s->hosts);
}
