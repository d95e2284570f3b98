/* States as codes (cli/states.c): the printed names, and the code of a
 * name a server of the previous release sent instead. */
#include <criterion/criterion.h>

#include "states.h"

Test(states, codes_have_the_names_aioctl_prints)
{
	cr_assert_str_eq(cli_rollout_state_name(AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLING_BACK),
	                 "rolling-back");
	cr_assert_str_eq(cli_step_state_name(AIOCTL__V1__STEP_STATE__STEP_OFFLINE), "offline");
	cr_assert_str_eq(cli_rollback_state_name(AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_NONE), "");
	cr_assert_str_eq(cli_rollout_state_name((Aioctl__V1__RolloutState)99), "unknown");
}

Test(states, the_code_wins_and_a_name_alone_still_counts)
{
	Aioctl__V1__RolloutStep p = AIOCTL__V1__ROLLOUT_STEP__INIT;

	cr_assert_eq(cli_rollout_state(true, AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PAUSED, "running"),
	             AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PAUSED);
	cr_assert_eq(cli_rollout_state(false, 0, "rolled-back"),
	             AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLED_BACK);
	cr_assert_eq(cli_rollout_state(false, 0, "no-such-state"),
	             AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_STATE_UNKNOWN);
	cr_assert_eq(cli_step_state(false, 0, NULL), AIOCTL__V1__STEP_STATE__STEP_STATE_UNKNOWN);
	p.rollback = "failed";
	cr_assert_eq(cli_rollback_state(&p), AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_FAILED);
	p.has_rollback_code = true;
	p.rollback_code = AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_DONE;
	cr_assert_eq(cli_rollback_state(&p), AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_DONE);
}
