/* The host registry (server/hosts.c): lookups by name and id, the access
 * functions that take its lock, samples taken in one place, selection. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "hosts.h"

static struct server_hosts reg;

static void setup(void)
{
	cr_assert_eq(server_hosts_init(&reg), 0);
}

static void teardown(void)
{
	server_hosts_done(&reg);
}

TestSuite(hosts, .init = setup, .fini = teardown, .timeout = 10);

Test(hosts, many_hosts_are_found_by_name_and_id)
{
	char name[32];
	int64_t *ids;

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "hv%05d", i);
		cr_assert(server_hosts_add(&reg, name, 0));
	}
	cr_assert_eq(server_hosts_count(&reg), 5000);
	cr_assert_eq(server_hosts_id(&reg, "hv04321"), 4322);
	cr_assert_eq(server_hosts_id(&reg, "nope"), 0);
	cr_assert_str_eq(server_hosts_find_id(&reg, 17)->name, "hv00016");
	cr_assert_null(server_hosts_find_id(&reg, 5001));
	cr_assert_eq(server_hosts_ids(&reg, &ids), 5000);
	cr_assert_eq(ids[0], 1);
	cr_assert_eq(ids[4999], 5000);
	free(ids);
}

Test(hosts, a_removed_host_is_gone_and_its_id_never_comes_back)
{
	char name[32];

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "hv%03d", i);
		cr_assert(server_hosts_add(&reg, name, 0));
	}
	cr_assert_eq(server_hosts_remove(&reg, 42), 0);
	cr_assert_eq(server_hosts_remove(&reg, 42), -ENOENT);
	cr_expect_eq(server_hosts_count(&reg), 99);
	cr_expect_eq(server_hosts_id(&reg, "hv041"), 0, "not found by name");
	cr_expect_null(server_hosts_find_id(&reg, 42), "nor by id");
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "hv%03d", i);
		if (i != 41)
			cr_expect_eq(server_hosts_id(&reg, name), i + 1, "%s still there", name);
	}
	server_hosts_ids_from(&reg, 500); /* ids the database has seen */
	cr_expect_eq(server_hosts_add(&reg, "hv041", 0)->id, 500, "a new host, a new id");
}

static int bump(struct server_host *h, void *arg)
{
	h->dropped += *(int *)arg;
	return 7;
}

static int count_dropped(const struct server_host *const *all, size_t n, void *arg)
{
	uint64_t *sum = arg;

	for (size_t i = 0; i < n; i++)
		*sum += all[i]->dropped;
	return 0;
}

Test(hosts, updates_go_through_the_registry)
{
	int by = 3;
	uint64_t sum = 0;

	cr_assert(server_hosts_add(&reg, "hv1", 0));
	cr_assert_eq(server_hosts_update_name(&reg, "hv1", false, bump, &by), 7);
	cr_assert_eq(server_hosts_update_name(&reg, "hv2", false, bump, &by), -ENOENT);
	cr_assert_eq(server_hosts_update_name(&reg, "hv2", true, bump, &by), 7, "created");
	cr_assert_eq(server_hosts_update_id(&reg, 2, bump, &by), 7);
	cr_assert_eq(server_hosts_read_all(&reg, count_dropped, &sum), 0);
	cr_assert_eq(sum, 9);
}

Test(hosts, a_sample_from_before_the_last_change_does_not_count)
{
	Aioctl__V1__Sample s = AIOCTL__V1__SAMPLE__INIT;
	struct server_host *h = server_hosts_add(&reg, "hv1", 0);

	s.time_ms = 1000;
	s.aio_max_nr = 65536;
	server_host_set_sample(h, &s, 5000);
	cr_assert(h->has_sample);
	cr_assert_eq(h->last_seen_ms, 5000);
	h->applied_ms = 2000; /* a rollout step applied at 2000, agent's clock */
	s.time_ms = 1500;
	s.aio_max_nr = 1;
	server_host_set_sample(h, &s, 6000);
	cr_assert_eq(h->sample.aio_max_nr, 65536, "read before the change: ignored");
	cr_assert_eq(h->last_seen_ms, 6000, "but the host was seen");
	s.time_ms = 2500;
	s.aio_max_nr = 131072;
	server_hosts_set_sample(&reg, h->id, &s, 7000);
	cr_assert_eq(h->sample.aio_max_nr, 131072);
}

Test(hosts, after_a_reboot_without_a_file_the_kernel_default)
{
	struct server_host *h = server_hosts_add(&reg, "hv1", 0);
	Aioctl__V1__HostDetail *d = calloc(1, sizeof(*d));
	Aioctl__V1__Persisted *p = calloc(1, sizeof(*p));
	uint64_t v = 0;

	cr_assert_not(server_host_persisted(h, &v), "never scanned");
	aioctl__v1__host_detail__init(d);
	aioctl__v1__persisted__init(p);
	d->persisted = p;
	server_host_set_detail(h, d);
	cr_assert(server_host_persisted(h, &v));
	cr_assert_eq(v, AIO_KERNEL_DEFAULT_MAX);
}

Test(hosts, the_step_check_sees_online_changed_and_errors)
{
	struct server_host *h = server_hosts_add(&reg, "hv1", 0);
	struct server_host_check c;

	h->interval_ms = 1000;
	h->last_seen_ms = 10000;
	h->has_sample = true;
	h->sample.time_ms = 9000;
	h->sample.aio_max_nr = 65536;
	h->last_event_ms = 8000;
	server_hosts_check(&reg, h->id, 10500, 131072, 8500, 7000, &c);
	cr_assert(c.online);
	cr_assert(c.changed, "a report after the apply shows another value");
	cr_assert(c.new_error);
	server_hosts_check(&reg, h->id, 60000, 65536, 9500, 9000, &c);
	cr_assert_not(c.online);
	cr_assert_not(c.changed);
	cr_assert_not(c.new_error);
}

Test(hosts, selectors_and_their_bounds)
{
	Aioctl__V1__Selector sel = AIOCTL__V1__SELECTOR__INIT;
	struct server_host *h = server_hosts_add(&reg, "hv-a1", 0);

	cr_assert_eq(server_hosts_add_label(h, "rack", "a"), 0);
	sel.hosts_glob = "hv-*";
	cr_assert(server_host_selected(h, &sel));
	sel.hosts_glob = "db-*";
	cr_assert_not(server_host_selected(h, &sel));
	cr_assert(server_host_selected(h, NULL));
	cr_assert_null(server_selector_invalid(NULL));
}
