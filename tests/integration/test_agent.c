/* The agent sees everything: AIO errors from a real journal and QEMU logs,
 * restarts that neither lose nor repeat, a server outage that loses no
 * report, persisted config, and attribution on the real kernel. Real
 * binaries on loopback; journal files made by systemd-journal-remote. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"

#define JOURNAL_REMOTE "/lib/systemd/systemd-journal-remote"
#define INTERVAL       "300ms"

static struct h_env env;
static char root[300];

static void setup(void)
{
	h_env_init(&env);
}

static char mounted[400]; /* a tmpfs of the test's, in its own namespace */

static void teardown(void)
{
	if (mounted[0])
		umount2(mounted, MNT_DETACH);
	h_env_fini(&env);
}

TestSuite(agent, .init = setup, .fini = teardown, .timeout = 120);

static const char *const fast[] = { "--journal-backlog", "0", "--attribution-interval", "1s",
	                            NULL };

/* A sysroot with counters, a journal from the fixture and the QEMU log. */
static void make_root(const char *name)
{
	char fix[512];

	h_sysroot_make(&env, name, 100, 65536, root, sizeof(root));
	h_sh("mkdir -p '%s/var/log/journal' '%s/var/log/libvirt/qemu'", root, root);
	/* the fixture's last entry has no blank line after it: add one */
	h_sh("(cat '%s'; echo) | " JOURNAL_REMOTE " -o '%s/var/log/journal/remote.journal' - "
	     "2>/dev/null",
	     h_fixture("libvirtd.export", fix, sizeof(fix)), root);
	h_sh("cp '%s' '%s/var/log/libvirt/qemu/instance-00000a1f.log'",
	     h_fixture("qemu-instance-00000a1f.log", fix, sizeof(fix)), root);
}

/* One journal entry, written as an export file and fed to journal-remote,
 * which appends it to the sysroot's journal file. */
static void journal_append(const char *unit, const char *message)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/entry.export", env.dir);
	cr_assert((f = fopen(path, "w")));
	fprintf(f, "__REALTIME_TIMESTAMP=%llu000\n_SYSTEMD_UNIT=%s\nPRIORITY=3\nMESSAGE=%s\n\n",
	        (unsigned long long)time(NULL) * 1000, unit, message);
	fclose(f);
	h_sh(JOURNAL_REMOTE " -o '%s/var/log/journal/remote.journal' '%s' 2>/dev/null", root, path);
}

static void qemu_append(const char *file, const char *line)
{
	h_sh("printf '%%s\\n' '%s' >> '%s/var/log/libvirt/qemu/%s'", line, root, file);
}

static bool has_n_errors(struct h_env *e, void *arg)
{
	return h_n_errors(&env, "hv1") == *(size_t *)arg;
}

/* How many stored events match kind/vm/disk/line part (NULL: any). */
static size_t count_matching(json_t *j, const char *kind, const char *vm, const char *disk,
                             const char *line_part)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(json_object_get(j, "events"), i, e)
	{
		const char *k = json_string_value(json_object_get(e, "kind"));
		const char *v = json_string_value(json_object_get(e, "vm"));
		const char *d = json_string_value(json_object_get(e, "disk"));
		const char *l = json_string_value(json_object_get(e, "line"));

		if (kind && (!k || strcmp(k, kind)))
			continue;
		if (vm && (!v || strcmp(v, vm)))
			continue;
		if (disk && (!d || strcmp(d, disk)))
			continue;
		if (line_part && (!l || !strstr(l, line_part)))
			continue;
		n++;
	}
	return n;
}

static const char *const fatal =
        "internal error: QEMU unexpectedly closed the monitor (vm='web-7'): "
        "qemu-system-x86_64: -blockdev {\"node-name\":\"libvirt-9-storage\"}: Unable to use "
        "native AIO: failed to create linux AIO context: Resource temporarily unavailable";

Test(agent, journal_and_qemu_log_events_exact)
{
	size_t want = 4;
	json_t *j;

	h_server_start(&env);
	make_root("hv1");
	h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(has_n_errors, &env, &want, 10000), "expected 4 events, have %zu",
	          h_n_errors(&env, "hv1"));

	j = h_errors(&env, "hv1");
	/* the journal: three failures, the tainted and start-up lines are not events */
	cr_expect_eq(count_matching(j, "failed", NULL, "libvirt-1-storage", NULL), 1);
	cr_expect_eq(count_matching(j, "failed", "instance-00000a21", "libvirt-2-storage", NULL),
	             1);
	cr_expect_eq(count_matching(j, "failed", NULL, NULL, NULL), 3);
	cr_expect_eq(count_matching(j, NULL, "instance-00000a20", NULL, NULL), 0);
	cr_expect_eq(count_matching(j, NULL, NULL, NULL, "Starting up"), 0);
	/* the QEMU log: the 9.0 thread-pool fallback, named by the log file */
	cr_expect_eq(count_matching(j, "degraded", "instance-00000a1f", NULL, NULL), 1);
	json_decref(j);

	/* appended while the agent runs */
	journal_append("libvirtd.service", fatal);
	want = 5;
	cr_assert(h_wait(has_n_errors, &env, &want, 5000), "journal append not seen");
	j = h_errors(&env, "hv1");
	cr_expect_eq(count_matching(j, "failed", "web-7", "libvirt-9-storage", NULL), 1);
	json_decref(j);
}

Test(agent, qemu_log_append_rotate_truncate)
{
	size_t want = 4;
	json_t *j;

	h_server_start(&env);
	make_root("hv1");
	h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(has_n_errors, &env, &want, 10000));

	qemu_append("instance-00000a1f.log",
	            "2024-05-02T10:00:00.000000Z qemu-system-x86_64: Unable to use Linux AIO, "
	            "falling back to thread pool: failed to create linux AIO context: Resource "
	            "temporarily unavailable ROUND-A");
	want = 5;
	cr_assert(h_wait(has_n_errors, &env, &want, 5000), "append not seen");

	/* rotation by rename: virtlogd moves the log away and starts a new one */
	qemu_append("instance-00000a1f.log", "ROUND-B failed to create linux AIO context: x");
	h_sh("cd '%s/var/log/libvirt/qemu' && mv instance-00000a1f.log instance-00000a1f.log.0",
	     root);
	qemu_append("instance-00000a1f.log", "ROUND-C failed to create linux AIO context: x");
	want = 7;
	cr_assert(h_wait(has_n_errors, &env, &want, 5000), "rotation lost a line (have %zu)",
	          h_n_errors(&env, "hv1"));

	/* truncation: copytruncate-style rotation */
	h_sh(": > '%s/var/log/libvirt/qemu/instance-00000a1f.log'", root);
	qemu_append("instance-00000a1f.log", "ROUND-D failed to create linux AIO context: x");
	want = 8;
	cr_assert(h_wait(has_n_errors, &env, &want, 5000), "truncation lost a line");

	/* a new VM's log */
	qemu_append("db-2.log", "ROUND-E Unable to use native AIO: failed to create linux AIO "
	                        "context: Resource temporarily unavailable");
	want = 9;
	cr_assert(h_wait(has_n_errors, &env, &want, 5000), "new file not seen");

	j = h_errors(&env, "hv1");
	cr_expect_eq(count_matching(j, "degraded", "instance-00000a1f", NULL, "ROUND-A"), 1);
	cr_expect_eq(count_matching(j, "failed", "instance-00000a1f", NULL, "ROUND-B"), 1);
	cr_expect_eq(count_matching(j, "failed", "instance-00000a1f", NULL, "ROUND-C"), 1);
	cr_expect_eq(count_matching(j, "failed", "instance-00000a1f", NULL, "ROUND-D"), 1);
	cr_expect_eq(count_matching(j, "failed", "db-2", NULL, "ROUND-E"), 1);
	json_decref(j);
}

Test(agent, restart_neither_loses_nor_repeats)
{
	size_t want = 4;
	pid_t agent;
	json_t *j;

	h_server_start(&env);
	make_root("hv1");
	agent = h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(has_n_errors, &env, &want, 10000));

	cr_assert_eq(h_stop(&env, agent), 0);
	journal_append("virtqemud.service", fatal);
	qemu_append("instance-00000a1f.log", "WHILE-DOWN failed to create linux AIO context: x");
	agent = h_agent_start(&env, "hv1", root, INTERVAL, fast);
	want = 6;
	cr_assert(h_wait(has_n_errors, &env, &want, 10000), "events from the gap not seen");

	/* once more, with nothing new: the count must not move */
	cr_assert_eq(h_stop(&env, agent), 0);
	agent = h_agent_start(&env, "hv1", root, INTERVAL, fast);
	journal_append("libvirtd.service", "AFTER failed to create linux AIO context: x");
	want = 7;
	cr_assert(h_wait(has_n_errors, &env, &want, 10000));
	j = h_errors(&env, "hv1");
	cr_expect_eq(json_array_size(json_object_get(j, "events")), 7, "nothing repeated");
	cr_expect_eq(count_matching(j, NULL, NULL, NULL, "WHILE-DOWN"), 1);
	cr_expect_eq(count_matching(j, "failed", "web-7", NULL, NULL), 1);
	json_decref(j);
}

static bool seq_at_least(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e), *h;
	bool ok;

	if (!fleet)
		return false;
	h = h_fleet_host(fleet, "hv1");
	ok = h && json_integer_value(json_object_get(h, "last_seq")) >= *(long long *)arg;
	json_decref(fleet);
	return ok;
}

Test(agent, spool_keeps_every_report_through_an_outage)
{
	long long seq_before, seq_after, n, min_seq;
	size_t want = 5;

	h_server_start(&env);
	make_root("hv1");
	h_agent_start(&env, "hv1", root, INTERVAL, fast);
	seq_before = 3;
	cr_assert(h_wait(seq_at_least, &env, &seq_before, 10000));

	cr_assert_eq(h_stop(&env, env.server), 0);
	/* several intervals without a server, with an event in the gap */
	qemu_append("instance-00000a1f.log", "IN-GAP failed to create linux AIO context: x");
	usleep(2500 * 1000); /* the outage itself: ~8 report intervals */
	env.server = h_server_spawn(&env, "server2");

	cr_assert(h_wait(has_n_errors, &env, &want, 15000), "the gap's event arrived");
	seq_after = seq_before + 6;
	cr_assert(h_wait(seq_at_least, &env, &seq_after, 15000), "reports from the gap arrived");
	/* and the agent is back to reporting live */
	seq_after += 2;
	cr_assert(h_wait(seq_at_least, &env, &seq_after, 5000));

	/* raw samples are stored on change; series counts what was taken. The
	 * agent goes on reporting: each check is one statement, one snapshot
	 * (three queries saw a commit land between them, 14 of 1..15) */
	n = h_db_value(&env, "SELECT reports FROM series");
	min_seq = h_db_value(&env, "SELECT seq_first FROM series");
	cr_expect_eq(min_seq, 1);
	cr_expect_eq(
	        h_db_value(&env, "SELECT seq_last - seq_first + 1 - reports FROM series"), 0,
	        "no report missing, none twice (about %lld reports); the agent's log ends:\n%s", n,
	        h_log_tail(&env, "agent-hv1", 3000));
	cr_expect_eq(h_db_value(&env, "SELECT (SELECT sum(count) FROM rollup_5m_all) - reports"
	                              " FROM series"),
	             0, "each report in the 5-minute rollups once");
	cr_expect_eq(h_db_value(&env, "SELECT (SELECT sum(count) FROM rollup_1h_all) - reports"
	                              " FROM series"),
	             0, "each report in the hourly rollups once");
	/* and history's raw tier places every one of them, the gap's too */
	{
		const char *args[] = { "history", "hv1", "--since", "1h", "--step", "1s", NULL };
		json_t *j = h_aioctl_json(&env, args), *pt;
		long long placed = 0, after;
		size_t i;

		cr_assert_not_null(j);
		cr_expect_str_eq(json_string_value(json_object_get(j, "tier")), "raw");
		json_array_foreach(json_object_get(j, "points"), i, pt)
		{
			placed += json_integer_value(json_object_get(pt, "reports"));
		}
		/* the agent goes on reporting: between the count before and after */
		after = h_db_value(&env, "SELECT reports FROM series");
		cr_expect(placed >= n && placed <= after,
		          "the raw tier places %lld reports, with %lld to %lld stored", placed, n,
		          after);
		json_decref(j);
	}
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM events WHERE line LIKE '%IN-GAP%'"), 1);
	/* the gap's reports came back many to a call */
	{
		static const char name[] = "\naioctl_server_report_batches_total ";
		char *m = h_http_get(&env, "/metrics"), *p;

		cr_assert_not_null(m);
		p = strstr(m, name);
		cr_expect(p && strtoull(p + sizeof(name) - 1, NULL, 10) >= 1,
		          "the spool was sent in ReportBatch calls");
		free(m);
	}
}

static bool stored_past(struct h_env *e, void *arg)
{
	return h_db_value(e, "SELECT seq_last FROM series") > *(long long *)arg;
}

/* A state dir restored from a copy numbers from where the copy stopped:
 * the server, which has those seqs, took every new report for a replay and
 * discarded it until the numbers caught up, although Hello told the agent
 * its last seq. */
Test(agent, a_restored_state_dir_numbers_after_the_server)
{
	long long seq = 3, copied, last;
	uint64_t started;
	pid_t agent;

	h_server_start(&env);
	make_root("hv1");
	agent = h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(seq_at_least, &env, &seq, 10000));
	cr_assert_eq(h_stop(&env, agent), 0);
	h_sh("cp -a '%s/agent-hv1' '%s/agent-copy'", env.dir, env.dir);
	copied = h_db_value(&env, "SELECT seq_last FROM series");
	agent = h_agent_start(&env, "hv1", root, INTERVAL, fast);
	seq = copied + 12; /* 12 intervals of reports the copy does not know */
	cr_assert(h_wait(stored_past, &env, &seq, 15000));
	cr_assert_eq(h_stop(&env, agent), 0);

	/* the older copy back in place */
	h_sh("rm -rf '%s/agent-hv1' && mv '%s/agent-copy' '%s/agent-hv1'", env.dir, env.dir,
	     env.dir);
	last = h_db_value(&env, "SELECT seq_last FROM series");
	started = aio_now_ms();
	h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(stored_past, &env, &last, 15000), "reports stored after the restore");
	/* its first report was stored, not only those made 12 intervals on */
	cr_expect_lt(h_db_value(&env, "SELECT time_ms FROM series") - (long long)started, 1800,
	             "the restored agent's first reports were discarded; its log ends:\n%s",
	             h_log_tail(&env, "agent-hv1", 2000));
	cr_expect_eq(h_db_value(&env, "SELECT seq_last - seq_first + 1 - reports FROM series"), 0,
	             "no report missing, none twice");
}

static bool log_says(struct h_env *e, void *arg)
{
	return strstr(h_log_tail(e, "agent-hv1", 4000), arg) != NULL;
}

static bool dropped_at_least(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e), *h;
	bool ok;

	if (!fleet)
		return false;
	h = h_fleet_host(fleet, "hv1");
	ok = h && json_integer_value(json_object_get(h, "dropped_reports")) >= *(long long *)arg;
	json_decref(fleet);
	return ok;
}

/* A state dir that fills up or turns read-only once lost reports without a
 * gap or a count, and the events they carried. A small tmpfs of its own,
 * in a mount namespace of this test's. */
Test(agent, a_full_or_read_only_state_dir_loses_nothing_uncounted)
{
	char *state = mounted;
	long long seq = 3, dropped;

	if (geteuid() != 0)
		cr_skip_test("needs root for a mount namespace");
	cr_assert_eq(unshare(CLONE_NEWNS), 0, "%s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	snprintf(state, sizeof(mounted), "%s/agent-hv1", env.dir);
	cr_assert_eq(mkdir(state, 0700), 0);
	if (mount("tmpfs", state, "tmpfs", 0, "size=512k,mode=0700") < 0) {
		state[0] = '\0';
		cr_assert_fail("mount tmpfs: %s", strerror(errno));
	}

	h_server_start(&env);
	make_root("hv1");
	h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(seq_at_least, &env, &seq, 10000));

	/* full: a few reports cannot be kept; an event arrives meanwhile */
	h_sh("dd if=/dev/zero of='%s/filler' bs=4k 2>/dev/null; true", state);
	cr_assert(h_wait(log_says, &env, "No space left on device", 5000));
	qemu_append("instance-00000a1f.log", "WHILE-FULL failed to create linux AIO context: x");
	cr_assert(h_wait(log_says, &env, "AIO failed", 5000));
	h_sh("rm -f '%s/filler'", state);
	dropped = 1;
	cr_assert(h_wait(dropped_at_least, &env, &dropped, 10000),
	          "the server learns the count; the agent's log ends:\n%s",
	          h_log_tail(&env, "agent-hv1", 2000));

	/* read-only, then writable again */
	dropped = h_db_value(&env, "SELECT dropped FROM hosts");
	cr_assert_eq(mount(NULL, state, NULL, MS_REMOUNT | MS_RDONLY, "size=512k"), 0);
	cr_assert(h_wait(log_says, &env, "Read-only file system", 5000));
	cr_assert_eq(mount(NULL, state, NULL, MS_REMOUNT, "size=512k"), 0);
	dropped++;
	cr_assert(h_wait(dropped_at_least, &env, &dropped, 10000));

	seq = h_db_value(&env, "SELECT seq_last FROM series") + 2;
	cr_assert(h_wait(seq_at_least, &env, &seq, 10000));
	cr_expect_eq(h_db_value(&env,
	                        "SELECT (SELECT seq_last - seq_first + 1 - reports FROM series)"
	                        " - (SELECT dropped FROM hosts)"),
	             0, "every report missing from the server is counted as dropped");
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM events WHERE line LIKE '%WHILE-FULL%'"),
	             1, "the event of a report that could not be kept arrived with the next");
	cr_expect(h_alive(env.server));
}

Test(agent, persisted_value_and_its_files)
{
	const char *args[] = { "host", "show", "hv1", NULL };
	json_t *j, *p;

	h_server_start(&env);
	make_root("hv1");
	h_sh("mkdir -p '%s/usr/lib/sysctl.d' '%s/etc/sysctl.d'", root, root);
	h_sh("echo 'fs.aio-max-nr = 1048576' > '%s/usr/lib/sysctl.d/60-libvirtd.conf'", root);
	h_sh("echo 'fs.aio-max-nr = 524288' > '%s/etc/sysctl.d/50-old.conf'", root);
	h_agent_start(&env, "hv1", root, INTERVAL, fast);
	for (int i = 0; i < 100; i++) {
		j = h_aioctl_json(&env, args);
		if (j && json_is_object(json_object_get(j, "persisted")))
			break;
		json_decref(j);
		j = NULL;
		usleep(100 * 1000);
	}
	cr_assert(j, "persisted facts never arrived");
	p = json_object_get(j, "persisted");
	cr_expect_eq(json_integer_value(json_object_get(p, "value")), 1048576);
	cr_expect_str_eq(json_string_value(json_object_get(p, "file")),
	                 "/usr/lib/sysctl.d/60-libvirtd.conf");
	cr_expect_eq(json_array_size(json_object_get(p, "settings")), 2);
	cr_expect(json_is_true(json_object_get(j, "persisted_differs")),
	          "live 65536, 1048576 after a reboot");
	json_decref(j);
}
