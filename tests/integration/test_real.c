/* True on the real thing: what Debian 12's libvirt 9.0 and QEMU 7.2 wrote
 * for three real AIO failures (tests/fixtures/real, see its README) read by
 * the real agent, and real QEMU processes attributed against the kernel's
 * own /[aio] mappings and fs.aio-nr. Real binaries on loopback. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define JOURNAL_REMOTE "/lib/systemd/systemd-journal-remote"
#define INTERVAL       "300ms"
#define QEMU           "/usr/bin/qemu-system-x86_64"
/* aio=native needs O_DIRECT: a disk-backed directory, not tmpfs */
#define IMAGE_DIR      "/var/tmp"

static struct h_env env;
static char root[300];

static void setup(void)
{
	h_env_init(&env);
}

static void teardown(void)
{
	h_env_fini(&env);
}

TestSuite(real, .init = setup, .fini = teardown, .timeout = 180);

static const char *const fast[] = { "--journal-backlog", "0", "--attribution-interval", "1s",
	                            NULL };

/* The journal libvirtd wrote (as a journal file again) and the three QEMU
 * logs virtlogd wrote, where a host keeps them. */
static void make_real_root(const char *name, bool with_journal)
{
	static const char *const logs[] = { "vm-fail.log", "vm-degraded.log", "vm-hotplug.log" };
	char fix[512];

	h_sysroot_make(&env, name, 100, 65536, root, sizeof(root));
	h_sh("mkdir -p '%s/var/log/libvirt/qemu'", root);
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "real/%s", logs[i]);
		h_sh("cp '%s' '%s/var/log/libvirt/qemu/%s'", h_fixture(rel, fix, sizeof(fix)), root,
		     logs[i]);
	}
	if (with_journal) {
		h_sh("mkdir -p '%s/var/log/journal'", root);
		h_sh(JOURNAL_REMOTE " -o '%s/var/log/journal/remote.journal' '%s' 2>/dev/null",
		     root, h_fixture("real/libvirtd.export", fix, sizeof(fix)));
	}
}

static bool has_source(json_t *e, const char *source)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(e, "sources"), i, s)
	{
		if (strcmp(json_string_value(s), source) == 0)
			return true;
	}
	return false;
}

/* Each incident complete: the start failure with the QEMU log's VM name and
 * both its sources; so far it may still be missing one. */
static bool incidents_complete(struct h_env *e, void *arg)
{
	json_t *j = h_errors(&env, arg), *f;
	bool ok;

	if (!j)
		return false;
	f = h_json_find(json_object_get(j, "events"), "kind", "failed");
	ok = json_array_size(json_object_get(j, "events")) == 3 && f &&
	     json_array_size(json_object_get(f, "sources")) == 2 &&
	     json_is_string(json_object_get(f, "vm"));
	json_decref(j);
	return ok;
}

static void check_incidents(const char *host)
{
	json_t *j = h_errors(&env, host), *f, *d, *h;

	cr_assert_not_null(j);
	cr_assert_eq(json_array_size(json_object_get(j, "events")), 3,
	             "one event per failure: a failed start, a fallback, a failed hotplug");
	cr_assert_not_null(f = h_json_find(json_object_get(j, "events"), "kind", "failed"));
	cr_expect_str_eq(json_string_value(json_object_get(f, "vm")), "vm-fail",
	                 "the VM name comes from the QEMU log, the journal has none");
	cr_expect_str_eq(json_string_value(json_object_get(f, "disk")), "libvirt-1-storage");
	cr_expect(has_source(f, "journal:libvirtd"), "the journal entry is merged in");
	cr_expect(has_source(f, "/var/log/libvirt/qemu/vm-fail.log"), "so is the QEMU log line");
	cr_expect_str_eq(json_string_value(json_object_get(f, "time")), "2026-12-02T13:48:00.059Z",
	                 "QEMU's own time, in every source");

	cr_assert_not_null(d = h_json_find(json_object_get(j, "events"), "kind", "degraded"),
	                   "QEMU 7.2's iothread fallback is degraded, not failed");
	cr_expect_str_eq(json_string_value(json_object_get(d, "vm")), "vm-degraded");
	cr_expect_eq(json_array_size(json_object_get(d, "sources")), 1);

	cr_assert_not_null(h = h_json_find(json_object_get(j, "events"), "kind", "hotplug-failed"));
	cr_expect(json_is_null(json_object_get(h, "vm")), "a hotplug names no VM");
	cr_expect(has_source(h, "journal:libvirtd"));
	json_decref(j);
}

/* How often needle stands in DIR/NAME.log. */
static size_t log_count(struct h_env *e, const char *name, const char *needle)
{
	char path[400], *text;
	size_t len, n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.log", e->dir, name);
	if (!(f = fopen(path, "r")))
		return 0;
	text = calloc(1, 1 << 20);
	cr_assert_not_null(text);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[len] = '\0';
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

static bool log_says(struct h_env *e, void *arg)
{
	return log_count(e, "agent-hv2", arg) > 0;
}

/* Both agents of the restart test log to agent-hv1.log; each logs every
 * event it reads ("AIO failed in ..."). */
#define EVENT_LOGGED "]: AIO "

static bool read_twice(struct h_env *e, void *arg)
{
	return log_count(e, "agent-hv1", EVENT_LOGGED) >= 8;
}

static long long seq_last(const char *host)
{
	char sql[200];

	snprintf(sql, sizeof(sql),
	         "SELECT seq_last FROM series WHERE host_id = (SELECT id FROM hosts"
	         " WHERE name = '%s')",
	         host);
	return h_db_value(&env, sql);
}

static bool reported_past(struct h_env *e, void *arg)
{
	return seq_last("hv1") >= *(long long *)arg;
}

Test(real, one_incident_per_failure_and_restarts_repeat_none)
{
	const char *again[] = {
		"--journal-backlog", "0", "--attribution-interval", "1s", "--state-dir", NULL, NULL
	};
	char state2[400];
	pid_t agent;

	h_server_start(&env);
	make_real_root("hv1", true);
	agent = h_agent_start(&env, "hv1", root, INTERVAL, fast);
	cr_assert(h_wait(incidents_complete, &env, "hv1", 15000),
	          "expected 3 complete incidents, have %zu events", h_n_errors(&env, "hv1"));
	check_incidents("hv1");
	cr_assert_eq(log_count(&env, "agent-hv1", EVENT_LOGGED), 4,
	             "the first agent read each of the four lines once");

	/* a restart that lost its positions reads everything again: the server
	 * already has every line and every incident */
	cr_assert_eq(h_stop(&env, agent), 0);
	snprintf(state2, sizeof(state2), "%s/agent-hv1-again", env.dir);
	again[5] = state2;
	h_agent_start(&env, "hv1", root, INTERVAL, again);
	cr_assert(h_wait(read_twice, &env, NULL, 10000),
	          "the restarted agent reads the four lines again (%zu logged in all)",
	          log_count(&env, "agent-hv1", EVENT_LOGGED));
	{
		/* its next reports carry them; the one after that is stored */
		long long want = seq_last("hv1") + 2;

		cr_assert(h_wait(reported_past, &env, &want, 10000), "the restarted agent reports");
	}
	check_incidents("hv1");
}

static bool two_events(struct h_env *e, void *arg)
{
	return h_n_errors(&env, arg) == 2;
}

Test(real, the_journal_appears_after_the_agent)
{
	char fix[512];

	h_server_start(&env);
	/* no journal directory at all, as on a host whose journald is not up */
	make_real_root("hv2", false);
	h_agent_start(&env, "hv2", root, INTERVAL, fast);
	cr_assert(h_wait(log_says, &env, "no journal to read", 10000),
	          "the agent says it has no journal yet");
	/* meanwhile the QEMU logs are read: the failure and the fallback */
	cr_assert(h_wait(two_events, &env, "hv2", 10000), "the QEMU logs' two events; have %zu",
	          h_n_errors(&env, "hv2"));

	h_sh("mkdir -p '%s/var/log/journal'", root);
	h_sh(JOURNAL_REMOTE " -o '%s/var/log/journal/remote.journal' '%s' 2>/dev/null", root,
	     h_fixture("real/libvirtd.export", fix, sizeof(fix)));
	cr_assert(h_wait(log_says, &env, "journal appeared", 10000),
	          "the agent says it found the journal");
	cr_assert(h_wait(incidents_complete, &env, "hv2", 10000),
	          "the journal's entries join their incidents; have %zu events",
	          h_n_errors(&env, "hv2"));
	check_incidents("hv2");
}

/* ------------------------------------------------------------ real QEMU */

struct vm {
	const char *name;
	const char *args; /* after the common ones; images in the image directory */
	int want_contexts;
	pid_t pid;
};

static char images[256];

static pid_t qemu_start(const struct vm *v)
{
	char cmd[2048], log[300];

	snprintf(log, sizeof(log), "qemu-%s", v->name);
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && exec " QEMU " -name guest=%s,debug-threads=on -machine pc -accel %s"
	         " -m 64 -nodefaults -display none -msg timestamp=on %s",
	         images, v->name, access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "tcg", v->args);
	{
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		return h_spawn(&env, log, argv);
	}
}

static int maps_contexts(pid_t pid)
{
	char path[64], line[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/[aio]") != NULL;
	fclose(f);
	return n;
}

static unsigned long long aio_nr(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/fs/aio-nr", "r");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

struct vms {
	struct vm *v;
	size_t n;
};

/* Every VM's contexts up (iothreads start theirs with their device) and
 * the agent's latest scan showing each as the kernel does. */
static bool attributed(struct h_env *e, void *arg)
{
	const struct vms *vs = arg;
	const char *args[] = { "host", "show", "real", NULL };
	json_t *j;
	bool ok = true;

	for (size_t i = 0; i < vs->n; i++)
		if (maps_contexts(vs->v[i].pid) != vs->v[i].want_contexts)
			return false;
	if (!(j = h_aioctl_json(e, args)))
		return false;
	for (size_t i = 0; i < vs->n && ok; i++) {
		json_t *u = h_json_find(json_object_get(j, "users"), "name", vs->v[i].name);

		ok = vs->v[i].want_contexts
		             ? u && json_integer_value(json_object_get(u, "contexts")) ==
		                               vs->v[i].want_contexts
		             : !u;
	}
	json_decref(j);
	return ok;
}

Test(real, qemu_contexts_per_vm_as_the_kernel_counts_them)
{
	/* KVM when there is one, else TCG: attribution does not care */
	struct vm vms[] = {
		{ "vm-main",
		  "-blockdev driver=file,filename=d1.img,aio=native,cache.direct=on,node-name=n1"
		  " -device virtio-blk-pci,drive=n1",
		  1, 0 },
		{ "vm-three",
		  "-blockdev driver=file,filename=d2.img,aio=native,cache.direct=on,node-name=n1"
		  " -device virtio-blk-pci,drive=n1"
		  " -blockdev driver=file,filename=d3.img,aio=native,cache.direct=on,node-name=n2"
		  " -device virtio-blk-pci,drive=n2"
		  " -blockdev driver=file,filename=d4.img,aio=native,cache.direct=on,node-name=n3"
		  " -device virtio-blk-pci,drive=n3",
		  1, 0 },
		{ "vm-iothreads",
		  "-object iothread,id=io1 -object iothread,id=io2"
		  " -blockdev driver=file,filename=d5.img,aio=native,cache.direct=on,node-name=n1"
		  " -device virtio-blk-pci,drive=n1,iothread=io1"
		  " -blockdev driver=file,filename=d6.img,aio=native,cache.direct=on,node-name=n2"
		  " -device virtio-blk-pci,drive=n2,iothread=io2",
		  3, 0 },
		{ "vm-threads",
		  "-blockdev driver=file,filename=d7.img,aio=threads,node-name=n1"
		  " -device virtio-blk-pci,drive=n1",
		  0, 0 },
		{ "vm-uring",
		  "-blockdev driver=file,filename=d8.img,aio=io_uring,node-name=n1"
		  " -device virtio-blk-pci,drive=n1",
		  0, 0 },
	};
	struct vms vs = { vms, sizeof(vms) / sizeof(vms[0]) };
	const char *args[] = { "host", "show", "real", NULL };
	unsigned long long before = aio_nr(), after;
	long long sum = 0;
	json_t *j;

	cr_assert(access(QEMU, X_OK) == 0, "install qemu-system-x86 (deploy/install-deps.sh)");
	snprintf(images, sizeof(images), IMAGE_DIR "/aioctl-qemu-XXXXXX");
	cr_assert(mkdtemp(images), "mkdtemp: %s", strerror(errno));
	for (int i = 1; i <= 8; i++)
		h_sh("truncate -s 8M '%s/d%d.img'", images, i);
	/* vm-three's images are one per disk; vm-iothreads starts its devices
	 * as its firmware probes them, not paused */
	for (size_t i = 0; i < vs.n; i++)
		vms[i].pid = qemu_start(&vms[i]);

	h_server_start(&env);
	h_agent_start(&env, "real", "/", INTERVAL, fast);
	cr_expect(h_wait(attributed, &env, &vs, 30000),
	          "each VM's contexts as the kernel shows them");
	after = aio_nr();
	j = h_aioctl_json(&env, args);
	cr_assert_not_null(j);
	for (size_t i = 0; i < vs.n; i++) {
		json_t *u = h_json_find(json_object_get(j, "users"), "name", vms[i].name);

		if (!vms[i].want_contexts)
			continue;
		cr_assert_not_null(u, "%s listed", vms[i].name);
		cr_expect(json_is_true(json_object_get(u, "vm")));
		cr_expect(json_is_true(json_object_get(u, "events_exact")), "%s: exact",
		          vms[i].name);
		cr_expect_eq(json_integer_value(json_object_get(u, "events")),
		             1024 * vms[i].want_contexts, "%s: 1024 events per context",
		             vms[i].name);
		cr_expect(strstr(json_string_value(json_object_get(u, "events_basis")), "QEMU"),
		          "%s: the basis names QEMU's version", vms[i].name);
		sum += json_integer_value(json_object_get(u, "events"));
	}
	/* nothing else on this machine holds contexts while the lock is held */
	cr_expect_eq((unsigned long long)sum, after - before,
	             "the VMs' events are exactly what fs.aio-nr grew by (%llu -> %llu)", before,
	             after);
	cr_expect_eq(json_integer_value(json_object_get(j, "explained")), sum);
	cr_expect_eq(json_integer_value(json_object_get(j, "largest_vm_contexts")), 3,
	             "vm-iothreads is the largest: its main loop and two iothreads");
	json_decref(j);

	for (size_t i = 0; i < vs.n; i++)
		h_stop(&env, vms[i].pid);
	h_sh("rm -rf '%s'", images);
}
