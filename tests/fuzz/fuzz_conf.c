/* libFuzzer: a config file, as aio-agent and as aio-server read it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../agent/config.h"
#include "../../server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config ac;
	struct server_config sc;
	char err[512];
	FILE *f;

	memset(&ac, 0, sizeof(ac));
	memset(&sc, 0, sizeof(sc));
	aio_conf_defaults(&agent_config_spec, &ac);
	aio_conf_defaults(&server_config_spec, &sc);
	if ((f = fmemopen((void *)data, size, "r"))) {
		aio_conf_load_fp(&agent_config_spec, &ac, f, "agent.conf", err, sizeof(err));
		fclose(f);
	}
	if ((f = fmemopen((void *)data, size, "r"))) {
		aio_conf_load_fp(&server_config_spec, &sc, f, "server.conf", err, sizeof(err));
		fclose(f);
	}
	aio_conf_done(&agent_config_spec, &ac);
	aio_conf_done(&server_config_spec, &sc);
	return 0;
}
