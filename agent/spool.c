#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "fileio.h"
#include "log.h"

/* An entry: "aiospool2 PLEN SUM\n", PLEN bytes of positions, the packed
 * report. SUM is FNV-1a 64 over both, seeded with the entry's seq, so a
 * flipped byte, a cut or a file under another entry's name is seen.
 * Entries of the first format ("aiospool1 PLEN\n", no sum) are still read. */
#define MAGIC1    "aiospool1 "
#define MAGIC2    "aiospool2 "
#define MAGIC_LEN 10
/* A spooled report is a packed message plus positions; larger is corrupt. */
#define ENTRY_MAX (8 << 20)

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t entry_sum(uint64_t seq, uint64_t plen, const uint8_t *body, size_t len)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, &seq, sizeof(seq));

	return fnv1a(fnv1a(h, &plen, sizeof(plen)), body, len);
}

static void entry_path(const struct agent_spool *sp, uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%020" PRIu64 ".report", sp->dir, seq);
}

static int by_seq(const void *a, const void *b)
{
	const struct agent_spool_entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int push_entry(struct agent_spool *sp, uint64_t seq, uint64_t size)
{
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct agent_spool_entry *v = realloc(sp->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sp->v = v;
		sp->cap = cap;
	}
	sp->v[sp->n].seq = seq;
	sp->v[sp->n].size = size;
	sp->n++;
	sp->bytes += size;
	return 0;
}

/* A full or read-only state dir is logged when it starts and when it
 * ends, not at every report. */
static void note_write(struct agent_spool *sp, int err)
{
	if (err < 0 && !sp->write_failing)
		log_err_errno(err,
		              "cannot write the spool in %s: reports made until it is writable "
		              "again are counted as dropped; their events wait",
		              sp->dir);
	else if (err == 0 && sp->write_failing)
		log_info("%s writable again; %" PRIu64 " reports dropped so far", sp->state_dir,
		         sp->dropped);
	sp->write_failing = err < 0;
}

static int save_counter(struct agent_spool *sp, const char *name, uint64_t v)
{
	char path[4200], text[32];

	snprintf(path, sizeof(path), "%s/%s", sp->state_dir, name);
	snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
	return aio_file_write_atomic(path, text, strlen(text), 0600);
}

static uint64_t load_counter(const struct agent_spool *sp, const char *name, bool *ret_found)
{
	char path[4200];
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/%s", sp->state_dir, name);
	*ret_found = aio_file_read_u64(path, &v) == 0;
	return *ret_found ? v : 0;
}

int agent_spool_open(struct agent_spool *sp, const char *state_dir, uint64_t max_bytes)
{
	struct dirent *de;
	bool found_seq, found_dropped;
	DIR *d;
	int r;

	memset(sp, 0, sizeof(*sp));
	sp->max_bytes = max_bytes;
	snprintf(sp->state_dir, sizeof(sp->state_dir), "%s", state_dir);
	if (snprintf(sp->dir, sizeof(sp->dir), "%s/spool", state_dir) >= (int)sizeof(sp->dir))
		return -ENAMETOOLONG;
	if ((r = aio_mkdir_p(sp->dir, 0700)) < 0)
		return r;
	if (!(d = opendir(sp->dir)))
		return -errno;
	while ((de = readdir(d))) {
		char path[4400], *end;
		uint64_t seq = strtoull(de->d_name, &end, 10);
		FILE *f;
		long size;

		if (strcmp(end, ".report") != 0 || seq == 0)
			continue; /* also leftovers of interrupted writes */
		entry_path(sp, seq, path, sizeof(path));
		if (!(f = fopen(path, "re")))
			continue;
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fclose(f);
		if (size <= 0 || (r = push_entry(sp, seq, (uint64_t)size)) < 0) {
			if (size <= 0)
				continue;
			closedir(d);
			return r;
		}
	}
	closedir(d);
	if (sp->n)
		qsort(sp->v, sp->n, sizeof(*sp->v), by_seq);
	sp->last_seq = load_counter(sp, "seq", &found_seq);
	if (sp->n && sp->v[sp->n - 1].seq > sp->last_seq)
		sp->last_seq = sp->v[sp->n - 1].seq;
	sp->dropped = load_counter(sp, "dropped", &found_dropped);
	sp->fresh = !found_seq && sp->n == 0;
	if (sp->last_seq >= AIO_SEQ_MAX) {
		/* no agent counts this far: the state is damaged; the reports
		 * kept are numbered after the server's once it answers */
		log_err("spool: seq %" PRIu64 " is past 2^62: damaged state in %s; numbering "
		        "after the server's last report",
		        sp->last_seq, state_dir);
		sp->fresh = true;
	}
	return 0;
}

void agent_spool_close(struct agent_spool *sp)
{
	free(sp->v);
	sp->v = NULL;
	sp->n = sp->cap = 0;
}

static void drop_oldest(struct agent_spool *sp)
{
	char path[4400];

	entry_path(sp, sp->v[0].seq, path, sizeof(path));
	unlink(path);
	sp->bytes -= sp->v[0].size;
	memmove(sp->v, sp->v + 1, (sp->n - 1) * sizeof(*sp->v));
	sp->n--;
	sp->dropped++;
}

static int write_entry(struct agent_spool *sp, const Aioctl__V1__ReportRequest *r,
                       const char *positions, uint64_t *ret_size)
{
	size_t plen = positions ? strlen(positions) : 0;
	size_t rlen = protobuf_c_message_get_packed_size(&r->base);
	char header[64], path[4400];
	size_t hlen;
	uint8_t *mem, *buf;
	int err;

	if (plen + rlen > ENTRY_MAX - sizeof(header))
		return -EMSGSIZE;
	if (!(mem = malloc(sizeof(header) + plen + rlen)))
		return -ENOMEM;
	buf = mem + sizeof(header); /* the header goes in front */
	if (plen)
		memcpy(buf, positions, plen);
	protobuf_c_message_pack(&r->base, buf + plen);
	hlen = (size_t)snprintf(header, sizeof(header), MAGIC2 "%zu %016" PRIx64 "\n", plen,
	                        entry_sum(r->seq, plen, buf, plen + rlen));
	buf -= hlen;
	memcpy(buf, header, hlen);
	entry_path(sp, r->seq, path, sizeof(path));
	err = aio_file_write_atomic(path, buf, hlen + plen + rlen, 0600);
	free(mem);
	*ret_size = hlen + plen + rlen;
	return err;
}

int agent_spool_append(struct agent_spool *sp, Aioctl__V1__ReportRequest *r, const char *positions)
{
	uint64_t size, dropped = sp->dropped;
	int err;

	/* a report that cannot be kept is counted and its number skipped: the
	 * server sees a gap that the count explains */
	r->seq = ++sp->last_seq;
	err = write_entry(sp, r, positions, &size);
	note_write(sp, err);
	if (err < 0) {
		sp->dropped++;
		save_counter(sp, "dropped", sp->dropped);
		return err;
	}
	/* if this fails the count is behind; Hello puts it right */
	save_counter(sp, "seq", sp->last_seq);
	if ((err = push_entry(sp, r->seq, size)) < 0)
		return err;
	while (sp->bytes > sp->max_bytes && sp->n > 1)
		drop_oldest(sp);
	if (sp->dropped != dropped) {
		log_warn("spool over %" PRIu64 " bytes: dropped %" PRIu64 " oldest reports so far",
		         sp->max_bytes, sp->dropped);
		save_counter(sp, "dropped", sp->dropped);
	}
	return 0;
}

int agent_spool_parse(const char *text, size_t len, uint64_t seq,
                      Aioctl__V1__ReportRequest **ret_report, char **ret_positions)
{
	const char *nl = len > MAGIC_LEN ? memchr(text, '\n', len) : NULL;
	bool v2 = nl && memcmp(text, MAGIC2, MAGIC_LEN) == 0;
	unsigned long long plen = 0, sum = 0;
	char header[64], canon[64];
	const uint8_t *body;
	size_t hlen, off;

	if (!nl || (!v2 && memcmp(text, MAGIC1, MAGIC_LEN) != 0) ||
	    (hlen = (size_t)(nl - text) - MAGIC_LEN) >= sizeof(header))
		return -EBADMSG;
	memcpy(header, text + MAGIC_LEN, hlen);
	header[hlen] = '\0';
	if (v2 ? sscanf(header, "%20llu %16llx", &plen, &sum) != 2
	       : sscanf(header, "%20llu", &plen) != 1)
		return -EBADMSG;
	/* one spelling only: the header is covered by no sum of its own */
	if (v2)
		snprintf(canon, sizeof(canon), "%llu %016llx", plen, sum);
	else
		snprintf(canon, sizeof(canon), "%llu", plen);
	off = (size_t)(nl - text) + 1;
	body = (const uint8_t *)text + off;
	if (strcmp(header, canon) != 0 || plen > len - off ||
	    (v2 && entry_sum(seq, plen, body, len - off) != sum))
		return -EBADMSG;
	if (ret_report) {
		Aioctl__V1__ReportRequest *r =
		        aioctl__v1__report_request__unpack(NULL, len - off - plen, body + plen);

		/* the seq inside must be the entry's own: the ack removes by it */
		if (!r || r->seq != seq) {
			if (r)
				aioctl__v1__report_request__free_unpacked(r, NULL);
			return -EBADMSG;
		}
		*ret_report = r;
	}
	if (ret_positions) {
		if (!(*ret_positions = strndup((const char *)body, plen))) {
			if (ret_report) {
				aioctl__v1__report_request__free_unpacked(*ret_report, NULL);
				*ret_report = NULL;
			}
			return -ENOMEM;
		}
	}
	return 0;
}

static int read_entry(struct agent_spool *sp, uint64_t seq, Aioctl__V1__ReportRequest **ret_report,
                      char **ret_positions)
{
	char path[4400], *text = NULL;
	size_t len;
	int r;

	entry_path(sp, seq, path, sizeof(path));
	if ((r = aio_file_read_all(path, ENTRY_MAX, &text, &len)) < 0)
		return r;
	r = agent_spool_parse(text, len, seq, ret_report, ret_positions);
	free(text);
	return r;
}

int agent_spool_oldest(struct agent_spool *sp, Aioctl__V1__ReportRequest **ret_report,
                       char **ret_positions)
{
	while (sp->n) {
		int r = read_entry(sp, sp->v[0].seq, ret_report, ret_positions);

		if (r != -EBADMSG && r != -ENOENT)
			return r;
		/* a damaged entry can never be sent: count it and move on */
		log_warn("spool: report %" PRIu64 " unreadable, dropped", sp->v[0].seq);
		drop_oldest(sp);
		save_counter(sp, "dropped", sp->dropped);
	}
	return -ENOENT;
}

int agent_spool_oldest_batch(struct agent_spool *sp, size_t max_n, uint64_t max_bytes,
                             struct agent_spool_batch *ret)
{
	struct agent_spool_batch b = { 0 };
	uint64_t bytes;
	size_t cap;
	int r;

	cap = sp->n < max_n ? sp->n : max_n;
	if (!cap)
		return -ENOENT;
	if (!(b.reports = calloc(cap, sizeof(*b.reports))) ||
	    !(b.positions = calloc(cap, sizeof(*b.positions)))) {
		agent_spool_batch_done(&b);
		return -ENOMEM;
	}
	if ((r = agent_spool_oldest(sp, &b.reports[0], &b.positions[0])) < 0) {
		agent_spool_batch_done(&b);
		return r;
	}
	b.n = 1;
	bytes = sp->v[0].size;
	/* a damaged entry ends the batch: it is the oldest next time, and
	 * dropped then */
	while (b.n < cap && b.n < sp->n && bytes + sp->v[b.n].size <= max_bytes &&
	       read_entry(sp, sp->v[b.n].seq, &b.reports[b.n], &b.positions[b.n]) == 0)
		bytes += sp->v[b.n++].size;
	*ret = b;
	return 0;
}

void agent_spool_batch_done(struct agent_spool_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		aioctl__v1__report_request__free_unpacked(b->reports[i], NULL);
		free(b->positions[i]);
	}
	free(b->reports);
	free(b->positions);
	memset(b, 0, sizeof(*b));
}

int agent_spool_newest_positions(struct agent_spool *sp, char **ret_positions)
{
	for (size_t i = sp->n; i-- > 0;)
		if (read_entry(sp, sp->v[i].seq, NULL, ret_positions) == 0)
			return 0;
	return -ENOENT;
}

void agent_spool_count_dropped(struct agent_spool *sp)
{
	sp->dropped++;
	save_counter(sp, "dropped", sp->dropped);
}

int agent_spool_remove(struct agent_spool *sp, uint64_t seq)
{
	char path[4400];

	for (size_t i = 0; i < sp->n; i++) {
		if (sp->v[i].seq != seq)
			continue;
		entry_path(sp, seq, path, sizeof(path));
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		sp->bytes -= sp->v[i].size;
		memmove(sp->v + i, sp->v + i + 1, (sp->n - i - 1) * sizeof(*sp->v));
		sp->n--;
		return 0;
	}
	return -ENOENT;
}

static int renumber_one(struct agent_spool *sp, size_t i, uint64_t seq)
{
	Aioctl__V1__ReportRequest *r = NULL;
	char *positions = NULL, old[4400];
	uint64_t size;
	int err;

	if (sp->v[i].seq == seq)
		return 0;
	if ((err = read_entry(sp, sp->v[i].seq, &r, &positions)) < 0)
		return err;
	entry_path(sp, sp->v[i].seq, old, sizeof(old));
	r->seq = seq;
	err = write_entry(sp, r, positions, &size);
	aioctl__v1__report_request__free_unpacked(r, NULL);
	free(positions);
	if (err < 0)
		return err;
	unlink(old);
	sp->v[i].seq = seq;
	return 0;
}

int agent_spool_renumber(struct agent_spool *sp, uint64_t first)
{
	int err;

	/* move in the direction that never writes over a report not yet moved */
	if (sp->n && first > sp->v[0].seq) {
		for (size_t i = sp->n; i-- > 0;)
			if ((err = renumber_one(sp, i, first + i)) < 0)
				return err;
	} else {
		for (size_t i = 0; i < sp->n; i++)
			if ((err = renumber_one(sp, i, first + i)) < 0)
				return err;
	}
	sp->last_seq = first + sp->n - 1;
	save_counter(sp, "seq", sp->last_seq);
	sp->fresh = false;
	return 0;
}
