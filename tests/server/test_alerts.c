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
	conf.alert_guard = 1;
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

static void guard_event(struct server_host *h, Aioctl__V1__EventKind kind, uint64_t time_ms)
{
	Aioctl__V1__AioEvent ev = AIOCTL__V1__AIO_EVENT__INIT;

	ev.kind = kind;
	ev.time_ms = time_ms;
	ev.vm = "vm1";
	ev.has_contexts = true;
	ev.contexts = 2;
	server_host_add_event(h, &ev);
}

/* A guard decision of the last hour is an alert, a raise as much as a
 * refusal; an hour later it clears. */
Test(server_alerts, the_guard_s_decisions)
{
	struct server_host *h = host("hv1", 1024, 65536);
	uint64_t now = aio_now_ms();

	guard_event(h, AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED, now - 1000);
	guard_event(h, AIOCTL__V1__EVENT_KIND__EVENT_GUARD_REFUSED, now - 500);
	guard_event(h, AIOCTL__V1__EVENT_KIND__EVENT_GUARD_REFUSED, now - 2 * AIO_HOUR_MS);
	host("hv2", 1024, 65536);
	server_alerts_evaluate(&al, now);
	cr_assert_eq(server_alerts_active_count(&al, ALERT_GUARD), 1);
	cr_expect_eq(server_alerts_active_count(&al, ALERT_ERRORS), 0, "alert-errors is off here");
	pthread_mutex_lock(&al.lock);
	cr_expect(strstr(al.active[0].message, "refused 1 VM starts, raised the limit for 1"), "%s",
	          al.active[0].message);
	pthread_mutex_unlock(&al.lock);
	server_alerts_evaluate(&al, now + AIO_HOUR_MS);
	cr_assert_eq(server_alerts_active_count(&al, ALERT_GUARD), 0, "cleared an hour later");
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
