/* libFuzzer: domain XML, as libvirt's hook gets it, through the guard's
 * demand reader (libxml2). */
#include <stdint.h>

#include "demand.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_demand d;
	char err[256];

	if (agent_demand_parse((const char *)data, size, &d, err, sizeof(err)) == 0 &&
	    d.events != (uint64_t)d.contexts * AIO_CONTEXT_EVENTS)
		__builtin_trap();
	return 0;
}
