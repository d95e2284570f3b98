#include "attrib.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "logparse.h"
#include "path.h"

#define AIO_RING_HEADER 32 /* struct aio_ring */
#define IO_EVENT_SIZE   32 /* struct io_event */
#define CMDLINE_MAX     (64 * 1024)

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

/* A QEMU's VM name from its command line, else the command's name. */
static void name_process(const char *sysroot, const char *pid, struct agent_user *u)
{
	char path[AIO_PATH_MAX + 1], rel[300], *text = NULL;
	size_t len = 0;

	snprintf(rel, sizeof(rel), "/proc/%s/cmdline", pid);
	if (aio_path_join(sysroot, rel, path, sizeof(path)) == 0 &&
	    aio_file_read_all(path, CMDLINE_MAX, &text, &len) == 0) {
		for (size_t i = 0; i < len; i++)
			if (text[i] == '\0')
				text[i] = ' ';
		u->is_vm = agent_logparse_guest(text, len, u->name, sizeof(u->name)) == 0;
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
