#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "sampler.h"

static char root[64];

static void setup(void)
{
	char cmd[128];

	snprintf(root, sizeof(root), "/tmp/aioctl-sampler-XXXXXX");
	cr_assert(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/proc/sys/fs", root);
	cr_assert(system(cmd) == 0);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert(system(cmd) == 0);
}

TestSuite(sampler, .init = setup, .fini = teardown);

static void set(unsigned long nr, unsigned long max)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-nr", root);
	cr_assert((f = fopen(path, "w")));
	fprintf(f, "%lu\n", nr);
	fclose(f);
	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-max-nr", root);
	cr_assert((f = fopen(path, "w")));
	fprintf(f, "%lu\n", max);
	fclose(f);
}

Test(sampler, window_keeps_peak_between_reports)
{
	struct agent_sampler sm;
	Aioctl__V1__Sample s;

	cr_assert_eq(agent_sampler_init(&sm, root), 0);
	sm.start_ms = 1000;
	set(100, 65536);
	cr_assert_eq(agent_sampler_read(&sm), 0);
	set(5000, 65536); /* a VM start peak */
	cr_assert_eq(agent_sampler_read(&sm), 0);
	set(40, 131072);
	cr_assert_eq(agent_sampler_read(&sm), 0);
	cr_assert(agent_sampler_take(&sm, 11000, &s));
	cr_expect_eq(s.aio_nr, 40);
	cr_expect_eq(s.aio_nr_min, 40);
	cr_expect_eq(s.aio_nr_max, 5000);
	cr_expect_eq(s.aio_max_nr, 131072);
	cr_expect_eq(s.reads, 3);
	cr_expect_eq(s.time_ms, 11000);
	cr_expect_eq(s.interval_ms, 10000);

	/* the next window starts afresh */
	cr_assert_eq(agent_sampler_read(&sm), 0);
	cr_assert(agent_sampler_take(&sm, 21000, &s));
	cr_expect_eq(s.aio_nr_max, 40);
	cr_expect_eq(s.reads, 1);
	cr_expect_not(agent_sampler_take(&sm, 31000, &s), "an empty window is not a sample");
}

Test(sampler, unreadable_counters)
{
	struct agent_sampler sm;
	Aioctl__V1__Sample s;

	cr_assert_eq(agent_sampler_init(&sm, root), 0);
	cr_expect_eq(agent_sampler_read(&sm), -ENOENT);
	cr_expect_not(agent_sampler_take(&sm, 1, &s));
}
