/* Drift: hosts whose live or after-reboot aio-max-nr left the value the
 * last completed rollout step set there, with the likely cause. Plain
 * records: the Drift handler packs them, alerts read them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "hosts.h"

#define SERVER_DRIFT_CAUSE_MAX 256

struct server_drift {
	char host[AIO_HOST_NAME_MAX + 1];
	uint64_t desired, rollout_id;
	bool has_runtime, has_persisted;
	uint64_t runtime, persisted;
	char *persisted_file; /* the file that wins at boot, or NULL */
	char cause[SERVER_DRIFT_CAUSE_MAX];
};

/* Whether h drifted, and why, into *ret (its persisted_file malloc'd). */
bool server_drift_host(const struct server_host *h, struct server_drift *ret);
/* Every drifted host into *ret_v (malloc'd; server_drift_free), in order
 * of creation. 0 or -ENOMEM. */
int server_drift_list(struct server_hosts *reg, struct server_drift **ret_v, size_t *ret_n);
void server_drift_free(struct server_drift *v, size_t n);
