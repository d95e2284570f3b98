/* libFuzzer: a step record's bytes, stored in a state dir, through the
 * agent's redelivery and rollback of that step on a sysroot. Whatever the
 * record holds, fs.aio-max-nr ends within what the agent could have read. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "bounds.h"
#include "fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64], record[128], live[128];
static struct agent_applier ap;

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
}

static void setup(void)
{
	char path[128];

	snprintf(root, sizeof(root), "/tmp/aioctl-fuzz-steps-XXXXXX");
	if (!mkdtemp(root))
		abort();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/proc/sys/fs", root);
	if (aio_mkdir_p(path, 0700) < 0)
		abort();
	snprintf(live, sizeof(live), "%s/aio-max-nr", path);
	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-nr", root);
	if (aio_file_write_atomic(path, "0\n", 2, 0600) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/state", root);
	if (agent_apply_init(&ap, root, "/etc/sysctl.d/60-aioctl.conf", path, 65536, 1 << 22,
	                     4096) < 0)
		abort();
	snprintf(record, sizeof(record), "%s/state/steps/%020d", root, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Aioctl__V1__SetLimit cmd = AIOCTL__V1__SET_LIMIT__INIT;
	uint64_t value = 0;

	if (!root[0])
		setup();
	if (aio_file_write_atomic(live, "65536\n", 6, 0600) < 0 ||
	    aio_file_write_atomic(record, data, size, 0600) < 0)
		abort();
	cmd.rollout_id = cmd.step_id = 1;
	cmd.target = 131072;
	for (int rollback = 0; rollback <= 1; rollback++) {
		cmd.has_rollback = true;
		cmd.rollback = rollback;
		aioctl__v1__ack_request__free_unpacked(agent_apply(&ap, 7, &cmd), NULL);
		if (aio_file_read_u64(live, &value) < 0 || value == 0 || value > AIO_COUNTER_MAX)
			abort();
	}
	return 0;
}
