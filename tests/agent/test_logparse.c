/* Every line shape the agent must recognise, and lines it must not. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "logparse.h"

static struct agent_event ev;

static int parse(const char *line)
{
	return agent_logparse_line(line, strlen(line), &ev);
}

Test(logparse, fatal_monitor_closed_blockdev)
{
	cr_assert_eq(parse("internal error: qemu unexpectedly closed the monitor: "
	                   "2022-09-02T06:26:39.420187Z qemu-system-x86_64: -blockdev "
	                   "{\"driver\":\"host_device\",\"filename\":\"/dev/rootdisk\",\"aio\":"
	                   "\"native\",\"node-name\":\"libvirt-1-storage\",\"cache\":{\"direct\":"
	                   "true}}: Unable to use native AIO: failed to create linux AIO context: "
	                   "Resource temporarily unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_FAILED);
	cr_expect_str_eq(ev.vm, "");
	cr_expect_str_eq(ev.disk, "libvirt-1-storage");
}

Test(logparse, fatal_with_vm_name)
{
	cr_assert_eq(parse("internal error: QEMU unexpectedly closed the monitor "
	                   "(vm='instance-00000a21'): 2022-09-02T06:27:41.002311Z "
	                   "qemu-system-x86_64: -blockdev {\"driver\":\"file\",\"node-name\":"
	                   "\"libvirt-2-storage\"}: Unable to use native AIO: failed to create "
	                   "linux AIO context: Resource temporarily unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_FAILED);
	cr_expect_str_eq(ev.vm, "instance-00000a21");
	cr_expect_str_eq(ev.disk, "libvirt-2-storage");
}

Test(logparse, process_exited_while_connecting)
{
	cr_assert_eq(parse("internal error: process exited while connecting to monitor: "
	                   "2023-01-10T08:00:00.000000Z qemu-kvm: -blockdev {\"node-name\":"
	                   "\"libvirt-3-format\"}: Unable to use native AIO: failed to create "
	                   "linux AIO context: Resource temporarily unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_FAILED);
	cr_expect_str_eq(ev.disk, "libvirt-3-format");
}

Test(logparse, old_drive_form)
{
	cr_assert_eq(parse("2019-03-01T12:00:00.000000Z qemu-kvm: -drive "
	                   "file=/var/lib/libvirt/images/web.qcow2,format=qcow2,if=none,"
	                   "id=drive-virtio-disk0,cache=none,aio=native: Unable to use native "
	                   "AIO: failed to create linux AIO context: Resource temporarily "
	                   "unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_FAILED);
	cr_expect_str_eq(ev.disk, "drive-virtio-disk0");
	cr_expect_eq(ev.time_ms, 1551441600000ULL);
}

Test(logparse, hotplug)
{
	cr_assert_eq(parse("internal error: unable to execute QEMU command 'blockdev-add': "
	                   "Unable to use native AIO: failed to create linux AIO context: "
	                   "Resource temporarily unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_HOTPLUG_FAILED);
}

Test(logparse, degraded_9_0)
{
	cr_assert_eq(parse("2024-05-01T10:00:00.123456Z qemu-system-x86_64: Unable to use "
	                   "Linux AIO, falling back to thread pool: failed to create linux AIO "
	                   "context: Resource temporarily unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_DEGRADED);
	cr_expect_eq(ev.time_ms, 1714557600123ULL);
}

Test(logparse, multipathd)
{
	cr_assert_eq(parse("sdb: io_setup failed, Increase fs.aio-max-nr"), 0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_MULTIPATH);
}

Test(logparse, bare_message)
{
	cr_assert_eq(parse("Unable to use native AIO: failed to create linux AIO context: "
	                   "Resource temporarily unavailable\n"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_FAILED);
	cr_expect(strchr(ev.line, '\n') == NULL, "the newline is not part of the line");
}

Test(logparse, not_events)
{
	const char *lines[] = {
		"Starting up libvirt version: 8.0.0",
		"Domain id=7 name='instance-00000a20' uuid=3f0c2b1e is tainted: high-privileges",
		"qemu-system-x86_64: -blockdev {\"aio\":\"io_uring\"}: using io_uring",
		"-blockdev {\"driver\":\"file\",\"aio\":\"native\",\"node-name\":\"x\"}",
		"Unable to use io_uring: failed to create io_uring context",
		"warning: host doesn't support requested feature: CPUID.80000001H:ECX.svm",
		"fs.aio-max-nr = 1048576",
		"",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		cr_expect_eq(parse(lines[i]), -ENOENT, "not an event: %s", lines[i]);
}

Test(logparse, bounded_line)
{
	static char line[8192];

	memset(line, 'x', sizeof(line) - 200);
	strcpy(line + sizeof(line) - 200,
	       " failed to create linux AIO context: Resource temporarily unavailable");
	cr_assert_eq(parse(line), 0);
	cr_expect_eq(strlen(ev.line), AIO_EVENT_LINE_MAX);
}

Test(logparse, guest_name)
{
	const char *cmd = "LC_ALL=C PATH=/usr/bin /usr/bin/qemu-system-x86_64 -name "
	                  "guest=instance-00000a1f,debug-threads=on -S -machine pc";
	char name[64];

	cr_assert_eq(agent_logparse_guest(cmd, strlen(cmd), name, sizeof(name)), 0);
	cr_expect_str_eq(name, "instance-00000a1f");
	cr_assert_eq(agent_logparse_guest("qemu -name web1 -m 1024", 24, name, sizeof(name)), 0);
	cr_expect_str_eq(name, "web1");
	cr_expect_eq(agent_logparse_guest("qemu -m 1024", 12, name, sizeof(name)), -ENOENT);
}

/* The real lines Debian 12's libvirt 9.0 and QEMU 7.2 wrote (see
 * tests/fixtures/real/README.md). */
static const char *const real_journal_fail =
        "internal error: qemu unexpectedly closed the monitor: 2026-12-02T13:48:00.059836Z "
        "qemu-system-x86_64: -blockdev {\"driver\":\"file\",\"filename\":\"/var/tmp/lv/img/"
        "vm-fail-1.img\",\"aio\":\"native\",\"node-name\":\"libvirt-1-storage\",\"cache\":{"
        "\"direct\":true,\"no-flush\":false},\"auto-read-only\":true,\"discard\":\"unmap\"}: "
        "Unable to use native AIO: failed to create linux AIO context: Resource temporarily "
        "unavailable";
static const char *const real_qemu_log_fail =
        "2026-12-02T13:48:00.059836Z qemu-system-x86_64: -blockdev {\"driver\":\"file\","
        "\"filename\":\"/var/tmp/lv/img/vm-fail-1.img\",\"aio\":\"native\",\"node-name\":"
        "\"libvirt-1-storage\",\"cache\":{\"direct\":true,\"no-flush\":false},\"auto-read-only"
        "\":true,\"discard\":\"unmap\"}: Unable to use native AIO: failed to create linux AIO "
        "context: Resource temporarily unavailable";

Test(logparse, real_journal_and_qemu_log_are_one_incident)
{
	char incident[sizeof(ev.incident)];
	uint64_t t;

	cr_assert_eq(parse(real_journal_fail), 0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_FAILED);
	cr_expect_str_eq(ev.disk, "libvirt-1-storage");
	cr_expect_str_eq(ev.incident, "qemu@2026-12-02T13:48:00.059836Z/libvirt-1-storage");
	cr_expect_eq(ev.time_ms, 1796219280059ULL, "QEMU's time, not the journal's");
	snprintf(incident, sizeof(incident), "%s", ev.incident);
	t = ev.time_ms;

	cr_assert_eq(parse(real_qemu_log_fail), 0);
	cr_expect_str_eq(ev.incident, incident, "the QEMU log line is the same incident");
	cr_expect_eq(ev.time_ms, t);
}

Test(logparse, degraded_7_2_iothread)
{
	cr_assert_eq(parse("2026-12-02T13:47:37.298401Z qemu-system-x86_64: Unable to use native "
	                   "AIO, falling back to thread pool: failed to create linux AIO context: "
	                   "Resource temporarily unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_DEGRADED,
	             "QEMU 7.2 runs on: degraded, not failed");
	cr_expect_str_eq(ev.incident, "qemu@2026-12-02T13:47:37.298401Z/");
}

Test(logparse, real_hotplug_has_no_incident)
{
	cr_assert_eq(parse("internal error: unable to execute QEMU command 'blockdev-add': Unable "
	                   "to use native AIO: failed to create linux AIO context: Resource "
	                   "temporarily unavailable"),
	             0);
	cr_expect_eq(ev.kind, AIOCTL__V1__EVENT_KIND__EVENT_HOTPLUG_FAILED);
	cr_expect_str_eq(ev.incident, "", "no QEMU time: it stands alone");
	cr_expect_eq(ev.time_ms, 0, "the journal's time is used");
}

Test(logparse, other_disks_other_incidents)
{
	char first[sizeof(ev.incident)];

	cr_assert_eq(parse("2026-12-02T13:48:00.059836Z qemu-system-x86_64: -blockdev "
	                   "{\"node-name\":\"libvirt-1-storage\"}: Unable to use native AIO: "
	                   "failed to create linux AIO context: x"),
	             0);
	snprintf(first, sizeof(first), "%s", ev.incident);
	cr_assert_eq(parse("2026-12-02T13:48:00.059836Z qemu-system-x86_64: -blockdev "
	                   "{\"node-name\":\"libvirt-2-storage\"}: Unable to use native AIO: "
	                   "failed to create linux AIO context: x"),
	             0);
	cr_expect_str_neq(ev.incident, first);
}
