/* Attribution on a sysroot's fake /proc. The real kernel is in
 * tests/integration/test_agent.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"

static char root[64];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/aioctl-attrib-XXXXXX");
	cr_assert(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert(system(cmd) == 0);
}

TestSuite(attrib, .init = setup, .fini = teardown);

static void put(const char *rel, const char *data, size_t len)
{
	char path[256], cmd[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	cr_assert(system(cmd) == 0);
	cr_assert((f = fopen(path, "w")));
	fwrite(data, 1, len, f);
	fclose(f);
}

/* A 1024-event context on 2 CPUs: ring of 2048 events + header = 17 pages. */
#define RING_1024 "7f0000000000-7f0000011000 rw-s 00000000 00:0f 1234 /[aio] (deleted)\n"

Test(attrib, vms_and_others)
{
	static const char qemu[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=web-1,debug-"
	                           "threads=on\0-S\0";
	struct agent_attrib a;

	put("/proc/100/maps", RING_1024 RING_1024 "7f1-7f2 r-xp 0 0:0 1 /usr/lib/libc.so\n",
	    strlen(RING_1024) * 2 + 36);
	put("/proc/100/cmdline", qemu, sizeof(qemu));
	put("/proc/100/comm", "qemu-system-x86\n", 16);
	put("/proc/200/maps", RING_1024, strlen(RING_1024));
	put("/proc/200/cmdline", "fio\0--name=x\0", 13);
	put("/proc/200/comm", "fio\n", 4);
	put("/proc/300/maps", "7f1-7f2 r-xp 0 0:0 1 /usr/lib/libc.so\n", 38);
	put("/proc/self/maps", "", 0);

	cr_assert_eq(agent_attrib_scan(root, &a), 0);
	cr_assert_eq(a.n, 2, "only processes holding contexts");
	cr_expect_str_eq(a.users[0].name, "web-1");
	cr_expect(a.users[0].is_vm);
	cr_expect_eq(a.users[0].contexts, 2);
	cr_expect_eq(a.users[0].pid, 100);
	cr_expect_str_eq(a.users[1].name, "fio");
	cr_expect_not(a.users[1].is_vm);
	cr_expect_eq(a.contexts, 3);
	/* the estimate bounds 1024 from above, within 64 */
	cr_expect_geq(a.users[1].events, 1024);
	cr_expect_lt(a.users[1].events, 1024 + 64);

	cr_expect_eq(agent_attrib_counting(&a, 3 * 1024),
	             AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE);
	cr_expect_eq(agent_attrib_counting(&a, 6 * 2048),
	             AIOCTL__V1__COUNTING_MODE__COUNTING_DOUBLE);
	cr_expect_eq(agent_attrib_unexplained(&a, 3 * 1024 + 5000,
	                                      AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE),
	             3 * 1024 + 5000 - a.events);
	cr_expect_eq(agent_attrib_unexplained(&a, 10, AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE),
	             0);
	agent_attrib_done(&a);
}

Test(attrib, nothing_holds_contexts)
{
	struct agent_attrib a;

	put("/proc/1/maps", "", 0);
	cr_assert_eq(agent_attrib_scan(root, &a), 0);
	cr_expect_eq(a.n, 0);
	cr_expect_eq(agent_attrib_counting(&a, 0), AIOCTL__V1__COUNTING_MODE__COUNTING_UNKNOWN);
	agent_attrib_done(&a);
}

Test(attrib, estimate)
{
	cr_expect_eq(agent_attrib_events(0), 0);
	cr_expect_eq(agent_attrib_events(4096), 63);
	cr_expect_eq(agent_attrib_events(69632), 1087);
}

Test(attrib, qemu_version_from_the_machine_type)
{
	static const char a[] = "/usr/bin/qemu-system-x86_64 -name guest=x -S -machine "
	                        "pc-i440fx-7.2,usb=off,dump-guest-core=off -accel kvm";
	static const char b[] = "qemu-system-x86_64 -M pc-q35-4.2 -m 64";
	static const char c[] = "qemu-system-x86_64 -machine type=virt-10.1,gic-version=3";
	static const char d[] = "qemu-system-x86_64 -machine pc -m 64";

	cr_expect_eq(agent_attrib_machine_version(a, sizeof(a) - 1), 702);
	cr_expect_eq(agent_attrib_machine_version(b, sizeof(b) - 1), 402);
	cr_expect_eq(agent_attrib_machine_version(c, sizeof(c) - 1), 1001);
	cr_expect_eq(agent_attrib_machine_version(d, sizeof(d) - 1), 0, "unversioned: unknown");
	cr_expect_eq(agent_attrib_qemu_events(702), 1024);
	cr_expect_eq(agent_attrib_qemu_events(500), 1024);
	cr_expect_eq(agent_attrib_qemu_events(402), 128);
}
