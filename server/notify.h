/* The server's alerts delivered where people are, with libcurl: to
 * Alertmanagers (v2 API) on every start and clear and again every
 * alertmanager-resend while any is active; to JSON webhooks (chat tools)
 * once per start and clear, signed with HMAC-SHA256 if a secret is set.
 * Both retry with back-off while a sink is down and lose nothing, across
 * a server restart too. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "periodic.h"

struct server_alerts;
struct server_config;
struct server_hosts;

enum server_notify_kind { NOTIFY_ALERTMANAGER, NOTIFY_WEBHOOK };

struct server_notify_sink {
	enum server_notify_kind kind;
	const char *url;       /* the config's */
	uint64_t delivered_ms; /* the last push it took; 0: none yet */
	uint64_t generation;   /* the alerts' generation that push carried */
	uint64_t next_ms;      /* the next push at the latest */
	uint64_t backoff_ms;
	unsigned failures; /* in a row */
};

struct server_notify {
	struct aio_periodic thread;
	const struct server_config *conf;
	struct server_alerts *alerts;
	struct server_hosts *hosts;
	struct server_notify_sink *sinks; /* the thread's */
	size_t n_sinks;
	bool curl_inited;
	char *secret; /* alert-webhook-secret-file's, or NULL */
	size_t secret_len;
	atomic_uint_fast64_t pushed_total[2], failed_total[2]; /* by kind */
};

/* Starts pushing if alertmanager-url names any: 0, -EINVAL (a bad URL),
 * -ENOMEM, -EAGAIN. */
int server_notify_start(struct server_notify *am, const struct server_config *conf,
                        struct server_alerts *alerts, struct server_hosts *hosts);
void server_notify_stop(struct server_notify *am);
