/* The server's alerts pushed to one or more Alertmanagers (v2 API, with
 * libcurl): on every start and clear, again every alertmanager-resend
 * while any is active, with back-off while one is down. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "periodic.h"

struct server_alerts;
struct server_config;
struct server_hosts;

struct server_am_sink {
	const char *url;       /* the config's */
	uint64_t delivered_ms; /* the last push it took; 0: none yet */
	uint64_t generation;   /* the alerts' generation that push carried */
	uint64_t next_ms;      /* the next push at the latest */
	uint64_t backoff_ms;
	unsigned failures; /* in a row */
};

struct server_alertmanager {
	struct aio_periodic thread;
	const struct server_config *conf;
	struct server_alerts *alerts;
	struct server_hosts *hosts;
	struct server_am_sink *sinks; /* the thread's */
	size_t n_sinks;
	bool curl_inited;
	atomic_uint_fast64_t pushed_total, failed_total;
};

/* Starts pushing if alertmanager-url names any: 0, -EINVAL (a bad URL),
 * -ENOMEM, -EAGAIN. */
int server_alertmanager_start(struct server_alertmanager *am, const struct server_config *conf,
                              struct server_alerts *alerts, struct server_hosts *hosts);
void server_alertmanager_stop(struct server_alertmanager *am);
