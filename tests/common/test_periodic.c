/* The periodic thread: it runs its job once per interval, and a stop
 * returns at once even with an hour left to wait. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>

#include "clock.h"
#include "periodic.h"

static atomic_int runs;

static void job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&runs, 1);
}

Test(periodic, runs_each_interval)
{
	struct aio_periodic p;
	uint64_t deadline = aio_mono_ms() + 10000;

	atomic_store(&runs, 0);
	cr_assert_eq(aio_periodic_start(&p, 20, job, NULL), 0);
	while (atomic_load(&runs) < 3 && aio_mono_ms() < deadline)
		usleep(1000); /* polls a condition with a deadline */
	cr_expect_geq(atomic_load(&runs), 3, "three runs at 20 ms within 10 s");
	cr_expect_not(aio_periodic_stopping(&p));
	aio_periodic_stop(&p);
}

Test(periodic, stop_does_not_wait_for_the_interval)
{
	struct aio_periodic p, never = { 0 };
	uint64_t t0;

	atomic_store(&runs, 0);
	cr_assert_eq(aio_periodic_start(&p, 3600 * 1000, job, NULL), 0);
	t0 = aio_mono_ms();
	aio_periodic_stop(&p);
	cr_expect_lt(aio_mono_ms() - t0, 5000, "stopped without waiting an hour");
	cr_expect_eq(atomic_load(&runs), 0, "the first run is an interval after start");
	aio_periodic_stop(&never); /* a never-started one is fine */
}
