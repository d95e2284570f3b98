/* The one definition of the room that decides whether a VM can start. */
#pragma once

#include <stdint.h>

#include "bounds.h"

/* Further QEMU contexts (AIO_CONTEXT_EVENTS each) that fit under the limit
 * with nr in use: a VM start needs one for its main loop and one per
 * iothread with a native-AIO disk, whatever the utilisation. */
static inline uint64_t aio_room_contexts(uint64_t max, uint64_t nr)
{
	return max > nr ? (max - nr) / AIO_CONTEXT_EVENTS : 0;
}
