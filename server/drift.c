#include "drift.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool server_drift_host(const struct server_host *h, struct server_drift *ret)
{
	const Aioctl__V1__Persisted *p = h->detail ? h->detail->persisted : NULL;
	uint64_t after = 0;
	bool has_after = server_host_persisted(h, &after);
	bool live_off = h->has_sample && h->sample.aio_max_nr != h->desired;
	bool boot_off = has_after && after != h->desired;
	char *c = ret->cause;
	size_t len;

	if (!h->has_desired || (!live_off && !boot_off))
		return false;
	memset(ret, 0, sizeof(*ret));
	if (live_off && h->boot_time_ms > h->desired_ms && h->sample.aio_max_nr == after)
		snprintf(c, SERVER_DRIFT_CAUSE_MAX, "a reboot lost a live-only change");
	else if (live_off && h->guard_raised_ms > h->desired_ms)
		snprintf(c, SERVER_DRIFT_CAUSE_MAX,
		         "raised by the guard to let a domain start (aioctl errors --host %s)",
		         h->name);
	else if (live_off)
		snprintf(c, SERVER_DRIFT_CAUSE_MAX, "live value changed by hand (sysctl -w?)");
	len = strlen(c);
	if (boot_off) {
		const char *sep = len ? "; " : "";

		if (p && p->file && h->sysctl_file && strcmp(p->file, h->sysctl_file) == 0 &&
		    h->guard_raised_ms > h->desired_ms)
			snprintf(c + len, SERVER_DRIFT_CAUSE_MAX - len,
			         "%sthe guard kept its raise in the agent's file %s", sep, p->file);
		else if (p && p->file && h->sysctl_file && strcmp(p->file, h->sysctl_file) == 0)
			snprintf(c + len, SERVER_DRIFT_CAUSE_MAX - len,
			         "%sthe agent's file %s was edited by hand", sep, p->file);
		else if (p && p->file)
			snprintf(c + len, SERVER_DRIFT_CAUSE_MAX - len, "%s%s wins at boot", sep,
			         p->file);
		else
			snprintf(c + len, SERVER_DRIFT_CAUSE_MAX - len,
			         "%sno file sets it: a reboot gives the kernel default", sep);
	}
	snprintf(ret->host, sizeof(ret->host), "%s", h->name);
	ret->desired = h->desired;
	ret->rollout_id = h->desired_rollout;
	ret->has_runtime = h->has_sample;
	ret->runtime = h->sample.aio_max_nr;
	ret->has_persisted = has_after;
	ret->persisted = after;
	ret->persisted_file = p && p->file ? strdup(p->file) : NULL;
	return true;
}

struct list {
	struct server_drift *v;
	size_t n;
};

static int collect(const struct server_host *const *all, size_t n, void *arg)
{
	struct list *l = arg;

	if (!(l->v = calloc(n + 1, sizeof(*l->v))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (server_drift_host(all[i], &l->v[l->n]))
			l->n++;
	return 0;
}

int server_drift_list(struct server_hosts *reg, struct server_drift **ret_v, size_t *ret_n)
{
	struct list l = { 0 };
	int r;

	if ((r = server_hosts_read_all(reg, collect, &l)) < 0)
		return r;
	*ret_v = l.v;
	*ret_n = l.n;
	return 0;
}

void server_drift_free(struct server_drift *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].persisted_file);
	free(v);
}
