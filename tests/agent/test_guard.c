/* The guard (agent/guard.c) on a sysroot: a start that fits passes and
 * keeps its room reserved, one that does not is refused, raised within
 * limit-max or let through by policy, and starts at once do not pass on
 * the same room. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "guard.h"

static char root[64], state[128];
static struct agent_config conf;

static void put(const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	cr_assert_eq(aio_file_write_atomic(path, text, strlen(text), 0644), 0, "%s", path);
}

static uint64_t live(void)
{
	char path[256];
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-max-nr", root);
	cr_assert_eq(aio_file_read_u64(path, &v), 0);
	return v;
}

static void setup(void)
{
	char cmd[256];

	snprintf(root, sizeof(root), "/tmp/aioctl-guard-XXXXXX");
	cr_assert(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/proc/sys/fs", root);
	cr_assert_eq(system(cmd), 0);
	snprintf(state, sizeof(state), "%s/state", root);
	put("/proc/sys/fs/aio-max-nr", "65536\n");
	put("/proc/sys/fs/aio-nr", "60416\n"); /* room for 5 contexts */
	memset(&conf, 0, sizeof(conf));
	conf.sysroot = root;
	conf.state_dir = state;
	conf.sysctl_file = "/etc/sysctl.d/zz-aioctl.conf";
	conf.limit_min = 65536;
	conf.limit_max = 262144;
	conf.limit_margin = 4096;
	conf.guard_reservation_ms = 60000;
	conf.guard = "refuse";
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(guard, .init = setup, .fini = teardown, .timeout = 30);

/* A domain with n main-loop-or-iothread contexts of io='native'. */
static char *domain(const char *name, unsigned n)
{
	static char xml[8192];
	size_t o = 0;

	o += (size_t)snprintf(xml + o, sizeof(xml) - o,
	                      "<domain type='kvm'><name>%s</name><iothreads>%u</iothreads>"
	                      "<devices>",
	                      name, n);
	for (unsigned i = 0; i < n; i++)
		o += (size_t)snprintf(xml + o, sizeof(xml) - o,
		                      "<disk type='file' device='disk'><driver name='qemu' "
		                      "type='raw' cache='none' io='native' iothread='%u'/>"
		                      "<source file='/var/lib/libvirt/images/%s-%u.raw'/>"
		                      "<target dev='vd%c' bus='virtio'/></disk>",
		                      i ? i : 0, name, i, 'a' + i);
	snprintf(xml + o, sizeof(xml) - o, "</devices></domain>");
	return xml;
}

static enum agent_guard_verdict decide(enum agent_guard_policy p, const char *name, unsigned n,
                                       struct agent_guard_result *g)
{
	const char *xml = domain(name, n);

	cr_assert_eq(agent_guard_decide(&conf, p, xml, strlen(xml), g), 0, "%s", g->message);
	return g->verdict;
}

Test(guard, a_start_that_fits_passes_and_reserves_its_room)
{
	struct agent_guard_result g;

	cr_expect_eq(decide(GUARD_REFUSE, "vm1", 3, &g), GUARD_PASSED, "%s", g.message);
	cr_expect_eq(g.demand.contexts, 3);
	/* 2 contexts left, not 5: the first start's are not there yet */
	cr_expect_eq(decide(GUARD_REFUSE, "vm2", 3, &g), GUARD_REFUSED);
	cr_expect(strstr(g.message, "domain vm2 needs 3 AIO contexts"), "%s", g.message);
	cr_expect(strstr(g.message, "room for 2"), "%s", g.message);
	cr_expect(strstr(g.message, "sysctl -w fs.aio-max-nr=131072"), "%s", g.message);
	cr_expect_eq(decide(GUARD_REFUSE, "vm1", 3, &g), GUARD_PASSED,
	             "vm1 tried again: its own reservation does not count against it");
	cr_expect_eq(decide(GUARD_REFUSE, "vm3", 2, &g), GUARD_PASSED);
	cr_expect_eq(decide(GUARD_REFUSE, "vm6", 1, &g), GUARD_REFUSED, "vm1 and vm3 hold it all");
	agent_guard_release(&conf, "vm3"); /* libvirt: vm3 stopped */
	cr_expect_eq(decide(GUARD_REFUSE, "vm6", 1, &g), GUARD_PASSED, "%s", g.message);
	agent_guard_release(&conf, "vm6");
	cr_expect_eq(decide(GUARD_REFUSE, "vm3", 2, &g), GUARD_PASSED);
	/* vm1's and vm3's contexts appear: the reservations go */
	put("/proc/sys/fs/aio-nr", "65536\n");
	cr_expect_eq(decide(GUARD_REFUSE, "vm4", 1, &g), GUARD_REFUSED, "no room at all now");
	put("/proc/sys/fs/aio-nr", "61440\n"); /* vm3 stopped: 4 contexts free */
	cr_expect_eq(decide(GUARD_REFUSE, "vm5", 4, &g), GUARD_PASSED, "%s", g.message);
	cr_expect_eq(live(), 65536, "refuse never changes the limit");
}

Test(guard, raise_makes_room_within_limit_max_as_a_step_does)
{
	struct agent_guard_result g;
	char path[256], *text = NULL;

	put("/proc/sys/fs/aio-nr", "65536\n");
	cr_expect_eq(decide(GUARD_RAISE, "vm1", 2, &g), GUARD_RAISED, "%s", g.message);
	/* 65536 + 2048 + the margin 4096, to the next power of two */
	cr_expect_eq(g.raised_to, 131072);
	cr_expect_eq(live(), 131072);
	snprintf(path, sizeof(path), "%s/etc/sysctl.d/zz-aioctl.conf", root);
	cr_assert_eq(aio_file_read_all(path, 4096, &text, NULL), 0, "persisted for the boot");
	cr_expect(strstr(text, "fs.aio-max-nr = 131072"), "%s", text);
	cr_expect(strstr(text, "guard"), "%s", text);
	free(text);
	put("/proc/sys/fs/aio-nr", "262144\n");
	put("/proc/sys/fs/aio-max-nr", "262144\n");
	cr_expect_eq(decide(GUARD_RAISE, "vm2", 1, &g), GUARD_REFUSED, "past limit-max");
	cr_expect(strstr(g.message, "limit-max 262144"), "%s", g.message);
	cr_expect_eq(live(), 262144);
}

Test(guard, warn_and_off_let_every_start_through)
{
	struct agent_guard_result g;

	put("/proc/sys/fs/aio-nr", "65536\n");
	cr_expect_eq(decide(GUARD_WARN, "vm1", 1, &g), GUARD_WARNED);
	cr_expect(strstr(g.message, "needs 1 AIO context"), "%s", g.message);
	cr_expect_eq(decide(GUARD_OFF, "vm1", 1, &g), GUARD_PASSED);
	cr_expect_eq(decide(GUARD_REFUSE, "none", 0, &g), GUARD_PASSED, "no native AIO: no room");
}

/* The hook as libvirt runs it: only "prepare begin" is the guard's, and
 * its own failure blocks a start only under refuse. */
Test(guard, the_hook_and_its_bad_input)
{
	FILE *in, *err = fopen("/dev/null", "w");
	char *argv_prepare[] = { "vm1", "prepare", "begin", "-" };
	char *argv_started[] = { "vm1", "started", "begin", "-" };

	cr_assert(err);
	cr_assert((in = fmemopen("garbage", 7, "r")));
	cr_expect_eq(agent_guard_main(&conf, 4, argv_started, in, err), 0, "not its moment");
	conf.guard = "raise";
	cr_expect_eq(agent_guard_main(&conf, 4, argv_prepare, in, err), 0,
	             "bad XML does not block a start under raise");
	rewind(in);
	conf.guard = "refuse";
	cr_expect_eq(agent_guard_main(&conf, 4, argv_prepare, in, err), 1, "but does under refuse");
	fclose(in);
	conf.guard = "sometimes";
	cr_assert((in = fmemopen("x", 1, "r")));
	cr_expect_eq(agent_guard_main(&conf, 4, argv_prepare, in, err), 0, "a bad policy neither");
	fclose(in);
	conf.guard = "raise";
	conf.state_dir = "/proc/version/state"; /* cannot be made */
	in = fmemopen(domain("vm1", 1), strlen(domain("vm1", 1)), "r");
	cr_expect_eq(agent_guard_main(&conf, 4, argv_prepare, in, err), 0,
	             "nor a missing state dir");
	fclose(in);
	fclose(err);
}

/* Four domains of one context each started at once, room for two. */
Test(guard, starts_at_once_do_not_pass_on_the_same_room)
{
	int passed = 0;

	put("/proc/sys/fs/aio-nr", "63488\n"); /* room for 2 contexts */
	for (int i = 0; i < 4; i++) {
		pid_t pid = fork();

		cr_assert(pid >= 0);
		if (pid == 0) {
			struct agent_guard_result g;
			char name[16];
			const char *xml;

			snprintf(name, sizeof(name), "vm%d", i);
			xml = domain(name, 1);
			if (agent_guard_decide(&conf, GUARD_REFUSE, xml, strlen(xml), &g) < 0)
				_exit(2);
			_exit(g.verdict == GUARD_PASSED ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;

		cr_assert(wait(&status) > 0);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) < 2);
		passed += WEXITSTATUS(status) == 0;
	}
	cr_expect_eq(passed, 2, "exactly two of four pass");
}

static bool collect(const struct agent_event *ev, void *arg)
{
	struct agent_event *v = arg;

	for (int i = 0; i < 4; i++)
		if (!v[i].key[0]) {
			v[i] = *ev;
			return true;
		}
	return false;
}

/* What the guard decided, other than a pass, is kept for the agent to
 * report, read once, and removed when the report is stored. */
Test(guard, decisions_are_kept_for_the_agent)
{
	struct agent_event v[4] = { 0 };
	struct agent_guard_result g;
	char last[AGENT_GUARD_EVENT_NAME + 1] = "";

	cr_expect_eq(decide(GUARD_REFUSE, "vm1", 1, &g), GUARD_PASSED, "a pass is not kept");
	put("/proc/sys/fs/aio-nr", "65536\n");
	cr_expect_eq(decide(GUARD_REFUSE, "vm2", 2, &g), GUARD_REFUSED);
	agent_guard_events_read(state, "", collect, v, last);
	cr_assert_eq(v[0].kind, AIOCTL__V1__EVENT_KIND__EVENT_GUARD_REFUSED);
	cr_expect_str_eq(v[0].vm, "vm2");
	cr_expect_str_eq(v[0].source, "aio-guard");
	cr_expect_eq(v[0].contexts, 2, "the domain's demand travels with it");
	cr_expect(strstr(v[0].line, "needs 2 AIO contexts"), "%s", v[0].line);
	cr_expect_eq(strncmp(v[0].key, "guard:", 6), 0);
	cr_expect_str_neq(last, "");
	cr_expect_str_eq(v[1].key, "", "one decision, one event");
	memset(v, 0, sizeof(v));
	agent_guard_events_read(state, last, collect, v, last);
	cr_expect_str_eq(v[0].key, "", "read once");
	agent_guard_events_trim(state, last);
	agent_guard_events_read(state, "", collect, v, last);
	cr_expect_str_eq(v[0].key, "", "and gone once stored");
}
