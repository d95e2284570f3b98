#include "qemulog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "path.h"

#define CHUNK (64 * 1024) /* also the longest line read whole */

enum { READ_DONE, READ_STOPPED };

static void try_watch(struct agent_qemulog *q)
{
	if (q->wd >= 0 || q->ifd < 0)
		return;
	q->wd = inotify_add_watch(q->ifd, q->dir,
	                          IN_CREATE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE |
	                                  IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF);
}

static struct agent_qemulog_file *add_file(struct agent_qemulog *q, const char *name, int fd,
                                           ino_t ino, off_t offset, bool current)
{
	struct agent_qemulog_file *f;

	if (q->n >= AGENT_QEMULOG_FILES_MAX) {
		close(fd);
		return NULL;
	}
	if (!(q->n % 64)) {
		struct agent_qemulog_file *nf = realloc(q->files, (q->n + 64) * sizeof(*nf));

		if (!nf) {
			close(fd);
			return NULL;
		}
		q->files = nf;
	}
	f = &q->files[q->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->fd = fd;
	f->ino = ino;
	f->offset = offset;
	f->current = current;
	return f;
}

static int open_in_dir(struct agent_qemulog *q, const char *name, struct stat *st)
{
	char path[4400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", q->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static bool is_log_name(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && name[0] != '.' && strcmp(name + len - 4, ".log") == 0;
}

/* Where a stored position's inode lives now: its old name, or another name
 * after a rotation while we were away. */
static void restore_one(struct agent_qemulog *q, ino_t ino, off_t offset, const char *name)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = open_in_dir(q, name, &st)) >= 0) {
		if (st.st_ino == ino) {
			add_file(q, name, fd, ino, offset, true);
			return;
		}
		close(fd);
	}
	if (!(d = opendir(q->dir)))
		return;
	while ((de = readdir(d))) {
		if (de->d_ino != ino || (fd = open_in_dir(q, de->d_name, &st)) < 0)
			continue;
		if (st.st_ino == ino)
			add_file(q, de->d_name, fd, ino, offset, false);
		else
			close(fd);
		break;
	}
	closedir(d);
}

int agent_qemulog_open(struct agent_qemulog *q, const char *sysroot, const char *positions)
{
	const char *p;
	int r;

	memset(q, 0, sizeof(*q));
	q->wd = -1;
	if ((r = aio_path_join(sysroot, AGENT_QEMULOG_DIR, q->dir, sizeof(q->dir))) < 0)
		return r;
	q->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (q->ifd < 0)
		return -errno;
	try_watch(q);
	for (p = positions; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		uintmax_t ino;
		intmax_t off;
		char name[256];

		if (sscanf(p, "file %ju %jd %255s", &ino, &off, name) == 3 && off >= 0 &&
		    !strchr(name, '/'))
			restore_one(q, (ino_t)ino, (off_t)off, name);
	}
	return 0;
}

int agent_qemulog_fd(struct agent_qemulog *q)
{
	return q->ifd;
}

static void drain_inotify(struct agent_qemulog *q)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;

	while ((n = read(q->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_IGNORED)
				q->wd = -1; /* the directory went away: watch again later */
		}
	}
}

/* Marks which tracked files are still NAME.log, and adds new ones. */
static void rescan(struct agent_qemulog *q)
{
	struct dirent *de;
	DIR *d;

	for (size_t i = 0; i < q->n; i++)
		q->files[i].current = false;
	if (!(d = opendir(q->dir)))
		return;
	while ((de = readdir(d))) {
		struct agent_qemulog_file *f = NULL;
		struct stat st;
		int fd;

		if (!is_log_name(de->d_name))
			continue;
		for (size_t i = 0; i < q->n; i++)
			if (q->files[i].ino == de->d_ino &&
			    strcmp(q->files[i].name, de->d_name) == 0)
				f = &q->files[i];
		if (f) {
			f->current = true;
			continue;
		}
		if ((fd = open_in_dir(q, de->d_name, &st)) >= 0)
			add_file(q, de->d_name, fd, st.st_ino, 0, true);
	}
	closedir(d);
}

static void vm_of(const char *name, char *buf, size_t len)
{
	const char *dot = strstr(name, ".log");
	size_t n = dot ? (size_t)(dot - name) : strlen(name);

	if (n >= len)
		n = len - 1;
	memcpy(buf, name, n);
	buf[n] = '\0';
}

static uint64_t fnv1a(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	while (len--) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static void remember_head(struct agent_qemulog_file *f)
{
	size_t want = f->offset < (off_t)sizeof(f->head) ? (size_t)f->offset : sizeof(f->head);
	ssize_t n;

	if (f->head_len == want)
		return;
	n = pread(f->fd, f->head, want, 0);
	f->head_len = n == (ssize_t)want ? want : 0;
}

static bool rewritten(struct agent_qemulog_file *f, struct stat *st)
{
	char now[sizeof(f->head)];

	if (fstat(f->fd, st) == 0 && st->st_size < f->offset)
		return true;
	if (!f->head_len)
		return false;
	return pread(f->fd, now, f->head_len, 0) != (ssize_t)f->head_len ||
	       memcmp(now, f->head, f->head_len) != 0;
}

/* Reads f's complete lines from its offset; at_end also takes a last line
 * without a newline (the file is finished). */
static int read_lines(struct agent_qemulog_file *f, char *buf, bool at_end,
                      bool (*on_event)(const struct agent_event *ev, void *arg), void *arg)
{
	struct stat st;

	if (f->offset > 0 && rewritten(f, &st)) {
		f->offset = 0; /* truncated: start over */
		f->head_len = 0;
	}
	for (;;) {
		ssize_t n = pread(f->fd, buf, CHUNK, f->offset);
		size_t pos = 0;

		if (n <= 0) {
			remember_head(f);
			return READ_DONE;
		}
		while (pos < (size_t)n) {
			char *nl = memchr(buf + pos, '\n', (size_t)n - pos);
			size_t len = nl ? (size_t)(nl - buf) - pos : (size_t)n - pos;
			struct agent_event ev;

			/* a partial last line waits for its end, unless it can't */
			if (!nl && pos > 0)
				break;
			if (!nl && !at_end && (size_t)n < CHUNK) {
				remember_head(f);
				return READ_DONE;
			}
			if (agent_logparse_line(buf + pos, len, &ev) == 0) {
				if (!ev.vm[0])
					vm_of(f->name, ev.vm, sizeof(ev.vm));
				snprintf(ev.source, sizeof(ev.source), "%s/%s", AGENT_QEMULOG_DIR,
				         f->name);
				/* where, and what: a file truncated and written again
				 * puts new lines at old places */
				snprintf(ev.key, sizeof(ev.key), "qemu:%ju:%jd:%016" PRIx64,
				         (uintmax_t)f->ino, (intmax_t)(f->offset + (off_t)pos),
				         fnv1a(buf + pos, len));
				if (!ev.time_ms)
					ev.time_ms = aio_now_ms();
				if (!on_event(&ev, arg)) {
					f->offset += (off_t)pos;
					remember_head(f);
					return READ_STOPPED;
				}
			}
			pos += len + (nl ? 1 : 0);
		}
		f->offset += (off_t)pos;
	}
}

int agent_qemulog_read(struct agent_qemulog *q,
                       bool (*on_event)(const struct agent_event *ev, void *arg), void *arg)
{
	size_t kept = 0;

	/* the one buffer is the reader's, not every thread's (static TLS
	 * would cost each of the agent's threads its 64 KiB) */
	if (!q->buf && !(q->buf = malloc(CHUNK)))
		return -ENOMEM;
	drain_inotify(q);
	try_watch(q);
	rescan(q);
	/* finished files first (rotated away: their tail came before the new file) */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < q->n; i++) {
			struct agent_qemulog_file *f = &q->files[i];

			if (f->current != (pass == 1))
				continue;
			if (read_lines(f, q->buf, !f->current, on_event, arg) == READ_STOPPED)
				return 0;
		}
	}
	for (size_t i = 0; i < q->n; i++) {
		if (q->files[i].current)
			q->files[kept++] = q->files[i];
		else
			close(q->files[i].fd);
	}
	q->n = kept;
	return 0;
}

void agent_qemulog_positions(const struct agent_qemulog *q, FILE *out)
{
	for (size_t i = 0; i < q->n; i++)
		fprintf(out, "file %ju %jd %s\n", (uintmax_t)q->files[i].ino,
		        (intmax_t)q->files[i].offset, q->files[i].name);
}

void agent_qemulog_close(struct agent_qemulog *q)
{
	for (size_t i = 0; i < q->n; i++)
		close(q->files[i].fd);
	free(q->files);
	free(q->buf);
	if (q->ifd >= 0)
		close(q->ifd);
	memset(q, 0, sizeof(*q));
	q->ifd = -1;
}
