/* Follows the per-VM QEMU logs, SYSROOT/var/log/libvirt/qemu/NAME.log, with
 * inotify: new files, appends, rotation by rename (the old file is read to
 * its end first) and truncation. Positions are (inode, offset) per file, so
 * a restart resumes where it left off, also in a file rotated meanwhile. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "logparse.h"

#define AGENT_QEMULOG_DIR       "/var/log/libvirt/qemu"
#define AGENT_QEMULOG_FILES_MAX 4096

struct agent_qemulog_file {
	char name[256];
	ino_t ino;
	off_t offset; /* start of the first line not yet read */
	/* the file's first bytes (up to offset): if they change, it was
	 * truncated and written again (copytruncate), even to the same size */
	char head[64];
	size_t head_len;
	int fd;
	bool current; /* still named NAME.log in the directory */
};

struct agent_qemulog {
	char dir[4096]; /* under the sysroot */
	int ifd;        /* inotify */
	int wd;
	struct agent_qemulog_file *files;
	size_t n;
	char *buf; /* CHUNK bytes, made on the first read */
};

/* positions: lines "file INODE OFFSET NAME" as written by
 * agent_qemulog_positions; NULL or "" to start every file from 0. */
int agent_qemulog_open(struct agent_qemulog *q, const char *sysroot, const char *positions);
int agent_qemulog_fd(struct agent_qemulog *q);
/* Reads what is new in every file; on_event returns false to stop before an
 * event (its line stays unread). */
int agent_qemulog_read(struct agent_qemulog *q,
                       bool (*on_event)(const struct agent_event *ev, void *arg), void *arg);
void agent_qemulog_positions(const struct agent_qemulog *q, FILE *out);
void agent_qemulog_close(struct agent_qemulog *q);
