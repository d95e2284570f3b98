/* Following the per-VM QEMU logs (agent/qemulog.c) on a sysroot, with the
 * log real QEMU 7.2 wrote when its AIO context failed: new files, appends,
 * rotation by rename, copytruncate, and a restart at the stored positions. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "qemulog.h"

static char root[64], dir[128];
static char *fixture; /* tests/fixtures/real/vm-fail.log */
static struct agent_qemulog q;

struct seen {
	int n;
	char vm[4][AIO_VM_NAME_MAX + 1];
	char source[4][AIO_PATH_MAX + 1];
	int stop_after; /* 0: never */
};

static bool on_event(const struct agent_event *ev, void *arg)
{
	struct seen *s = arg;

	if (s->stop_after && s->n == s->stop_after)
		return false;
	if (s->n < 4) {
		snprintf(s->vm[s->n], sizeof(s->vm[s->n]), "%s", ev->vm);
		snprintf(s->source[s->n], sizeof(s->source[s->n]), "%s", ev->source);
	}
	s->n++;
	return true;
}

static void setup(void)
{
	char cmd[256];

	cr_assert_eq(aio_file_read_all(AIO_SOURCE_DIR "/tests/fixtures/real/vm-fail.log", 1 << 20,
	                               &fixture, NULL),
	             0);
	snprintf(root, sizeof(root), "/tmp/aioctl-qemulog-XXXXXX");
	cr_assert(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s%s", root, AGENT_QEMULOG_DIR);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
	char cmd[128];

	agent_qemulog_close(&q);
	free(fixture);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(qemulog, .init = setup, .fini = teardown, .timeout = 10);

static void append(const char *name, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static struct seen read_new(void)
{
	struct seen s = { 0 };

	cr_assert_geq(agent_qemulog_read(&q, on_event, &s), 0);
	return s;
}

Test(qemulog, the_failure_real_qemu_wrote_is_one_event_for_its_vm)
{
	struct seen s;

	cr_assert_eq(agent_qemulog_open(&q, root, NULL), 0);
	append("vm-fail.log", fixture);
	s = read_new();
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.vm[0], "vm-fail", "the file names the VM");
	cr_assert_not_null(strstr(s.source[0], "vm-fail.log"), "%s", s.source[0]);
	cr_assert_eq(read_new().n, 0, "read once");
	append("vm-fail.log", "2026-12-02T13:49:00.000000Z an unrelated line\n");
	cr_assert_eq(read_new().n, 0);
	append("vm-fail.log", fixture);
	cr_assert_eq(read_new().n, 1, "appended: the new failure only");
}

Test(qemulog, a_rotated_file_is_read_to_its_end_then_the_new_one)
{
	char from[256], to[256];
	struct seen s;

	cr_assert_eq(agent_qemulog_open(&q, root, NULL), 0);
	append("vm-a.log", "starting\n");
	cr_assert_eq(read_new().n, 0);
	append("vm-a.log", fixture); /* written just before the rotation */
	snprintf(from, sizeof(from), "%s/vm-a.log", dir);
	snprintf(to, sizeof(to), "%s/vm-a.log.1", dir);
	cr_assert_eq(rename(from, to), 0);
	append("vm-a.log", fixture);
	s = read_new();
	cr_assert_eq(s.n, 2, "the old file's end and the new file");
	cr_assert_str_eq(s.vm[0], "vm-a");
	cr_assert_str_eq(s.vm[1], "vm-a");
}

Test(qemulog, a_truncated_and_rewritten_file_is_read_again)
{
	char path[256];

	cr_assert_eq(agent_qemulog_open(&q, root, NULL), 0);
	append("vm-b.log", fixture);
	cr_assert_eq(read_new().n, 1);
	snprintf(path, sizeof(path), "%s/vm-b.log", dir);
	cr_assert_eq(truncate(path, 0), 0);
	/* written again past the old offset: only its first bytes tell */
	append("vm-b.log", "2026-12-03 09:00:00.000+0000: starting up again\n");
	append("vm-b.log", fixture);
	cr_assert_eq(read_new().n, 1, "copytruncate: from the start");
}

Test(qemulog, a_restart_resumes_at_the_stored_positions)
{
	char *positions = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert_eq(agent_qemulog_open(&q, root, NULL), 0);
	append("vm-c.log", fixture);
	cr_assert_eq(read_new().n, 1);
	cr_assert(f = open_memstream(&positions, &len));
	agent_qemulog_positions(&q, f);
	fclose(f);
	agent_qemulog_close(&q);
	append("vm-c.log", fixture); /* while the agent was down */
	cr_assert_eq(agent_qemulog_open(&q, root, positions), 0);
	free(positions);
	cr_assert_eq(read_new().n, 1, "only what came after the positions");
}

Test(qemulog, an_event_refused_stays_unread)
{
	struct seen s = { .stop_after = 1 };

	cr_assert_eq(agent_qemulog_open(&q, root, NULL), 0);
	append("vm-d.log", fixture);
	append("vm-d.log", fixture);
	cr_assert_geq(agent_qemulog_read(&q, on_event, &s), 0);
	cr_assert_eq(s.n, 1, "stopped before the second");
	cr_assert_eq(read_new().n, 1, "the second comes next time");
}
