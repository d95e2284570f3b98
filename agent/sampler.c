#include "sampler.h"

#include <string.h>

#include "fileio.h"
#include "path.h"

int agent_sampler_init(struct agent_sampler *sm, const char *sysroot)
{
	int r;

	memset(sm, 0, sizeof(*sm));
	r = aio_path_join(sysroot, "/proc/sys/fs/aio-nr", sm->nr_path, sizeof(sm->nr_path));
	if (r == 0)
		r = aio_path_join(sysroot, "/proc/sys/fs/aio-max-nr", sm->max_path,
		                  sizeof(sm->max_path));
	return r;
}

int agent_sampler_read(struct agent_sampler *sm)
{
	uint64_t nr, max;
	int r;

	if ((r = aio_file_read_u64(sm->nr_path, &nr)) < 0 ||
	    (r = aio_file_read_u64(sm->max_path, &max)) < 0) {
		sm->last_err = r;
		return r;
	}
	sm->last_err = 0;
	if (sm->reads == 0 || nr < sm->min)
		sm->min = nr;
	if (sm->reads == 0 || nr > sm->max)
		sm->max = nr;
	sm->last = nr;
	sm->max_nr = max;
	sm->reads++;
	return 0;
}

bool agent_sampler_take(struct agent_sampler *sm, uint64_t now_ms, Aioctl__V1__Sample *ret)
{
	bool any = sm->reads > 0;

	if (any) {
		aioctl__v1__sample__init(ret);
		ret->time_ms = now_ms;
		ret->aio_nr = sm->last;
		ret->aio_nr_min = sm->min;
		ret->aio_nr_max = sm->max;
		ret->aio_max_nr = sm->max_nr;
		ret->has_reads = true;
		ret->reads = sm->reads;
		if (sm->start_ms && now_ms > sm->start_ms) {
			ret->has_interval_ms = true;
			ret->interval_ms = (uint32_t)(now_ms - sm->start_ms);
		}
	}
	sm->reads = 0;
	sm->start_ms = now_ms;
	return any;
}
