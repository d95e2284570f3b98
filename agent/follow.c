/* The follow thread: the journal and QEMU logs into pending events, and
 * the periodic scans. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "rpc.h"

#define POLL_MS 1000 /* also how often files are looked at without inotify */

/* Positions text: "journal CURSOR" then the QEMU logs' "file ..." lines. */
static char *positions_text(struct agent *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (a->journal.cursor[0])
		fprintf(f, "journal %s\n", a->journal.cursor);
	if (a->guard_pos[0])
		fprintf(f, "guard %s\n", a->guard_pos);
	agent_qemulog_positions(&a->qemulog, f);
	fclose(f);
	return buf;
}

/* The value of the line "KEY VALUE" in positions, or NULL. */
static const char *position_of(const char *positions, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);
	const char *p = positions;

	while (p && (p = strstr(p, key)) && ((p != positions && p[-1] != '\n') || p[klen] != ' '))
		p += klen;
	if (!p)
		return NULL;
	p += klen + 1;
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

static const char *journal_cursor_of(const char *positions, char *buf, size_t len)
{
	return position_of(positions, "journal", buf, len);
}

static void open_journal(struct agent *a, const char *positions)
{
	char cursor[AIO_EVENT_KEY_MAX + 1];
	int r;

	r = agent_journal_open(&a->journal, a->conf.sysroot,
	                       journal_cursor_of(positions, cursor, sizeof(cursor)),
	                       a->conf.journal_backlog_ms);
	/* journald may start after the agent, or make its directory later:
	 * this is tried again every poll until it works */
	if (r < 0 && !a->journal_warned) {
		log_warn_errno(r,
		               "no journal to read under %s yet; QEMU logs are watched, and the "
		               "journal is read as soon as it appears",
		               a->conf.sysroot);
		a->journal_warned = true;
	} else if (r == 0 && a->journal_warned) {
		log_info("journal appeared under %s: reading AIO errors from it", a->conf.sysroot);
		a->journal_warned = false;
	}
}

void agent_follow_open(struct agent *a, const char *positions)
{
	int r;

	open_journal(a, positions);
	if ((r = agent_qemulog_open(&a->qemulog, a->conf.sysroot, positions)) < 0)
		log_warn_errno(r, "cannot follow %s", AGENT_QEMULOG_DIR);
	if (!position_of(positions, "guard", a->guard_pos, sizeof(a->guard_pos)))
		a->guard_pos[0] = '\0';
	a->positions = positions_text(a);
}

void agent_follow_committed(struct agent *a, const char *positions)
{
	char upto[AGENT_GUARD_EVENT_NAME + 1];

	if (position_of(positions, "guard", upto, sizeof(upto)))
		agent_guard_events_trim(a->conf.state_dir, upto);
}

void agent_follow_close(struct agent *a)
{
	agent_journal_close(&a->journal);
	agent_qemulog_close(&a->qemulog);
}

/* Queues one event for the next report; false (stop reading) when full. */
static bool push_event(const struct agent_event *ev, void *arg)
{
	struct agent *a = arg;
	bool ok;

	pthread_mutex_lock(&a->lock);
	ok = a->n_pending < AIO_EVENTS_MAX;
	if (ok)
		a->pending[a->n_pending++] = *ev;
	pthread_mutex_unlock(&a->lock);
	if (ok)
		log_info("AIO %s in %s%s%s%s", aio_event_kind_name(ev->kind), ev->source,
		         ev->vm[0] ? " (vm " : "", ev->vm, ev->vm[0] ? ")" : "");
	return ok;
}

static void read_logs(struct agent *a)
{
	char *positions;

	if (!a->journal.j)
		open_journal(a, a->positions);
	if (a->journal.j)
		agent_journal_read(&a->journal, push_event, a);
	agent_qemulog_read(&a->qemulog, push_event, a);
	agent_guard_events_read(a->conf.state_dir, a->guard_pos, push_event, a, a->guard_pos);
	positions = positions_text(a);
	if (!positions)
		return;
	pthread_mutex_lock(&a->lock);
	free(a->positions);
	a->positions = positions;
	pthread_mutex_unlock(&a->lock);
}

void agent_follow_scan(struct agent *a)
{
	struct agent_attrib *at = calloc(1, sizeof(*at));
	struct agent_persist *p = calloc(1, sizeof(*p));
	Aioctl__V1__CountingMode mode;
	uint64_t nr = 0;
	int r;

	if (!at || !p)
		goto out_free;
	if ((r = agent_attrib_scan(a->conf.sysroot, at)) < 0) {
		log_warn_errno(r, "cannot scan %s/proc", a->conf.sysroot);
		goto out_free;
	}
	if ((r = agent_persist_scan(a->conf.sysroot, p)) < 0)
		goto out_free;
	aio_file_read_u64(a->sampler.nr_path, &nr);
	mode = agent_attrib_counting(at, nr);

	pthread_mutex_lock(&a->lock);
	if (a->attrib)
		agent_attrib_done(a->attrib);
	free(a->attrib);
	free(a->persist);
	a->attrib = at;
	a->persist = p;
	if (mode != AIOCTL__V1__COUNTING_MODE__COUNTING_UNKNOWN)
		a->counting = mode;
	a->unexplained = agent_attrib_unexplained(at, nr, a->counting);
	pthread_mutex_unlock(&a->lock);
	return;

out_free:
	if (at)
		agent_attrib_done(at);
	free(at);
	free(p);
}

void *agent_follow_thread(void *arg)
{
	struct agent *a = arg;
	uint64_t next_scan = aio_mono_ms() + a->conf.attribution_interval_ms;

	do {
		struct pollfd fds[2] = {
			{ .fd = agent_journal_fd(&a->journal), .events = POLLIN },
			{ .fd = agent_qemulog_fd(&a->qemulog), .events = POLLIN },
		};
		uint64_t now = aio_mono_ms();

		if (now >= next_scan) {
			agent_follow_scan(a);
			next_scan = now + a->conf.attribution_interval_ms;
		}
		read_logs(a);
		poll(fds, 2, POLL_MS);
	} while (!agent_wait_until(a, 0));
	return NULL;
}
