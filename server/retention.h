/* Per-tier retention, pruned in small steps through the database queue by
 * a thread of its own, once per prune-interval. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "periodic.h"

struct server;
struct server_db;

enum prune_kind {
	PRUNE_RAW,
	PRUNE_BLOCKS,
	PRUNE_5M,
	PRUNE_1H,
	PRUNE_VM,
	PRUNE_EVENTS,
	PRUNE_ALERTS,
	PRUNE_KINDS
};

struct server_prune_stats {
	uint64_t deleted[PRUNE_KINDS];
	unsigned steps;
};

/* Deletes what is older than now - keep[kind] (0: keep for ever), at most
 * batch rows per write through db's queue (db started); stop(arg), if
 * given, is asked between writes. Adds to *stats. */
int server_db_prune(struct server_db *db, const uint64_t keep[PRUNE_KINDS], uint64_t now,
                    uint64_t batch, bool (*stop)(void *arg), void *arg,
                    struct server_prune_stats *stats);

int server_retention_start(struct server *s);
/* Stops between two steps; call before the database closes. */
void server_retention_stop(struct server *s);
/* One pass over every tier; blocks until done, or stop(arg) says so
 * between steps. 0, -ECANCELED, or the database's error. */
int server_retention_pass(struct server *s, bool (*stop)(void *arg), void *arg);
