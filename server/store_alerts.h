/* The alerts table's owner (SQLite): each alert from its start to its
 * clear. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct server_store_alert {
	const char *kind, *subject, *message;
	uint64_t started_ms, cleared_ms; /* cleared_ms 0: active */
	double value, threshold;
};

extern const struct server_db_migration server_store_alerts_migrations[];
extern const struct server_db_migration server_store_alerts_pg_migrations[];
/* Before the database thread starts: row() for the newest recent_max
 * cleared alerts, oldest first, then for every active one in the order
 * stored; a negative return stops the load and is returned. */
int server_store_alerts_load(struct server_db *db, size_t recent_max,
                             int (*row)(const struct server_store_alert *a, void *arg), void *arg);
/* Queued writes: 0, or server_db_exec's errors (failures at commit are
 * logged). */
int server_store_alerts_start(struct server_db *db, const struct server_store_alert *a);
int server_store_alerts_clear(struct server_db *db, const struct server_store_alert *a);
/* Retention: alerts cleared before ?2, at most ?3 (?1 unused). */
extern const char server_store_alerts_prune_sql[];
/* A removed host's alerts (?2 its name, their subject). */
extern const char server_store_alerts_forget_sql[];
