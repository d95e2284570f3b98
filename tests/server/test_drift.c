/* Drift (server/drift.c): a host whose live or after-reboot value left the
 * one its last rollout set, and the cause an operator reads. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drift.h"

static struct server_hosts reg;

static void setup(void)
{
	cr_assert_eq(server_hosts_init(&reg), 0);
}

static void teardown(void)
{
	server_hosts_done(&reg);
}

TestSuite(drift, .init = setup, .fini = teardown, .timeout = 10);

/* A host set to desired by rollout 3 at t=1000; now live at live and
 * after a reboot at after from file (after 0: no file sets it). */
static struct server_host *host(const char *name, uint64_t desired, uint64_t live, uint64_t after,
                                const char *file)
{
	struct server_host *h = server_hosts_add(&reg, name, 0);
	Aioctl__V1__HostDetail *d = calloc(1, sizeof(*d));
	Aioctl__V1__Persisted *p = calloc(1, sizeof(*p));

	cr_assert(h && d && p);
	h->has_desired = true;
	h->desired = desired;
	h->desired_rollout = 3;
	h->desired_ms = 1000;
	h->has_sample = true;
	h->sample.aio_max_nr = live;
	aioctl__v1__host_detail__init(d);
	aioctl__v1__persisted__init(p);
	p->has_value = after != 0;
	p->value = after;
	p->file = file ? strdup(file) : NULL;
	d->persisted = p;
	server_host_set_detail(h, d);
	server_hosts_set_string(&h->sysctl_file, "/etc/sysctl.d/60-aioctl.conf");
	return h;
}

static struct server_drift one(struct server_host *h)
{
	struct server_drift d;

	cr_assert(server_drift_host(h, &d), "%s should drift", h->name);
	return d;
}

Test(drift, a_host_at_its_desired_value_has_none)
{
	struct server_drift d;
	struct server_host *h =
	        host("fine", 131072, 131072, 131072, "/etc/sysctl.d/60-aioctl.conf");

	cr_assert_not(server_drift_host(h, &d));
	h->has_desired = false;
	h->sample.aio_max_nr = 1;
	cr_assert_not(server_drift_host(h, &d), "no rollout set it: nothing to drift from");
}

Test(drift, a_live_change_by_hand)
{
	struct server_drift d =
	        one(host("hand", 131072, 65536, 131072, "/etc/sysctl.d/60-aioctl.conf"));

	cr_assert_str_eq(d.host, "hand");
	cr_assert_eq(d.desired, 131072);
	cr_assert_eq(d.runtime, 65536);
	cr_assert_eq(d.rollout_id, 3);
	cr_assert_str_eq(d.cause, "live value changed by hand (sysctl -w?)");
	free(d.persisted_file);
}

Test(drift, a_reboot_that_lost_a_live_only_change)
{
	struct server_host *h = host("rebooted", 131072, 65536, 65536, "/etc/sysctl.d/99-x.conf");
	struct server_drift d;

	h->boot_time_ms = 2000; /* after the change */
	d = one(h);
	cr_assert_not_null(strstr(d.cause, "a reboot lost a live-only change"), "%s", d.cause);
	cr_assert_not_null(strstr(d.cause, "/etc/sysctl.d/99-x.conf wins at boot"), "%s", d.cause);
	cr_assert_str_eq(d.persisted_file, "/etc/sysctl.d/99-x.conf");
	free(d.persisted_file);
}

Test(drift, the_agents_own_file_edited_by_hand)
{
	struct server_drift d =
	        one(host("edited", 131072, 131072, 99999, "/etc/sysctl.d/60-aioctl.conf"));

	cr_assert_str_eq(d.cause,
	                 "the agent's file /etc/sysctl.d/60-aioctl.conf was edited by hand");
	free(d.persisted_file);
}

/* The guard raised the limit to let a domain start: its own cause, not a
 * change by hand. */
Test(drift, a_raise_by_the_guard_is_named)
{
	struct server_host *h =
	        host("guarded", 131072, 262144, 262144, "/etc/sysctl.d/60-aioctl.conf");
	Aioctl__V1__AioEvent ev = AIOCTL__V1__AIO_EVENT__INIT;
	struct server_drift d;

	ev.time_ms = 5000; /* after the rollout's change */
	ev.kind = AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED;
	ev.source = "aio-guard";
	ev.key = "guard:1";
	server_host_add_event(h, &ev);
	d = one(h);
	cr_assert_not_null(strstr(d.cause, "raised by the guard to let a domain start"), "%s",
	                   d.cause);
	cr_assert_not_null(strstr(d.cause, "the guard kept its raise in the agent's file"), "%s",
	                   d.cause);
	cr_assert_eq(server_host_errors_24h(h, 6000), 0, "a raise is not an error");
	free(d.persisted_file);
}

Test(drift, no_file_means_the_kernel_default_after_a_reboot)
{
	struct server_drift d = one(host("bare", 131072, 131072, 0, NULL));

	cr_assert_eq(d.persisted, AIO_KERNEL_DEFAULT_MAX);
	cr_assert_str_eq(d.cause, "no file sets it: a reboot gives the kernel default");
	cr_assert_null(d.persisted_file);
}

Test(drift, the_list_holds_only_drifted_hosts_in_order)
{
	struct server_drift *v;
	size_t n;

	host("a-fine", 131072, 131072, 131072, "/etc/sysctl.d/60-aioctl.conf");
	host("b-hand", 131072, 1, 131072, "/etc/sysctl.d/60-aioctl.conf");
	host("c-bare", 131072, 131072, 0, NULL);
	cr_assert_eq(server_drift_list(&reg, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].host, "b-hand");
	cr_assert_str_eq(v[1].host, "c-bare");
	server_drift_free(v, n);
}
