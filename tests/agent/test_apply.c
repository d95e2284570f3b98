/* Applying a limit (agent/apply.c) on a sysroot: the host's own bounds
 * hold whatever the server asks, a file that would win at boot stops the
 * change with nothing changed, a step delivered again is answered as
 * before, and a rollback puts back what was there. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "fileio.h"
#include "rpc.h"

#define FILE_PATH "/etc/sysctl.d/60-aioctl.conf"

static char root[64], state[128];
static struct agent_applier ap;

static void put(const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	cr_assert_eq(aio_file_write_atomic(path, text, strlen(text), 0644), 0, "%s", path);
}

static char *get(const char *rel)
{
	static char buf[1024];
	char path[256], *text = NULL;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	if (aio_file_read_all(path, sizeof(buf) - 1, &text, NULL) < 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
	return buf;
}

static uint64_t live(void)
{
	return strtoull(get("/proc/sys/fs/aio-max-nr"), NULL, 10);
}

static void setup(void)
{
	char cmd[256];

	snprintf(root, sizeof(root), "/tmp/aioctl-apply-XXXXXX");
	cr_assert(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/proc/sys/fs %s/state", root, root);
	cr_assert_eq(system(cmd), 0);
	snprintf(state, sizeof(state), "%s/state", root);
	put("/proc/sys/fs/aio-max-nr", "65536\n");
	put("/proc/sys/fs/aio-nr", "1024\n");
	/* a minimal host: no /etc/sysctl.d at all */
	cr_assert_eq(agent_apply_init(&ap, root, FILE_PATH, state, 65536, 4194304, 4096), 0);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(apply, .init = setup, .fini = teardown, .timeout = 10);

static Aioctl__V1__AckRequest *step(uint64_t step_id, uint64_t target, bool rollback, bool force)
{
	Aioctl__V1__SetLimit cmd = AIOCTL__V1__SET_LIMIT__INIT;

	cmd.rollout_id = 1;
	cmd.step_id = step_id;
	cmd.target = target;
	cmd.has_persist = cmd.persist = true;
	cmd.has_rollback = cmd.rollback = rollback;
	cmd.has_force = cmd.force = force;
	return agent_apply(&ap, step_id * 2 + rollback, &cmd);
}

static void ack_free(Aioctl__V1__AckRequest *ack)
{
	aioctl__v1__ack_request__free_unpacked(ack, NULL);
}

Test(apply, a_limit_within_bounds_goes_live_and_into_the_file)
{
	Aioctl__V1__AckRequest *ack = step(1, 1048576, false, false);
	struct stat st;
	char dir[256];

	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__OK, "%s", ack->message);
	cr_assert_eq(ack->runtime_before, 65536);
	cr_assert_eq(ack->runtime_after, 1048576);
	cr_assert_not_null(ack->persisted_after);
	cr_assert_eq(ack->persisted_after->value, 1048576);
	cr_assert_str_eq(ack->persisted_after->file, FILE_PATH);
	cr_assert_eq(live(), 1048576);
	cr_assert_not_null(strstr(get(FILE_PATH), "fs.aio-max-nr = 1048576\n"));
	snprintf(dir, sizeof(dir), "%s/etc/sysctl.d", root);
	cr_assert_eq(stat(dir, &st), 0, "made on a host that had none");
	cr_assert_eq(st.st_mode & 0777, 0755);
	ack_free(ack);
}

Test(apply, the_hosts_own_bounds_hold_whatever_the_server_says)
{
	Aioctl__V1__AckRequest *ack = step(2, 8388608, false, true);

	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__PERMISSION_DENIED);
	cr_assert_not_null(strstr(ack->message, "outside this host's bounds 65536..4194304"), "%s",
	                   ack->message);
	cr_assert_eq(live(), 65536, "nothing changed");
	cr_assert_null(get(FILE_PATH));
	ack_free(ack);
}

Test(apply, below_usage_plus_margin_only_with_force)
{
	Aioctl__V1__AckRequest *ack;

	put("/proc/sys/fs/aio-nr", "70000\n");
	ack = step(3, 65536, false, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION);
	cr_assert_not_null(strstr(ack->message, "below current usage 70000 plus margin 4096"));
	ack_free(ack);
	ack = step(4, 65536, false, true);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__OK, "%s", ack->message);
	ack_free(ack);
}

Test(apply, a_file_that_wins_at_boot_stops_the_change)
{
	Aioctl__V1__AckRequest *ack;
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/etc/sysctl.d", root);
	cr_assert_eq(aio_mkdir_p(dir, 0755), 0);
	put("/etc/sysctl.d/99-local.conf", "fs.aio-max-nr = 262144\n");
	ack = step(5, 1048576, false, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION);
	cr_assert_not_null(strstr(ack->message, "/etc/sysctl.d/99-local.conf would win at boot"),
	                   "%s", ack->message);
	cr_assert_eq(live(), 65536, "the live value is untouched");
	cr_assert_null(get(FILE_PATH), "our file is taken back");
	ack_free(ack);
}

Test(apply, a_step_delivered_again_is_answered_as_before)
{
	Aioctl__V1__AckRequest *first = step(6, 131072, false, false), *again;

	cr_assert_eq(first->status, AIOCTL__V1__STATUS_CODE__OK);
	put("/proc/sys/fs/aio-max-nr", "99999\n"); /* changed by hand since */
	again = step(6, 131072, false, false);
	cr_assert(again->repeated_delivery);
	cr_assert_eq(again->runtime_after, 131072, "the first answer, not a second apply");
	cr_assert_eq(live(), 99999, "and nothing written again");
	ack_free(first);
	ack_free(again);
}

Test(apply, a_rollback_puts_back_the_file_and_the_live_value)
{
	Aioctl__V1__AckRequest *ack;
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/etc/sysctl.d", root);
	cr_assert_eq(aio_mkdir_p(dir, 0755), 0);
	put(FILE_PATH, "# by hand\nfs.aio-max-nr = 98304\n");
	put("/proc/sys/fs/aio-max-nr", "98304\n");
	ack = step(7, 524288, false, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__OK, "%s", ack->message);
	ack_free(ack);
	cr_assert_eq(live(), 524288);
	ack = step(7, 524288, true, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__OK, "%s", ack->message);
	cr_assert_eq(ack->runtime_after, 98304);
	ack_free(ack);
	cr_assert_eq(live(), 98304);
	cr_assert_str_eq(get(FILE_PATH), "# by hand\nfs.aio-max-nr = 98304\n");
	/* a step that never changed the host has nothing to restore */
	ack = step(8, 524288, true, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__OK);
	cr_assert_not_null(strstr(ack->message, "nothing to restore"));
	ack_free(ack);
}

Test(apply, a_damaged_step_record_is_refused_never_taken_as_done)
{
	Aioctl__V1__AckRequest *ack = step(9, 262144, false, false);
	char rec[256];

	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__OK, "%s", ack->message);
	ack_free(ack);
	/* the record of step 9 emptied, as a full disk or a crash may leave it */
	snprintf(rec, sizeof(rec), "%s/steps/%020d", state, 9);
	cr_assert_eq(truncate(rec, 0), 0, "%s", rec);
	put("/proc/sys/fs/aio-max-nr", "65536\n");
	ack = step(9, 262144, false, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION);
	cr_assert_not_null(strstr(ack->message, "damaged"), "%s", ack->message);
	cr_assert_eq(live(), 65536, "not applied again");
	ack_free(ack);
	ack = step(9, 262144, true, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION,
	             "a rollback of it is not reported as done");
	ack_free(ack);
	/* garbage instead of a record */
	put("/state/steps/00000000000000000010", "not a record at all");
	ack = step(10, 262144, true, false);
	cr_assert_eq(ack->status, AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION);
	ack_free(ack);
}

/* A record that decodes but that this agent cannot have written: a
 * rollback of it would write whatever value it holds. */
Test(apply, a_record_with_an_impossible_value_is_refused)
{
	Aioctl__V1__AgentStepRecord rec = AIOCTL__V1__AGENT_STEP_RECORD__INIT;
	Aioctl__V1__AckRequest done = AIOCTL__V1__ACK_REQUEST__INIT, *ack;
	Aioctl__V1__AgentStepRecord *ok;
	uint8_t buf[256];
	char path[256];
	size_t len;

	done.status = AIOCTL__V1__STATUS_CODE__OK;
	rec.ack = &done;
	rec.has_runtime_before = true;
	rec.runtime_before = 1ULL << 62;
	len = aioctl__v1__agent_step_record__pack(&rec, buf);
	snprintf(path, sizeof(path), "%s/steps/%020d", state, 11);
	cr_assert_eq(aio_file_write_atomic(path, buf, len, 0600), 0);
	cr_expect_null(agent_apply_record_parse(buf, len));
	ack = step(11, 262144, true, false);
	cr_expect_eq(ack->status, AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION, "%s", ack->message);
	ack_free(ack);
	cr_expect_eq(live(), 65536, "nothing written");
	rec.runtime_before = 65536;
	len = aioctl__v1__agent_step_record__pack(&rec, buf);
	ok = agent_apply_record_parse(buf, len);
	cr_expect_not_null(ok, "a value this agent could have read is taken");
	aioctl__v1__agent_step_record__free_unpacked(ok, NULL);
}

Test(apply, step_records_are_kept_within_a_bound, .timeout = 60)
{
	char dir[256], cmd[320], last[300];
	FILE *p;
	int n = 0;

	for (uint64_t id = 1; id <= AGENT_STEPS_KEPT + 20; id++)
		ack_free(step(id, 131072 + (id % 2) * 65536, false, true));
	snprintf(dir, sizeof(dir), "%s/steps", state);
	snprintf(cmd, sizeof(cmd), "ls %s | wc -l", dir);
	cr_assert((p = popen(cmd, "r")));
	cr_assert_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	cr_expect_eq(n, AGENT_STEPS_KEPT, "a server cannot fill the disk with them");
	snprintf(last, sizeof(last), "%s/%020d", dir, AGENT_STEPS_KEPT + 20);
	cr_expect_eq(access(last, F_OK), 0, "the newest stays");
	snprintf(last, sizeof(last), "%s/%020d", dir, 1);
	cr_expect_neq(access(last, F_OK), 0, "the oldest went");
}
