/* Who holds AIO capacity: every process's /proc/PID/maps has one "/[aio]"
 * mapping per AIO context; QEMU processes are named by their VM ("-name
 * guest=NAME" in cmdline), others by command name.
 *
 * Events per context are estimated from the ring's size: the kernel sizes
 * the ring for max(nr_events, 4 * CPUs) * 2 events rounded up to pages, so
 * half the ring's capacity bounds nr_events from above, within 64 events
 * for contexts of 4 * CPUs events or more.
 *
 * For QEMU the count is exact: QEMU asks for a fixed number of events per
 * context (1024 since 5.0, 128 before). Its version comes from the
 * versioned machine type libvirt always passes ("-machine pc-q35-7.2": that
 * QEMU is at least 7.2), else from the binary ("QEMU emulator version
 * 7.2.22" in /proc/PID/exe, read once per binary), else the ring bound
 * stands. */
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
	/* events is exact: QEMU's version is known, and QEMU asks a fixed
	 * number per context (1024 since 5.0, 128 before); basis says how it
	 * was decided */
	bool exact;
	char basis[AIO_BASIS_MAX + 1];
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
/* QEMU's version as major * 100 + minor from a command line ("-machine
 * pc-i440fx-7.2,..." gives 702); 0 if it does not say. */
unsigned agent_attrib_machine_version(const char *cmdline, size_t len);
/* Events QEMU of that version asks for per AIO context. */
uint64_t agent_attrib_qemu_events(unsigned version);
