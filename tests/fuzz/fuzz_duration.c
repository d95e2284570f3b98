/* libFuzzer: durations and sizes as people type them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), back[64];
	uint64_t v, again;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (aio_duration_parse(s, &v) == 0) {
		/* what is printed must read back the same */
		aio_duration_format(v, back, sizeof(back));
		if (aio_duration_parse(back, &again) != 0 || again != v)
			abort();
	}
	aio_size_parse(s, &v);
	aio_uint_parse(s, &v);
	free(s);
	return 0;
}
