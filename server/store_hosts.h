/* The hosts table's owner: schema, writes and reads of hosts and
 * host_labels (SQLite). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct server_hosts;
struct sqlite3;

/* A desired value, written with the rollout step that set it. */
struct server_store_desired {
	int64_t host_id;
	uint64_t value, rollout_id, when_ms;
};

extern const struct server_db_migration server_store_hosts_migrations[];
extern const struct server_db_migration server_store_hosts_pg_migrations[];

/* A host as the database holds it, with its newest report (series). */
struct server_store_host_row {
	int64_t id;
	const char *name, *kernel, *agent_version, *sysctl_file, *secret_hash;
	uint32_t interval_ms;
	int counting;
	uint64_t first_seen_ms, last_seen_ms, limit_min, limit_max, limit_margin, boot_time_ms;
	bool has_desired;
	uint64_t desired, desired_rollout, desired_ms, revoked_ms, removed_ms;
	bool has_report;
	uint64_t last_seq;
	Aioctl__V1__Sample sample;
	uint64_t detail_len; /* bytes of its stored scans */
};
/* Every host row, in id order, on a connection of the caller's (another
 * server's hosts): fn's non-zero return stops. */
int server_store_hosts_read(struct server_sql *conn,
                            void (*fn)(const struct server_store_host_row *row, void *arg),
                            void *arg);
/* Host id's stored scans (*ret NULL if none). */
int server_store_hosts_read_detail(struct server_sql *conn, int64_t id,
                                   Aioctl__V1__HostDetail **ret);
/* Every label, by host id. */
int server_store_hosts_read_labels(struct server_sql *conn,
                                   void (*fn)(int64_t id, const char *key, const char *value,
                                              void *arg),
                                   void *arg);
/* Fills reg with every stored host and its labels (before the database
 * thread starts). */
int server_store_hosts_load(struct server_db *db, struct server_hosts *reg);
/* On the database thread, in a batch: these return SQLite result codes. */
int server_store_hosts_apply(struct server_db *db, const struct server_db_write *w);
int server_store_hosts_detail(struct server_db *db, int64_t host_id, const uint8_t *blob,
                              size_t len);
int server_store_hosts_dropped(struct server_db *db, int64_t host_id, uint64_t dropped);
int server_store_hosts_desired_apply(struct server_sql *conn, const struct server_store_desired *v,
                                     size_t n);
/* Queued writes (server_db_exec's contract). */
int server_store_hosts_secret(struct server_db *db, const char *host, const char *hash,
                              void (*then)(void *arg, int err), void *arg);
/* A removed host (?1 its id, ?3 when): its labels go, its row is marked;
 * NULL-terminated. */
extern const char *const server_store_hosts_forget_sql[];
/* With its audit entry (who did it) in the same transaction. */
int server_store_hosts_revoke(struct server_db *db, const char *host, uint64_t when_ms,
                              const char *who, void (*then)(void *arg, int err), void *arg);
