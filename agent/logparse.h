/* Recognises AIO trouble in one log line, from the journal or a QEMU log:
 *   failed          pre-9.0 QEMU: "failed to create linux AIO context", the
 *                   disk did not open (VM start fails), in every wrapper
 *                   libvirt puts around it;
 *   hotplug failed  the same inside a blockdev-add / device_add;
 *   degraded        "falling back to thread pool": QEMU 9.0+ ("Unable to use
 *                   Linux AIO, ...") and 7.2 for iothread contexts ("Unable to
 *                   use native AIO, ..."); the VM runs, slower;
 *   multipath       multipathd's "Increase fs.aio-max-nr".
 * Lines that merely mention AIO or io_uring are not events. */
#pragma once

#include <stdint.h>

#include "aioctl.pb-c.h"
#include "bounds.h"

struct agent_event {
	uint64_t time_ms; /* QEMU's time when quoted, else the line's, else 0 */
	Aioctl__V1__EventKind kind;
	char vm[AIO_VM_NAME_MAX + 1];      /* "" when the line does not say */
	char disk[AIO_DISK_MAX + 1];       /* "" when the line does not say */
	char line[AIO_EVENT_LINE_MAX + 1]; /* the raw line, cut at the bound */
	char source[AIO_PATH_MAX + 1];     /* set by the caller */
	char key[AIO_EVENT_KEY_MAX + 1];   /* set by the caller: de-dup key */
	/* the failure this line tells of, the same in every source that quotes
	 * it ("qemu@TIME/NODE"); "" when the line cannot say */
	char incident[AIO_INCIDENT_MAX + 1];
	uint32_t contexts; /* the guard's: the domain's demand; 0 otherwise */
};

/* Fills *ret (zeroed first) and returns 0 for an AIO event; -ENOENT for
 * any other line. line need not be NUL-terminated; len bounds it. */
int agent_logparse_line(const char *line, size_t len, struct agent_event *ret);
/* The VM named by "-name guest=NAME" or "-name NAME" in a QEMU command
 * line, as libvirt writes it at the top of NAME.log; 0 if found. */
int agent_logparse_guest(const char *line, size_t len, char *buf, size_t buflen);
