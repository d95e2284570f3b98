/* The audit log: who changed what, when, with what result. Append-only
 * (the database refuses updates and deletes). This module owns the audit
 * table: its schema, writes and reads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct server_reader;
struct sqlite3;

struct server_audit_entry {
	uint64_t time_ms;
	char *who, *action, *target, *result; /* target and result may be NULL */
};

/* Appends one entry, on its own, through the write queue. 0, -EAGAIN
 * (queue full: the entry is logged as lost), -ENOMEM. */
int server_audit_log(struct server_db *db, const char *who, const char *action, const char *target,
                     const char *result);
/* A change and its audit entry in one transaction: sql with its
 * arguments (server_db_exec's types), then the entry; then(arg, err)
 * after the commit or failure, so the caller confirms only what is
 * stored. 0, or a negative errno when it cannot be queued (then is not
 * called). */
int server_audit_exec(struct server_db *db, const char *who, const char *action, const char *target,
                      const char *result, void (*then)(void *arg, int err), void *arg,
                      const char *sql, const char *types, ...);
/* Fills e with copies (now as its time); server_audit_entry_done frees. */
int server_audit_entry_set(struct server_audit_entry *e, uint64_t now_ms, const char *who,
                           const char *action, const char *target, const char *result);
void server_audit_entry_done(struct server_audit_entry *e);
/* Newest first, entries at or after since_ms, at most limit into *ret_v
 * (malloc'd; server_audit_list_free); *ret_truncated when there are more.
 * On the query thread. */
int server_audit_read(struct server_reader *rd, uint64_t since_ms, uint32_t limit,
                      struct server_audit_entry **ret_v, size_t *ret_n, bool *ret_truncated);
void server_audit_list_free(struct server_audit_entry *v, size_t n);

/* For a write that carries audit entries with its own rows (one
 * transaction): on the database thread. Returns an SQLite result code. */
int server_audit_apply(struct server_sql *conn, const struct server_audit_entry *v, size_t n);
/* The audit table's schema steps (db.c runs them in order). */
extern const struct server_db_migration server_audit_migrations[];
extern const struct server_db_migration server_audit_pg_migrations[];
/* Retention's delete (?2 the cutoff, ?3 at most so many rows; ?1 unused):
 * the database refuses it for an entry younger than a day. */
extern const char server_audit_prune_sql[];
