/* Who holds AIO capacity: every process's /proc/PID/maps has one "/[aio]"
 * mapping per AIO context; QEMU processes are named by their VM ("-name
 * guest=NAME" in cmdline), others by command name.
 *
 * Events per context are estimated from the ring's size: the kernel sizes
 * the ring for max(nr_events, 4 * CPUs) * 2 events rounded up to pages, so
 * half the ring's capacity bounds nr_events from above, within 64 events
 * for contexts of 4 * CPUs events or more. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "bounds.h"

struct agent_user {
	char name[AIO_VM_NAME_MAX + 1];
	uint32_t pid;
	bool is_vm;
	uint32_t contexts;
	uint64_t events;
};

struct agent_attrib {
	struct agent_user *users; /* processes holding contexts, by events desc */
	size_t n;
	uint64_t events;   /* sum of the estimates */
	uint32_t contexts; /* sum of contexts */
	size_t truncated;  /* users past AIO_USERS_MAX, not listed */
};

int agent_attrib_scan(const char *sysroot, struct agent_attrib *ret);
void agent_attrib_done(struct agent_attrib *a);
/* Counts once or twice, from aio-nr against what processes explain; unknown
 * without contexts to compare. */
Aioctl__V1__CountingMode agent_attrib_counting(const struct agent_attrib *a, uint64_t aio_nr);
/* The part of aio-nr that no process explains (0 if they explain it all). */
uint64_t agent_attrib_unexplained(const struct agent_attrib *a, uint64_t aio_nr,
                                  Aioctl__V1__CountingMode mode);
/* Estimated nr_events of a context whose ring mapping is size bytes. */
uint64_t agent_attrib_events(uint64_t size);
