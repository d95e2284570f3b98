#include "attrib.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "logparse.h"
#include "path.h"

#define AIO_RING_HEADER 32 /* struct aio_ring */
#define IO_EVENT_SIZE   32 /* struct io_event */
#define CMDLINE_MAX     (64 * 1024)
#define EXE_SCAN_MAX    (512ULL << 20) /* larger files are not QEMU */
#define EXE_CACHE       16             /* QEMU binaries whose version is known */
#define VERSION_MARK    "QEMU emulator version "

/* Binaries already read: (dev, inode, size, mtime) to version. The scan
 * runs on the follow thread and at start, never at once, but a lock is
 * cheap. */
static struct exe_version {
	dev_t dev;
	ino_t ino;
	off_t size;
	time_t mtime;
	unsigned version;
	char text[24];
} exe_cache[EXE_CACHE];
static size_t exe_cache_next;
static pthread_mutex_t exe_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t agent_attrib_events(uint64_t size)
{
	if (size <= AIO_RING_HEADER)
		return 0;
	return (size - AIO_RING_HEADER) / IO_EVENT_SIZE / 2;
}

/* Counts "/[aio]" mappings in one maps file, adding up their estimates. */
static int scan_maps(const char *path, uint32_t *ret_contexts, uint64_t *ret_events)
{
	char line[1024];
	uint32_t contexts = 0;
	uint64_t events = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end;

		if (!strstr(line, "/[aio]"))
			continue;
		if (sscanf(line, "%llx-%llx", &start, &end) != 2 || end <= start)
			continue;
		contexts++;
		events += agent_attrib_events(end - start);
	}
	fclose(f);
	*ret_contexts = contexts;
	*ret_events = events;
	return 0;
}

uint64_t agent_attrib_qemu_events(unsigned version)
{
	return version >= 500 ? AIO_CONTEXT_EVENTS : 128;
}

unsigned agent_attrib_machine_version(const char *cmdline, size_t len)
{
	char scan[4096];
	const char *p;
	unsigned major, minor;
	size_t n;

	if (len >= sizeof(scan))
		len = sizeof(scan) - 1;
	memcpy(scan, cmdline, len);
	scan[len] = '\0';
	if (!(p = strstr(scan, " -machine ")) && !(p = strstr(scan, " -M ")))
		return 0;
	p = strchr(p + 1, ' ') + 1;
	if (strncmp(p, "type=", 5) == 0)
		p += 5;
	/* the type ends at ',' or ' '; its version is its last "-X.Y" */
	n = strcspn(p, ", ");
	while (n > 0 && (isdigit((unsigned char)p[n - 1]) || p[n - 1] == '.'))
		n--;
	if (n == 0 || p[n - 1] != '-' || sscanf(p + n, "%u.%u", &major, &minor) != 2 ||
	    major > 99 || minor > 99)
		return 0;
	return major * 100 + minor;
}

/* "7.2.22" after VERSION_MARK in the binary fd; 0 if it is not there. */
static unsigned scan_exe(int fd, char *text, size_t text_len)
{
	enum { MARK = sizeof(VERSION_MARK) - 1, TAIL = MARK + 16, BUF = 64 * 1024 };
	/* once per binary: a static TLS buffer would cost every thread */
	char *buf = malloc(BUF);
	unsigned version = 0;
	size_t have = 0, keep;
	ssize_t n;

	while (buf && (n = read(fd, buf + have, BUF - have)) > 0) {
		unsigned major, minor;
		char *p, v[17];

		have += (size_t)n;
		p = memmem(buf, have, VERSION_MARK, MARK);
		if (p && (size_t)(buf + have - p) >= TAIL) {
			memcpy(v, p + MARK, 16);
			v[16] = '\0';
			v[strspn(v, "0123456789.")] = '\0';
			if (sscanf(v, "%u.%u", &major, &minor) == 2 && major <= 99 && minor <= 99) {
				snprintf(text, text_len, "%s", v);
				version = major * 100 + minor;
				break;
			}
		}
		/* keep the tail: a mark cut by the end of this chunk */
		keep = have < TAIL ? have : TAIL;
		memmove(buf, buf + have - keep, keep);
		have = keep;
	}
	free(buf);
	return version;
}

/* The QEMU version of a process's binary, read once per binary. */
static unsigned exe_version(const char *sysroot, const char *pid, char *text, size_t text_len)
{
	char path[AIO_PATH_MAX + 1], rel[300];
	struct exe_version *e = NULL;
	unsigned version = 0;
	struct stat st;
	int fd;

	snprintf(rel, sizeof(rel), "/proc/%s/exe", pid);
	if (aio_path_join(sysroot, rel, path, sizeof(path)) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > EXE_SCAN_MAX) {
		close(fd);
		return 0;
	}
	pthread_mutex_lock(&exe_lock);
	for (size_t i = 0; i < EXE_CACHE; i++)
		if (exe_cache[i].ino == st.st_ino && exe_cache[i].dev == st.st_dev &&
		    exe_cache[i].size == st.st_size && exe_cache[i].mtime == st.st_mtime)
			e = &exe_cache[i];
	if (!e) {
		e = &exe_cache[exe_cache_next++ % EXE_CACHE];
		*e = (struct exe_version){ st.st_dev, st.st_ino, st.st_size, st.st_mtime, 0, "" };
		e->version = scan_exe(fd, e->text, sizeof(e->text));
	}
	version = e->version;
	snprintf(text, text_len, "%s", e->text);
	pthread_mutex_unlock(&exe_lock);
	close(fd);
	return version;
}

/* Exact events for a QEMU process, when its version can be known. */
static void qemu_events(const char *sysroot, const char *pid, const char *cmdline, size_t len,
                        struct agent_user *u)
{
	unsigned v = agent_attrib_machine_version(cmdline, len);
	char text[24];

	if (v >= 500) {
		snprintf(u->basis, sizeof(u->basis),
		         "QEMU >= %u.%u (machine type): %" PRIu64 " per context", v / 100, v % 100,
		         agent_attrib_qemu_events(v));
	} else if ((v = exe_version(sysroot, pid, text, sizeof(text)))) {
		snprintf(u->basis, sizeof(u->basis), "QEMU %s (binary): %" PRIu64 " per context",
		         text, agent_attrib_qemu_events(v));
	} else {
		return;
	}
	u->exact = true;
	u->events = u->contexts * agent_attrib_qemu_events(v);
}

/* A QEMU's VM name from its command line, else the command's name. */
static void name_process(const char *sysroot, const char *pid, struct agent_user *u)
{
	char path[AIO_PATH_MAX + 1], rel[300], *text = NULL;
	size_t len = 0;

	snprintf(u->basis, sizeof(u->basis), "ring size: an upper bound");
	snprintf(rel, sizeof(rel), "/proc/%s/cmdline", pid);
	if (aio_path_join(sysroot, rel, path, sizeof(path)) == 0 &&
	    aio_file_read_all(path, CMDLINE_MAX, &text, &len) == 0) {
		for (size_t i = 0; i < len; i++)
			if (text[i] == '\0')
				text[i] = ' ';
		u->is_vm = agent_logparse_guest(text, len, u->name, sizeof(u->name)) == 0;
		if (u->is_vm)
			qemu_events(sysroot, pid, text, len, u);
		free(text);
		if (u->is_vm)
			return;
	}
	snprintf(rel, sizeof(rel), "/proc/%s/comm", pid);
	if (aio_path_join(sysroot, rel, path, sizeof(path)) == 0 &&
	    aio_file_read_all(path, AIO_VM_NAME_MAX, &text, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(u->name, sizeof(u->name), "%s", text);
		free(text);
	}
	if (!u->name[0])
		snprintf(u->name, sizeof(u->name), "pid %u", u->pid);
}

static int by_events(const void *a, const void *b)
{
	const struct agent_user *x = a, *y = b;

	if (x->events != y->events)
		return x->events < y->events ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int agent_attrib_scan(const char *sysroot, struct agent_attrib *ret)
{
	struct agent_attrib a = { 0 };
	char proc[AIO_PATH_MAX + 1];
	size_t cap = 0;
	struct dirent *de;
	DIR *d;
	int r;

	if ((r = aio_path_join(sysroot, "/proc", proc, sizeof(proc))) < 0)
		return r;
	if (!(d = opendir(proc)))
		return -errno;
	while ((de = readdir(d))) {
		char maps[AIO_PATH_MAX + 1];
		uint32_t contexts = 0;
		uint64_t events = 0;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (snprintf(maps, sizeof(maps), "%s/%s/maps", proc, de->d_name) >=
		    (int)sizeof(maps))
			continue;
		/* processes come and go while we look: skip what vanished */
		if (scan_maps(maps, &contexts, &events) < 0 || contexts == 0)
			continue;
		a.contexts += contexts;
		a.events += events;
		if (a.n >= AIO_USERS_MAX) {
			a.truncated++;
			continue;
		}
		if (a.n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct agent_user *nu = realloc(a.users, ncap * sizeof(*nu));

			if (!nu) {
				closedir(d);
				agent_attrib_done(&a);
				return -ENOMEM;
			}
			a.users = nu;
			cap = ncap;
		}
		memset(&a.users[a.n], 0, sizeof(a.users[a.n]));
		a.users[a.n].pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		a.users[a.n].contexts = contexts;
		a.users[a.n].events = events;
		name_process(sysroot, de->d_name, &a.users[a.n]);
		/* the exact count replaces the estimate in the sum */
		a.events = a.events - events + a.users[a.n].events;
		a.n++;
	}
	closedir(d);
	if (a.n)
		qsort(a.users, a.n, sizeof(*a.users), by_events);
	*ret = a;
	return 0;
}

void agent_attrib_done(struct agent_attrib *a)
{
	free(a->users);
	memset(a, 0, sizeof(*a));
}

Aioctl__V1__CountingMode agent_attrib_counting(const struct agent_attrib *a, uint64_t aio_nr)
{
	/* estimates are upper bounds of nr_events; a kernel that counts twice
	 * shows aio-nr near twice their sum */
	if (a->events == 0 || a->truncated)
		return AIOCTL__V1__COUNTING_MODE__COUNTING_UNKNOWN;
	if (aio_nr * 2 >= a->events * 3)
		return AIOCTL__V1__COUNTING_MODE__COUNTING_DOUBLE;
	return AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE;
}

uint64_t agent_attrib_unexplained(const struct agent_attrib *a, uint64_t aio_nr,
                                  Aioctl__V1__CountingMode mode)
{
	uint64_t explained =
	        mode == AIOCTL__V1__COUNTING_MODE__COUNTING_DOUBLE ? a->events * 2 : a->events;

	return aio_nr > explained ? aio_nr - explained : 0;
}
