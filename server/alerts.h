/* Alerts evaluated on the server: utilisation, AIO error rate, drift,
 * silent hosts, stalled rollouts. Each has a start and, once its
 * condition ends, a clear; both are logged and stored. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "bounds.h"
#include "periodic.h"

struct server_config;
struct server_db;
struct server_engine;
struct server_hosts;

enum server_alert_kind {
	ALERT_UTILIZATION,
	ALERT_ERRORS,
	ALERT_DRIFT,
	ALERT_SILENT,
	ALERT_ROLLOUT_STALLED,
	ALERT_ROOM,
	ALERT_GUARD,
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
	uint64_t generation; /* starts and clears so far (lock) */
	/* what it reads and where alerts go */
	const struct server_config *conf;
	struct server_hosts *hosts;
	struct server_engine *engine;
	struct server_db *db;
};

int server_alerts_init(struct server_alerts *al, const struct server_config *conf,
                       struct server_hosts *hosts, struct server_engine *engine,
                       struct server_db *db);
/* Active and recent alerts from the database, before it is started. */
int server_alerts_load(struct server_alerts *al);
int server_alerts_start(struct server_alerts *al);
void server_alerts_stop(struct server_alerts *al);
void server_alerts_done(struct server_alerts *al);
/* One evaluation (the thread runs one per alert-interval). */
void server_alerts_evaluate(struct server_alerts *al, uint64_t now_ms);
size_t server_alerts_active_count(struct server_alerts *al, enum server_alert_kind kind);
/* A copy of the active alerts and of those cleared at or after
 * cleared_since_ms (caller frees *ret); the count, or -ENOMEM. */
long server_alerts_copy(struct server_alerts *al, uint64_t cleared_since_ms,
                        struct server_alert **ret);
/* Grows by one each time an alert starts or clears. */
uint64_t server_alerts_generation(struct server_alerts *al);
/* The Alerts call: active ones, then those cleared since since_ms. */
void server_alerts_answer(struct server_alerts *al, const Aioctl__V1__AlertsRequest *in,
                          Aioctl__V1__AlertsReply_Closure closure, void *data);
