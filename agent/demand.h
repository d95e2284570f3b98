/* What a libvirt domain will ask of fs.aio-max-nr when QEMU starts, from
 * its XML (what libvirt gives the qemu hook at "prepare begin"): one
 * 1024-event context for the main loop if a disk there uses io='native',
 * plus one for each iothread that such a disk is placed on (its driver's
 * iothread, or its virtio-scsi controller's); none for io='threads' or
 * io_uring, or for a drive with no medium. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* Domain XML larger than this is refused (libvirt's own are a few KiB). */
#define AGENT_DOMAIN_XML_MAX       (4u << 20)
#define AGENT_DEMAND_IOTHREADS_MAX 1024 /* iothread ids counted per domain */

struct agent_demand {
	char domain[AIO_VM_NAME_MAX + 1]; /* <name> */
	unsigned contexts;                /* AIO contexts QEMU will create */
	uint64_t events;                  /* contexts x AIO_CONTEXT_EVENTS */
	bool main_loop;                   /* one of them is the main loop's */
	unsigned native_disks;
};

/* 0, or -EINVAL with a reason in err for XML that is not a domain,
 * -E2BIG past AGENT_DOMAIN_XML_MAX, or -ENOPKG when libxml2 (loaded by the
 * first call) is not installed. */
int agent_demand_parse(const char *xml, size_t len, struct agent_demand *ret, char *err,
                       size_t errlen);
