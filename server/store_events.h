/* The events table's owner: schema, writes and reads of AIO error events
 * (SQLite). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "db.h"

struct server_hosts;

extern const struct server_db_migration server_store_events_migrations[];
extern const struct server_db_migration server_store_events_pg_migrations[];
/* The last day's events into each host's recent ring, oldest first
 * (before the database thread starts). */
int server_store_events_load(struct server_db *db, struct server_hosts *reg);
/* Stores w's report's events: each event's key makes a replay harmless,
 * and lines of one incident become one event. Marks w->event_new. On the
 * database thread; an SQLite result code. */
int server_store_events_apply(struct server_db *db, struct server_db_write *w);
/* Retention: events before ?2, at most ?3 (?1 unused). */
extern const char server_store_events_prune_sql[];
/* A removed host's events (?1 its id). */
extern const char server_store_events_forget_sql[];

struct server_reader;

/* Newest first: events at or after since_ms, of host_id (0: any) and vm
 * (NULL: any), at most limit; row() sees each (its strings are the
 * reader's, valid during the call; a negative return stops and is
 * returned). *ret_truncated when there were more. On the query thread. */
int server_store_events_read(struct server_reader *rd, uint64_t since_ms, int64_t host_id,
                             const char *vm, uint32_t limit,
                             int (*row)(int64_t host_id, const Aioctl__V1__AioEvent *ev, void *arg),
                             void *arg, bool *ret_truncated);
/* Events of host_id in [from_ms, until_ms) (until_ms 0: no end). */
int server_store_events_count(struct server_reader *rd, int64_t host_id, uint64_t from_ms,
                              uint64_t until_ms, uint32_t *ret_n);
