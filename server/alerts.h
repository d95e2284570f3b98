/* Alerts evaluated on the server: utilisation, AIO error rate, drift,
 * silent hosts, stalled rollouts. Each has a start and, once its
 * condition ends, a clear; both are logged and stored. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "bounds.h"
#include "periodic.h"

struct server;

enum server_alert_kind {
	ALERT_UTILIZATION,
	ALERT_ERRORS,
	ALERT_DRIFT,
	ALERT_SILENT,
	ALERT_ROLLOUT_STALLED,
	ALERT_ROOM,
	ALERT_KINDS,
};

extern const char *const server_alert_kind_name[ALERT_KINDS];

struct server_alert {
	enum server_alert_kind kind;
	char subject[AIO_HOST_NAME_MAX + 1]; /* a host, or "rollout N" */
	uint64_t started_ms, cleared_ms;     /* cleared_ms 0: active */
	double value, threshold;             /* value: when it started */
	char message[320];
};

/* cleared alerts kept in memory for aioctl alerts */
#define SERVER_ALERTS_RECENT 1000

struct server_alerts {
	struct aio_periodic thread; /* evaluates every alert-interval */
	pthread_mutex_t lock;       /* the lists below */
	bool inited;
	uint64_t start_ms; /* silence counts only after this much uptime */
	struct server_alert *active;
	size_t n_active, cap_active;
	struct server_alert *recent; /* a ring of SERVER_ALERTS_RECENT */
	size_t n_recent, recent_head;
	uint64_t evaluations;
};

int server_alerts_init(struct server *s);
/* Active and recent alerts from the database, before it is started. */
int server_alerts_load(struct server *s, sqlite3 *conn);
int server_alerts_start(struct server *s);
void server_alerts_stop(struct server *s);
void server_alerts_done(struct server *s);
/* One evaluation (the thread runs one per alert-interval). */
void server_alerts_evaluate(struct server *s, uint64_t now_ms);
size_t server_alerts_active_count(struct server *s, enum server_alert_kind kind);
/* The Alerts call: active ones, then those cleared since since_ms. */
void server_alerts_answer(struct server *s, const Aioctl__V1__AlertsRequest *in,
                          Aioctl__V1__AlertsReply_Closure closure, void *data);
