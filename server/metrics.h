/* /metrics in the Prometheus text format, served by nng's HTTP server:
 * per-host values from memory, fleet totals, and the server's own
 * internals. Loopback by default (http-listen). */
#pragma once

#include <stdatomic.h>

struct nng_http_server;

/* What /metrics reads: the server's parts, borrowed. */
struct server_metrics {
	struct server_hosts *hosts;
	struct server_push *push;
	struct server_engine *engine;
	struct server_db *db;
	struct server_alerts *alerts;
	struct server_notify *notify;
	struct server_retention *retention;
	struct server_cluster *cluster; /* several servers on PostgreSQL, or NULL */
	atomic_uint_fast64_t *reports_total;
	atomic_uint_fast64_t *report_batches_total;
	atomic_uint_fast64_t *fields_cleaned_total;
	atomic_uint_fast64_t *guard_total; /* [3]: raised, refused, warned */
	struct aio_pipes *agent_pipes, *admin_pipes;
	struct nng_http_server *http; /* set by start */
};

int server_metrics_start(struct server_metrics *m, const char *url);
void server_metrics_stop(struct server_metrics *m);
