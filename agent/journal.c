#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "libsystemd.h"
#include "log.h"
#include "path.h"

/* MESSAGE fields past this are cut by libsystemd before we see them. */
#define DATA_THRESHOLD (64 * 1024)

/* The daemons by unit, and by command for those not started as a unit
 * (a container, a host without systemd as PID 1): journald then records
 * no _SYSTEMD_UNIT. */
static const char *const units[] = {
	"_SYSTEMD_UNIT=libvirtd.service",
	"_SYSTEMD_UNIT=virtqemud.service",
	"_SYSTEMD_UNIT=multipathd.service",
};
static const char *const comms[] = {
	"_COMM=libvirtd",
	"_COMM=virtqemud",
	"_COMM=multipathd",
};

/* loaded by the first open: an agent that never reads the journal never
 * maps libsystemd */
static const struct aio_libsystemd *sd;

static int add_matches(sd_journal *j)
{
	int r;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if ((r = sd->journal_add_match(j, units[i], 0)) < 0)
			return r;
	if ((r = sd->journal_add_disjunction(j)) < 0)
		return r;
	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++)
		if ((r = sd->journal_add_match(j, comms[i], 0)) < 0)
			return r;
	return 0;
}

/* A journal opened before journald made its directories sees no files and
 * never notices them later: say "not there yet" instead. */
static bool has_files(sd_journal *j)
{
	uint64_t bytes = 0;

	return sd->journal_get_usage(j, &bytes) >= 0 && bytes > 0;
}

/* Whether journald has written anything under sysroot: until it has, the
 * agent need not load libsystemd to find out. */
static bool journal_present(const char *sysroot)
{
	static const char *const dirs[] = { "/var/log/journal", "/run/log/journal" };
	bool found = false;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !found; i++) {
		char path[4096];
		struct dirent *e;
		DIR *d;

		if (aio_path_join(sysroot ? sysroot : "/", dirs[i], path, sizeof(path)) < 0 ||
		    !(d = opendir(path)))
			continue;
		while (!found && (e = readdir(d)))
			found = e->d_name[0] != '.';
		closedir(d);
	}
	return found;
}

int agent_journal_open(struct agent_journal *jw, const char *sysroot, const char *cursor,
                       uint64_t backlog_ms)
{
	char dir[4096];
	int r;

	memset(jw, 0, sizeof(*jw));
	if (!journal_present(sysroot))
		return -ENOENT;
	if (!sd && !(sd = aio_libsystemd())) {
		static atomic_bool told;

		if (!atomic_exchange(&told, true))
			log_warn("libsystemd: %s (the journal is not read)",
			         aio_libsystemd_error());
		return -ENOPKG;
	}
	if (!sysroot || strcmp(sysroot, "/") == 0) {
		r = sd->journal_open(&jw->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	} else {
		if ((r = aio_path_join(sysroot, "/var/log/journal", dir, sizeof(dir))) < 0)
			return r;
		r = sd->journal_open_directory(&jw->j, dir, 0);
	}
	if (r < 0) {
		jw->j = NULL;
		return r;
	}
	if (!has_files(jw->j)) {
		r = -ENOENT;
		goto out_close;
	}
	sd->journal_set_data_threshold(jw->j, DATA_THRESHOLD);
	if ((r = add_matches(jw->j)) < 0)
		goto out_close;

	if (cursor && *cursor) {
		/* land on the cursor's entry, then consume it: reading starts after */
		if ((r = sd->journal_seek_cursor(jw->j, cursor)) < 0)
			goto out_close;
		if (sd->journal_next(jw->j) > 0 && sd->journal_test_cursor(jw->j, cursor) <= 0)
			sd->journal_previous(jw->j);
		snprintf(jw->cursor, sizeof(jw->cursor), "%s", cursor);
	} else if (backlog_ms == 0) {
		r = sd->journal_seek_head(jw->j);
	} else {
		uint64_t now = aio_now_ms();
		uint64_t from = now > backlog_ms ? now - backlog_ms : 0;

		r = sd->journal_seek_realtime_usec(jw->j, from * 1000);
	}
	if (r < 0)
		goto out_close;
	/* sets up inotify so new entries wake poll() */
	sd->journal_get_fd(jw->j);
	return 0;

out_close:
	sd->journal_close(jw->j);
	jw->j = NULL;
	return r;
}

int agent_journal_fd(struct agent_journal *jw)
{
	return jw->j ? sd->journal_get_fd(jw->j) : -1;
}

static void get_field(sd_journal *j, const char *field, char *buf, size_t len)
{
	const void *data;
	size_t n, flen = strlen(field);

	buf[0] = '\0';
	if (sd->journal_get_data(j, field, &data, &n) < 0 || n <= flen + 1)
		return;
	n -= flen + 1;
	if (n >= len)
		n = len - 1;
	memcpy(buf, (const char *)data + flen + 1, n);
	buf[n] = '\0';
}

int agent_journal_read(struct agent_journal *jw,
                       bool (*on_event)(const struct agent_event *ev, void *arg), void *arg)
{
	int r;

	if (!jw->j)
		return -EBADF;
	sd->journal_process(jw->j);
	while ((r = sd->journal_next(jw->j)) > 0) {
		const void *data;
		size_t len;
		char *cursor = NULL, unit[128];
		struct agent_event ev;
		uint64_t usec;

		if (sd->journal_get_cursor(jw->j, &cursor) < 0)
			continue;
		if (sd->journal_get_data(jw->j, "MESSAGE", &data, &len) >= 0 && len > 8 &&
		    agent_logparse_line((const char *)data + 8, len - 8, &ev) == 0) {
			get_field(jw->j, "_SYSTEMD_UNIT", unit, sizeof(unit));
			if (!unit[0])
				get_field(jw->j, "_COMM", unit, sizeof(unit));
			snprintf(ev.source, sizeof(ev.source), "journal:%s", unit);
			snprintf(ev.key, sizeof(ev.key), "%s", cursor);
			/* QEMU's time when the entry quotes QEMU: the same in
			 * every source of one failure */
			if (!ev.time_ms && sd->journal_get_realtime_usec(jw->j, &usec) >= 0)
				ev.time_ms = usec / 1000;
			if (!on_event(&ev, arg)) {
				free(cursor);
				sd->journal_previous(jw->j);
				return 0;
			}
		}
		snprintf(jw->cursor, sizeof(jw->cursor), "%s", cursor);
		free(cursor);
	}
	return r;
}

void agent_journal_close(struct agent_journal *jw)
{
	if (jw->j)
		sd->journal_close(jw->j);
	jw->j = NULL;
}
