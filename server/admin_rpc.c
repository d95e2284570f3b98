/* The Admin service: what aioctl calls. Every call carries the admin token. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "names.h"
#include "secret.h"
#include "server.h"

int server_admin_authorize(struct aio_rpc_call *call, void *arg)
{
	struct server *s = arg;
	const Aioctl__V1__Credentials *creds = aio_rpc_call_creds(call);

	if (!creds->admin_token || !*creds->admin_token) {
		aio_rpc_call_fail(call, AIO_UNAUTHENTICATED,
		                  "admin calls need a token (aioctl --token-file FILE)");
		return AIO_UNAUTHENTICATED;
	}
	if (!aio_secret_equal(creds->admin_token, s->admin_token)) {
		log_warn("admin: %s refused: token not accepted", aio_rpc_call_method(call));
		aio_rpc_call_fail(call, AIO_UNAUTHENTICATED, "admin token not accepted");
		return AIO_UNAUTHENTICATED;
	}
	return AIO_OK;
}

/* HostStatus fields point into the registry: build and pack under its read
 * lock. Labels need arrays of their own, freed by status_done. */
static int status_fill(Aioctl__V1__HostStatus *st, const struct server_host *h, uint64_t now)
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
	if (h->has_sample)
		st->sample = (Aioctl__V1__Sample *)&h->sample;
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

static void status_done(Aioctl__V1__HostStatus *st)
{
	if (st->n_labels) {
		free(st->labels[0]);
		free(st->labels);
	}
}

static void admin_rpc_fleet_status(Aioctl__V1__Admin_Service *svc,
                                   const Aioctl__V1__FleetStatusRequest *in,
                                   Aioctl__V1__FleetStatusReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__FleetStatusReply rep = AIOCTL__V1__FLEET_STATUS_REPLY__INIT;
	Aioctl__V1__HostStatus *st = NULL, **stp = NULL;
	uint64_t now = aio_now_ms();
	size_t n = 0;

	if (in->has_live && in->live) {
		aio_rpc_call_fail(data, AIO_UNIMPLEMENTED, "live queries arrive with rollouts");
		closure(NULL, data);
		return;
	}
	pthread_rwlock_rdlock(&s->hosts.lock);
	if (s->hosts.n) {
		st = calloc(s->hosts.n, sizeof(*st));
		stp = calloc(s->hosts.n, sizeof(*stp));
	}
	if (s->hosts.n && (!st || !stp))
		goto out_nomem;
	for (; n < s->hosts.n; n++) {
		if (status_fill(&st[n], s->hosts.all[n], now) < 0)
			goto out_nomem;
		stp[n] = &st[n];
	}
	rep.hosts = stp;
	rep.n_hosts = n;
	closure(&rep, data);
	goto out_unlock;

out_nomem:
	aio_rpc_call_fail(data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
	closure(NULL, data);
out_unlock:
	pthread_rwlock_unlock(&s->hosts.lock);
	for (size_t i = 0; i < n; i++)
		status_done(&st[i]);
	free(st);
	free(stp);
}

static void admin_rpc_host_show(Aioctl__V1__Admin_Service *svc,
                                const Aioctl__V1__HostShowRequest *in,
                                Aioctl__V1__HostShowReply_Closure closure, void *data)
{
	struct server *s = aio_rpc_call_arg(data);
	Aioctl__V1__HostShowReply rep = AIOCTL__V1__HOST_SHOW_REPLY__INIT;
	Aioctl__V1__HostStatus st;
	struct server_host *h;

	if (!aio_host_name_valid(in->host)) {
		aio_rpc_call_fail(data, AIO_INVALID_ARGUMENT, "not a host name");
		closure(NULL, data);
		return;
	}
	pthread_rwlock_rdlock(&s->hosts.lock);
	h = server_hosts_find(&s->hosts, in->host);
	if (!h) {
		aio_rpc_call_fail(data, AIO_NOT_FOUND, "no host named %s", in->host);
		closure(NULL, data);
	} else if (status_fill(&st, h, aio_now_ms()) < 0) {
		aio_rpc_call_fail(data, AIO_RESOURCE_EXHAUSTED, "server out of memory");
		closure(NULL, data);
	} else {
		rep.status = &st;
		closure(&rep, data);
		status_done(&st);
	}
	pthread_rwlock_unlock(&s->hosts.lock);
}

Aioctl__V1__Admin_Service server_admin_service = {
	AIOCTL__V1__ADMIN__BASE_INIT,
	.fleet_status = admin_rpc_fleet_status,
	.host_show = admin_rpc_host_show,
};
