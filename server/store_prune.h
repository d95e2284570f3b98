/* Retention's deletes, in small steps through the database queue. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct server_db;

enum prune_kind {
	PRUNE_RAW,
	PRUNE_BLOCKS,
	PRUNE_5M,
	PRUNE_1H,
	PRUNE_1D, /* the daily tier: the hourly rollups packed by day */
	PRUNE_VM,
	PRUNE_EVENTS,
	PRUNE_ALERTS,
	PRUNE_AUDIT,
	PRUNE_KINDS
};

struct server_prune_stats {
	uint64_t deleted[PRUNE_KINDS];
	unsigned steps;
};

/* Deletes what is older than now - keep[kind] (0: keep for ever), at most
 * batch rows per write through db's queue (db started); stop(arg), if
 * given, is asked between writes. Adds to *stats. */
int server_store_prune(struct server_db *db, const uint64_t keep[PRUNE_KINDS], uint64_t now,
                       uint64_t batch, bool (*stop)(void *arg), void *arg,
                       struct server_prune_stats *stats);
