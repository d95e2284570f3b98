/* The server's storage, SQLite. db.c runs the commit queue, its threads
 * and the schema migrations; query.c the reads; each table has one owner
 * with its schema, writes and reads:
 *   store_hosts.c    hosts, host_labels
 *   history.c        samples, raw, series, rollup_5m, rollup_1h, vm_usage
 *   store_events.c   events
 *   rollout_store.c  rollouts, rollout_steps
 *   audit.c          audit
 *   store_tokens.c   tokens, enrollments
 *   store_alerts.c   alerts
 * The rest of the server calls these owners' functions and holds no SQL.
 * This file wires the owners to db.c: the schema, the typed writes and
 * the loading of hosts. */
#pragma once

#include <stddef.h>

#include "db.h"

struct server_hosts;

/* Opens (creating, migrating) the database at path: a negative errno with
 * a message in err. */
int server_store_open(const char *path, struct server_db **ret_db, char *err, size_t errlen);
/* The schema version this server migrates databases to. */
int server_store_schema_version(void);
/* Every owner's schema steps, in the order a version's parts run. */
extern const struct server_db_migration *const server_store_schema[];
extern const struct server_db_migration *const server_store_pg_schema[];
extern const size_t server_store_n_pg_schema;
extern const size_t server_store_n_schema;
/* Applies a SERVER_DB_WRITE_HOST or _SAMPLE write inside a batch: an
 * SQLite result code. */
int server_store_apply(struct server_db *db, struct server_db_write *w);
/* Removes host id (name) from the storage, with an audit entry naming who,
 * in one transaction: its history, events, alerts and labels go; its row
 * stays, marked and renamed, for the rollout steps that name it. then(arg,
 * err) runs after the commit; a negative return: nothing was queued. */
int server_store_remove_host(struct server_db *db, int64_t id, const char *name, const char *who,
                             void (*then)(void *arg, int err), void *arg);
/* Hosts, their latest values and recent events into reg. */
int server_store_load_hosts(struct server_db *db, struct server_hosts *reg);
