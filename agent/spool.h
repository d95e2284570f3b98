/* Reports the server has not acknowledged, on disk in the state dir so an
 * agent restart loses nothing. One file per report, named by its sequence
 * number, written atomically; each also holds the log positions reached
 * when it was made. Bounded in bytes: past the bound the oldest report is
 * dropped and counted. Not thread-safe: the agent's lock guards it.
 *
 * The spool also numbers reports: seq goes up by one per report and
 * survives restarts (the "seq" file and the newest report). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"

struct agent_spool_entry {
	uint64_t seq;
	uint64_t size;
};

struct agent_spool {
	char dir[4096];
	char state_dir[4096];
	struct agent_spool_entry *v; /* oldest first */
	size_t n, cap;
	uint64_t bytes, max_bytes;
	uint64_t last_seq; /* last number given out */
	uint64_t dropped;  /* reports dropped for space, ever */
	bool fresh; /* no state found at open, or a damaged count: numbers follow the server's */
	bool write_failing; /* the state dir is full or read-only (logged once) */
};

int agent_spool_open(struct agent_spool *sp, const char *state_dir, uint64_t max_bytes);
void agent_spool_close(struct agent_spool *sp);
/* Numbers r (sets r->seq), stores it with positions, drops the oldest
 * reports past the bound. When r cannot be written (a full or read-only
 * state dir) it is counted in dropped and its number skipped; the error is
 * returned and logged when such failures start and end. */
int agent_spool_append(struct agent_spool *sp, Aioctl__V1__ReportRequest *r, const char *positions);
/* The oldest report and its positions; the caller frees both
 * (aioctl__v1__report_request__free_unpacked, free). -ENOENT if empty. */
int agent_spool_oldest(struct agent_spool *sp, Aioctl__V1__ReportRequest **ret_report,
                       char **ret_positions);
struct agent_spool_batch {
	Aioctl__V1__ReportRequest **reports; /* oldest first */
	char **positions;                    /* each report's (may be NULL) */
	size_t n;
};

/* The oldest reports, at most max_n and max_bytes of them on disk (the
 * oldest one whatever its size), for one ReportBatch; the caller frees
 * them with agent_spool_batch_done. -ENOENT if empty. */
int agent_spool_oldest_batch(struct agent_spool *sp, size_t max_n, uint64_t max_bytes,
                             struct agent_spool_batch *ret);
void agent_spool_batch_done(struct agent_spool_batch *b);
/* The positions stored with the newest report; -ENOENT if empty. */
int agent_spool_newest_positions(struct agent_spool *sp, char **ret_positions);
/* Reads the text of entry seq (as in its file): its report, whose seq must
 * be seq, and its positions (NUL-terminated; either may be NULL). -EBADMSG
 * when damaged. */
int agent_spool_parse(const char *text, size_t len, uint64_t seq,
                      Aioctl__V1__ReportRequest **ret_report, char **ret_positions);
/* Removes the report seq (acknowledged). */
int agent_spool_remove(struct agent_spool *sp, uint64_t seq);
/* One more report lost (refused by the server as unreadable): counted in
 * dropped, which every report carries. */
void agent_spool_count_dropped(struct agent_spool *sp);
/* Renumbers every report from first on (used once, when a fresh state dir
 * meets a server that already has reports from this host). */
int agent_spool_renumber(struct agent_spool *sp, uint64_t first);
