/* Follows the systemd journal for AIO errors from libvirtd, virtqemud and
 * multipathd, through libsystemd. With a sysroot other than "/", reads the
 * journal files in SYSROOT/var/log/journal. Resumes after a cursor. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "logparse.h"

struct sd_journal;

struct agent_journal {
	struct sd_journal *j;
	char cursor[AIO_EVENT_KEY_MAX + 1]; /* last entry consumed, "" if none */
};

/* Opens the journal and places it after cursor (or, without one, backlog_ms
 * before now; 0 means from the start). Returns a negative errno when there
 * is no journal to read; the caller may try again later. */
int agent_journal_open(struct agent_journal *jw, const char *sysroot, const char *cursor,
                       uint64_t backlog_ms);
/* For poll(); -1 if closed. */
int agent_journal_fd(struct agent_journal *jw);
/* Consumes new entries; on_event gets each AIO event and returns false to
 * stop before it (the entry stays unread). */
int agent_journal_read(struct agent_journal *jw,
                       bool (*on_event)(const struct agent_event *ev, void *arg), void *arg);
void agent_journal_close(struct agent_journal *jw);
