/* libFuzzer: a sysctl.d file's text through the fs.aio-max-nr parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct agent_persist_setting settings[AIO_SETTINGS_MAX];
	char *text = malloc(size + 1);
	size_t n = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	agent_persist_parse(text, "/etc/sysctl.d/fuzz.conf", settings, &n, AIO_SETTINGS_MAX);
	free(text);
	return 0;
}
