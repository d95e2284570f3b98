/* Reads fs.aio-nr and fs.aio-max-nr and summarises one report interval:
 * last, minimum and maximum, so a peak between reports is never lost. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "aioctl.pb-c.h"

struct agent_sampler {
	char nr_path[4096];
	char max_path[4096];
	/* the interval being summarised */
	uint32_t reads;
	uint64_t last, min, max, max_nr;
	uint64_t start_ms;
	int last_err;
};

int agent_sampler_init(struct agent_sampler *sm, const char *sysroot);
/* Reads both counters once into the window; negative errno on failure. */
int agent_sampler_read(struct agent_sampler *sm);
/* Closes the window into *ret (false if it holds no reading) and opens the
 * next one. */
bool agent_sampler_take(struct agent_sampler *sm, uint64_t now_ms, Aioctl__V1__Sample *ret);
