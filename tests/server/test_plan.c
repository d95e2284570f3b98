/* Planning a rollout (server/plan.c) on hosts made in memory: which hosts
 * a SetLimit takes, skips and refuses, and the waves they run in. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static struct server_hosts reg;

static void setup(void)
{
	cr_assert_eq(server_hosts_init(&reg), 0);
}

static void teardown(void)
{
	server_hosts_done(&reg);
}

TestSuite(plan, .init = setup, .fini = teardown, .timeout = 10);

/* A host seen at aio-nr nr under limit max; after a reboot it gets after
 * (0: not scanned). */
static struct server_host *host(const char *name, uint64_t nr, uint64_t max, uint64_t after)
{
	struct server_host *h = server_hosts_add(&reg, name, 0);

	cr_assert(h);
	h->has_sample = true;
	h->sample.aio_nr = h->sample.aio_nr_max = nr;
	h->sample.aio_max_nr = max;
	if (after) {
		Aioctl__V1__HostDetail *d = calloc(1, sizeof(*d));
		Aioctl__V1__Persisted *p = calloc(1, sizeof(*p));

		cr_assert(d && p);
		aioctl__v1__host_detail__init(d);
		aioctl__v1__persisted__init(p);
		p->has_value = true;
		p->value = after;
		d->persisted = p;
		server_host_set_detail(h, d);
	}
	return h;
}

static Aioctl__V1__SetLimitRequest request(uint64_t target)
{
	Aioctl__V1__SetLimitRequest in = AIOCTL__V1__SET_LIMIT_REQUEST__INIT;

	in.target = target;
	return in;
}

static int plan(const Aioctl__V1__SetLimitRequest *in, server_plan_conflict_fn conflict,
                struct server_plan *ret)
{
	return server_plan_make(in, (const struct server_host *const *)reg.all, reg.n, conflict,
	                        NULL, ret);
}

static void fleet(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "hv%03zu", i);
		host(name, 1000, 65536, 65536);
	}
}

Test(plan, one_canary_then_batches_of_ten_percent_by_name)
{
	Aioctl__V1__SetLimitRequest in = request(1048576);
	struct server_plan p;

	host("zeta", 1000, 65536, 65536);
	host("alpha", 1000, 65536, 65536);
	fleet(20);
	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_eq(p.n_steps, 22);
	/* by name: alpha first, zeta last */
	cr_assert_str_eq(p.steps[0].host, "alpha");
	cr_assert_str_eq(p.steps[21].host, "zeta");
	/* one canary, then 21 hosts in batches of ceil(10%) = 3: 7 waves */
	cr_assert_eq(p.steps[0].wave, 0);
	cr_assert_eq(p.steps[1].wave, 1);
	cr_assert_eq(p.steps[3].wave, 1);
	cr_assert_eq(p.steps[4].wave, 2);
	cr_assert_eq(p.n_waves, 8);
	for (size_t i = 0; i < p.n_steps; i++)
		cr_assert_eq(p.steps[i].target, 1048576);
	cr_assert_null(p.skipped);
	cr_assert_null(p.refused);
	server_plan_done(&p);
}

Test(plan, count_and_percent_batches)
{
	Aioctl__V1__SetLimitRequest in = request(131072);
	struct server_plan p;

	fleet(10);
	in.has_canary = true;
	in.canary = 2;
	in.has_batch = true;
	in.batch = 3; /* hosts */
	cr_assert_eq(plan(&in, NULL, &p), 0);
	/* 2 canaries, then 3 + 3 + 2 */
	cr_assert_eq(p.n_waves, 4);
	cr_assert_eq(p.steps[1].wave, 0);
	cr_assert_eq(p.steps[2].wave, 1);
	cr_assert_eq(p.steps[9].wave, 3);
	server_plan_done(&p);

	in.has_canary = true;
	in.canary = 0;
	in.batch = 50;
	in.has_batch_percent = true;
	in.batch_percent = true;
	cr_assert_eq(plan(&in, NULL, &p), 0);
	/* no canary: two halves */
	cr_assert_eq(p.n_waves, 2);
	cr_assert_eq(p.steps[0].wave, 0);
	cr_assert_eq(p.steps[4].wave, 0);
	cr_assert_eq(p.steps[5].wave, 1);
	server_plan_done(&p);

	in.batch = 100;
	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_eq(p.n_waves, 1, "100%%: everything at once");
	server_plan_done(&p);
}

Test(plan, hosts_at_the_target_are_skipped_live_and_after_reboot)
{
	Aioctl__V1__SetLimitRequest in = request(131072);
	struct server_plan p;

	host("done", 1000, 131072, 131072);
	host("live-only", 1000, 131072, 65536); /* a reboot would lose it */
	host("unscanned", 1000, 131072, 0);     /* after-reboot value unknown */
	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_str_eq(p.skipped, "done");
	cr_assert_eq(p.n_steps, 2);
	cr_assert_str_eq(p.steps[0].host, "live-only");
	cr_assert_str_eq(p.steps[1].host, "unscanned");
	server_plan_done(&p);
}

Test(plan, a_hosts_own_bounds_and_usage_refuse_it)
{
	Aioctl__V1__SetLimitRequest in = request(131072);
	struct server_host *h;
	struct server_plan p;

	h = host("bounded", 1000, 65536, 65536);
	h->limit_min = 65536;
	h->limit_max = 100000;
	h = host("busy", 130000, 262144, 262144);
	h->limit_margin = 4096;
	host("free", 1000, 65536, 65536);
	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_eq(p.n_steps, 1);
	cr_assert_str_eq(p.steps[0].host, "free");
	cr_assert_not_null(strstr(p.refused, "bounded: outside its bounds 65536..100000"), "%s",
	                   p.refused);
	cr_assert_not_null(strstr(p.refused, "busy: below its usage 130000 + margin 4096"), "%s",
	                   p.refused);
	server_plan_done(&p);

	/* --force lowers below usage, never past the host's own bounds */
	in.has_force = true;
	in.force = true;
	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_eq(p.n_steps, 2);
	cr_assert_not_null(strstr(p.refused, "bounded"));
	cr_assert_null(strstr(p.refused, "busy"));
	server_plan_done(&p);
}

static uint64_t held_by_7(int64_t host_id, void *arg)
{
	(void)arg;
	return host_id == 2 ? 7 : 0;
}

Test(plan, a_host_in_another_rollout_is_a_conflict_unless_superseded)
{
	Aioctl__V1__SetLimitRequest in = request(131072);
	struct server_plan p;

	fleet(3);
	cr_assert_eq(plan(&in, held_by_7, &p), -EEXIST);
	cr_assert_eq(p.conflict, 7);
	server_plan_done(&p);
	in.has_supersede = true;
	in.supersede = true;
	cr_assert_eq(plan(&in, held_by_7, &p), 0);
	cr_assert_eq(p.n_steps, 3);
	server_plan_done(&p);
}

Test(plan, selectors_pick_by_glob_and_labels)
{
	Aioctl__V1__SetLimitRequest in = request(131072);
	Aioctl__V1__Selector sel = AIOCTL__V1__SELECTOR__INIT;
	Aioctl__V1__Label l = AIOCTL__V1__LABEL__INIT, *lp = &l;
	struct server_plan p;

	cr_assert_eq(server_hosts_add_label(host("hv-a1", 0, 65536, 65536), "rack", "a"), 0);
	cr_assert_eq(server_hosts_add_label(host("hv-a2", 0, 65536, 65536), "rack", "b"), 0);
	cr_assert_eq(server_hosts_add_label(host("db-a3", 0, 65536, 65536), "rack", "a"), 0);
	sel.hosts_glob = "hv-*";
	l.key = "rack";
	l.value = "a";
	sel.labels = &lp;
	sel.n_labels = 1;
	in.selector = &sel;
	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_eq(p.n_steps, 1);
	cr_assert_str_eq(p.steps[0].host, "hv-a1");
	server_plan_done(&p);
}

Test(plan, reconcile_goes_back_to_each_hosts_desired_value)
{
	Aioctl__V1__SetLimitRequest in = request(0);
	struct server_host *h;
	struct server_plan p;

	h = host("drifted", 1000, 65536, 65536);
	h->has_desired = true;
	h->desired = 262144;
	h = host("fine", 1000, 131072, 131072);
	h->has_desired = true;
	h->desired = 131072;
	host("never-set", 1000, 65536, 65536);
	in.reconcile = true;
	cr_assert_null(server_plan_check(&in));
	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_eq(p.n_steps, 1);
	cr_assert_str_eq(p.steps[0].host, "drifted");
	cr_assert_eq(p.steps[0].target, 262144);
	cr_assert_null(p.skipped, "a reconcile lists nobody as skipped");
	server_plan_done(&p);
}

Test(plan, options_out_of_range_name_the_flag)
{
	Aioctl__V1__SetLimitRequest in = request(0);

	cr_assert_str_eq(server_plan_check(&in), "--max: 1 to 4294967295");
	in.target = 131072;
	cr_assert_null(server_plan_check(&in));
	in.has_batch = true;
	in.batch = 0;
	cr_assert_str_eq(server_plan_check(&in), "--batch: a count from 1, or 1% to 100%");
	in.batch = 101;
	in.has_batch_percent = in.batch_percent = true;
	cr_assert_str_eq(server_plan_check(&in), "--batch: a count from 1, or 1% to 100%");
	in.has_batch = false;
	in.has_soak_ms = true;
	in.soak_ms = 25ULL * 3600 * 1000;
	cr_assert_str_eq(server_plan_check(&in), "--soak: at most 24h");
}

Test(plan, no_hosts_no_steps)
{
	Aioctl__V1__SetLimitRequest in = request(131072);
	struct server_plan p;

	cr_assert_eq(plan(&in, NULL, &p), 0);
	cr_assert_eq(p.n_steps, 0);
	cr_assert_eq(p.n_waves, 0);
	server_plan_done(&p);
}
