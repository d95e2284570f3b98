#include "status.h"

#include <errno.h>
#include <stdlib.h>

#include "aio.h"
#include "clock.h"
#include "rpc_server.h"

/* HostStatus fields point into the registry: build and pack under its read
 * lock. Labels need arrays of their own, freed by status_done. */
int server_status_fill(Aioctl__V1__HostStatus *st, const struct server_host *h, uint64_t now)
{
	aioctl__v1__host_status__init(st);
	st->host = h->name;
	st->kernel = h->kernel;
	st->agent_version = h->agent_version;
	st->has_first_seen_ms = true;
	st->first_seen_ms = h->first_seen_ms;
	st->has_last_seen_ms = true;
	st->last_seen_ms = h->last_seen_ms;
	st->has_online = true;
	st->online = server_host_online(h, now);
	st->has_last_seq = true;
	st->last_seq = h->last_seq;
	st->has_interval_ms = true;
	st->interval_ms = h->interval_ms;
	st->has_counting = true;
	st->counting = (Aioctl__V1__CountingMode)h->counting;
	if (h->detail && h->detail->has_counting)
		st->counting = h->detail->counting;
	if (h->detail)
		st->persisted = h->detail->persisted;
	st->has_errors_24h = true;
	st->errors_24h = server_host_errors_24h(h, now);
	st->has_dropped = h->dropped > 0;
	st->dropped = h->dropped;
	if (h->has_sample) {
		st->sample = (Aioctl__V1__Sample *)&h->sample;
		st->has_room_contexts = true;
		st->room_contexts = aio_room_contexts(h->sample.aio_max_nr, h->sample.aio_nr);
	}
	st->has_largest_vm_contexts = h->largest_vm_contexts > 0;
	st->largest_vm_contexts = h->largest_vm_contexts;
	st->has_largest_demand_contexts = h->largest_demand_contexts > 0;
	st->largest_demand_contexts = h->largest_demand_contexts;
	if (h->n_labels) {
		Aioctl__V1__Label *l = calloc(h->n_labels, sizeof(*l));
		Aioctl__V1__Label **lp = calloc(h->n_labels, sizeof(*lp));

		if (!l || !lp) {
			free(l);
			free(lp);
			return -ENOMEM;
		}
		for (size_t i = 0; i < h->n_labels; i++) {
			aioctl__v1__label__init(&l[i]);
			l[i].key = h->labels[i].key;
			l[i].value = h->labels[i].value;
			lp[i] = &l[i];
		}
		st->labels = lp;
		st->n_labels = h->n_labels;
	}
	return 0;
}

void server_status_done(Aioctl__V1__HostStatus *st)
{
	if (st->n_labels) {
		free(st->labels[0]);
		free(st->labels);
	}
}

struct answer {
	Aioctl__V1__FleetStatusReply_Closure closure;
	void *data;
	const int64_t *silent;
	size_t n_silent;
};

static int answer_all(const struct server_host *const *all, size_t n_hosts, void *arg)
{
	struct answer *a = arg;
	Aioctl__V1__FleetStatusReply rep = AIOCTL__V1__FLEET_STATUS_REPLY__INIT;
	Aioctl__V1__HostStatus *st = calloc(n_hosts + 1, sizeof(*st));
	Aioctl__V1__HostStatus **stp = calloc(n_hosts + 1, sizeof(*stp));
	char **names = calloc(a->n_silent + 1, sizeof(*names));
	uint64_t now = aio_now_ms();
	size_t n = 0;
	int r = -ENOMEM;

	if (!st || !stp || !names)
		goto out_free;
	for (; n < n_hosts; n++) {
		if (server_status_fill(&st[n], all[n], now) < 0)
			goto out_free;
		stp[n] = &st[n];
	}
	for (size_t i = 0; i < a->n_silent; i++) {
		const struct server_host *h = server_hosts_find_in(all, n_hosts, a->silent[i]);

		if (h)
			names[rep.n_not_answered++] = h->name;
	}
	rep.hosts = stp;
	rep.n_hosts = n;
	rep.not_answered = names;
	a->closure(&rep, a->data);
	r = 0;
out_free:
	for (size_t i = 0; i < n; i++)
		server_status_done(&st[i]);
	free(st);
	free(stp);
	free(names);
	return r;
}

void server_status_answer(struct server_hosts *reg, Aioctl__V1__FleetStatusReply_Closure closure,
                          void *data, const int64_t *silent, size_t n_silent)
{
	struct answer a = { closure, data, silent, n_silent };

	if (server_hosts_read_all(reg, answer_all, &a) < 0)
		AIO_RPC_REFUSE(data, closure, AIO_RESOURCE_EXHAUSTED, "server out of memory");
}
