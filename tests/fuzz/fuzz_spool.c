/* libFuzzer: a spool entry's bytes through the reader the agent trusts
 * before it sends and removes a report. */
#include <stdint.h>
#include <stdlib.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Aioctl__V1__ReportRequest *r = NULL;
	char *positions = NULL;

	if (agent_spool_parse((const char *)data, size, 1, &r, &positions) == 0) {
		if (r->seq != 1)
			abort(); /* an entry is removed by this seq */
		aioctl__v1__report_request__free_unpacked(r, NULL);
		free(positions);
	}
	return 0;
}
