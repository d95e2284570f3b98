/* libFuzzer: one log line through the AIO event classifier. */
#include <stddef.h>
#include <stdint.h>

#include "logparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_event ev;
	char vm[AIO_VM_NAME_MAX + 1];

	agent_logparse_line((const char *)data, size, &ev);
	agent_logparse_guest((const char *)data, size, vm, sizeof(vm));
	return 0;
}
