/* /metrics in the Prometheus text format, served by nng's HTTP server:
 * per-host values from memory, fleet totals, and the server's own
 * internals. Loopback by default (http-listen). */
#pragma once

struct server;

int server_metrics_start(struct server *s, const char *url);
void server_metrics_stop(struct server *s);
