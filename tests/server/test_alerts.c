/* Alert evaluation (server/alerts.c) on hosts made in memory: a condition
 * starts an alert, its end clears it (with hysteresis where it has one),
 * and active alerts are loaded again after a restart. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "bounds.h"
#include "clock.h"
#include "config.h"
#include "fixture.h"

static struct fixture f;
static struct server_config conf;
static struct server_alerts al;

static void start(void)
{
	cr_assert_eq(server_alerts_init(&al, &conf, &f.reg, NULL, f.db), 0);
	cr_assert_eq(server_alerts_load(&al), 0);
	cr_assert_eq(server_db_start(f.db, 1000, 64, 0), 0);
}

static void setup(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.alert_utilization = 90;
	conf.alert_room = 4;
	fixture_open(&f);
	start();
}

static void teardown(void)
{
	server_alerts_done(&al);
	fixture_done(&f);
}

TestSuite(server_alerts, .init = setup, .fini = teardown, .timeout = 20);

static struct server_host *host(const char *name, uint64_t nr, uint64_t max)
{
	struct server_host *h = server_hosts_add(&f.reg, name, 0);

	cr_assert(h);
	h->has_sample = true;
	h->sample.aio_nr = h->sample.aio_nr_max = nr;
	h->sample.aio_max_nr = max;
	h->last_seen_ms = aio_now_ms();
	return h;
}

Test(server_alerts, utilization_starts_and_clears_below_its_hysteresis)
{
	struct server_host *h = host("hv1", 950000, 1000000);

	host("hv2", 100000, 1000000);
	server_alerts_evaluate(&al, aio_now_ms());
	cr_assert_eq(server_alerts_active_count(&al, ALERT_UTILIZATION), 1);
	h->sample.aio_nr_max = 870000; /* under 90, not under 85 */
	server_alerts_evaluate(&al, aio_now_ms());
	cr_assert_eq(server_alerts_active_count(&al, ALERT_UTILIZATION), 1, "hysteresis holds it");
	h->sample.aio_nr_max = 840000;
	server_alerts_evaluate(&al, aio_now_ms());
	cr_assert_eq(server_alerts_active_count(&al, ALERT_UTILIZATION), 0);
}

Test(server_alerts, room_for_too_few_contexts)
{
	/* 3 more 1024-event contexts fit: under 4 */
	host("tight", 65536 - 3 * 1024, 65536);
	host("roomy", 1024, 65536);
	server_alerts_evaluate(&al, aio_now_ms());
	cr_assert_eq(server_alerts_active_count(&al, ALERT_ROOM), 1);
}

Test(server_alerts, revoked_hosts_raise_nothing)
{
	struct server_host *h = host("gone", 999999, 1000000);

	h->revoked_ms = 1;
	server_alerts_evaluate(&al, aio_now_ms());
	cr_assert_eq(server_alerts_active_count(&al, ALERT_UTILIZATION), 0);
	cr_assert_eq(server_alerts_active_count(&al, ALERT_ROOM), 0);
}

Test(server_alerts, a_silent_host_only_once_the_server_has_been_up_long_enough)
{
	struct server_host *h = host("quiet", 1000, 65536);
	uint64_t now = aio_now_ms();

	conf.alert_silent_ms = 60000;
	h->last_seen_ms = now - 120000;
	server_alerts_evaluate(&al, now);
	cr_assert_eq(server_alerts_active_count(&al, ALERT_SILENT), 0, "just started");
	server_alerts_evaluate(&al, now + 61000);
	cr_assert_eq(server_alerts_active_count(&al, ALERT_SILENT), 1);
}

Test(server_alerts, active_alerts_come_back_after_a_restart)
{
	host("hv1", 950000, 1000000);
	server_alerts_evaluate(&al, aio_now_ms());
	cr_assert_eq(server_alerts_active_count(&al, ALERT_UTILIZATION), 1);
	server_alerts_done(&al);
	fixture_reopen(&f);
	start();
	cr_assert_eq(server_alerts_active_count(&al, ALERT_UTILIZATION), 1);
}

/* bsearch(NULL, 0) on an empty list, and sums of counters at their bound,
 * once aborted the sanitizer build: the ASan+UBSan run goes through both. */
Test(server_alerts, an_empty_fleet_and_counters_at_their_bound)
{
	server_alerts_evaluate(&al, aio_now_ms());
	cr_expect_eq(server_alerts_active_count(&al, ALERT_ROOM), 0, "nothing, and no crash");
	for (int i = 0; i < 64; i++) {
		char name[16];

		snprintf(name, sizeof(name), "big%d", i);
		host(name, AIO_COUNTER_MAX, AIO_COUNTER_MAX);
	}
	server_alerts_evaluate(&al, aio_now_ms());
	cr_expect_eq(server_alerts_active_count(&al, ALERT_UTILIZATION), 64);
	cr_expect_eq(server_alerts_active_count(&al, ALERT_ROOM), 64);
}
