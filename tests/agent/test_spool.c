#include <criterion/criterion.h>

#include "spool.h"

static struct agent_report rep(uint64_t seq)
{
	struct agent_report r = { .seq = seq };

	r.sample.aio_nr = seq * 10;
	return r;
}

Test(spool, fifo)
{
	struct agent_spool sp;

	cr_assert_eq(agent_spool_init(&sp, 4), 0);
	cr_expect_null(agent_spool_peek(&sp));
	for (uint64_t i = 1; i <= 3; i++) {
		struct agent_report r = rep(i);

		agent_spool_push(&sp, &r);
	}
	for (uint64_t i = 1; i <= 3; i++) {
		cr_assert_not_null(agent_spool_peek(&sp));
		cr_expect_eq(agent_spool_peek(&sp)->seq, i);
		cr_expect_eq(agent_spool_peek(&sp)->sample.aio_nr, i * 10);
		agent_spool_pop(&sp);
	}
	cr_expect_null(agent_spool_peek(&sp));
	cr_expect_eq(sp.dropped, 0);
	agent_spool_done(&sp);
}

Test(spool, overflow_drops_oldest_and_counts)
{
	struct agent_spool sp;

	cr_assert_eq(agent_spool_init(&sp, 3), 0);
	for (uint64_t i = 1; i <= 5; i++) {
		struct agent_report r = rep(i);

		agent_spool_push(&sp, &r);
	}
	cr_expect_eq(sp.dropped, 2);
	cr_expect_eq(sp.len, 3);
	cr_expect_eq(agent_spool_peek(&sp)->seq, 3);
	agent_spool_done(&sp);
}
