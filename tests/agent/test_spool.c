/* The on-disk spool: order, restarts, bounds, damage, renumbering. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

static char dir[64];
static struct agent_spool sp;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/aioctl-spool-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	agent_spool_close(&sp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert(system(cmd) == 0);
}

TestSuite(spool, .init = setup, .fini = teardown);

static uint64_t append(uint64_t nr, const char *positions)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	Aioctl__V1__Sample s = AIOCTL__V1__SAMPLE__INIT;

	s.aio_nr = s.aio_nr_min = s.aio_nr_max = nr;
	r.sample = &s;
	cr_assert_eq(agent_spool_append(&sp, &r, positions), 0);
	return r.seq;
}

static uint64_t oldest(uint64_t *ret_nr, char **ret_pos)
{
	Aioctl__V1__ReportRequest *r = NULL;
	uint64_t seq;

	cr_assert_eq(agent_spool_oldest(&sp, &r, ret_pos), 0);
	seq = r->seq;
	*ret_nr = r->sample->aio_nr;
	aioctl__v1__report_request__free_unpacked(r, NULL);
	return seq;
}

Test(spool, order_and_restart)
{
	char *pos = NULL;
	uint64_t nr;

	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	cr_expect(sp.fresh);
	cr_expect_eq(append(10, "journal c1\n"), 1);
	cr_expect_eq(append(20, "journal c2\n"), 2);
	cr_expect_eq(append(30, NULL), 3);
	cr_expect_eq(oldest(&nr, &pos), 1);
	cr_expect_eq(nr, 10);
	cr_expect_str_eq(pos, "journal c1\n");
	free(pos);
	cr_assert_eq(agent_spool_remove(&sp, 1), 0);
	agent_spool_close(&sp);

	/* a restart finds what was not acknowledged, and numbers on */
	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	cr_expect_not(sp.fresh);
	cr_expect_eq(sp.n, 2);
	cr_expect_eq(oldest(&nr, &pos), 2);
	cr_expect_eq(nr, 20);
	free(pos);
	cr_assert_eq(agent_spool_newest_positions(&sp, &pos), 0);
	cr_expect_str_eq(pos, "", "report 3 had no positions");
	free(pos);
	cr_expect_eq(append(40, NULL), 4);
	cr_assert_eq(agent_spool_remove(&sp, 2), 0);
	cr_assert_eq(agent_spool_remove(&sp, 3), 0);
	cr_assert_eq(agent_spool_remove(&sp, 4), 0);
	agent_spool_close(&sp);

	/* empty, yet the numbers continue */
	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	cr_expect_eq(sp.n, 0);
	cr_expect_eq(append(50, NULL), 5);
}

Test(spool, bound_drops_oldest_and_counts)
{
	uint64_t nr;
	char *pos;

	cr_assert_eq(agent_spool_open(&sp, dir, 200), 0);
	for (int i = 1; i <= 10; i++)
		append((uint64_t)i, "journal 0123456789\n");
	cr_expect_leq(sp.bytes, 200);
	cr_expect_gt(sp.dropped, 0);
	cr_expect_eq(sp.dropped + sp.n, 10);
	cr_expect_eq(oldest(&nr, &pos), sp.dropped + 1, "the oldest went first");
	free(pos);
	agent_spool_close(&sp);
	cr_assert_eq(agent_spool_open(&sp, dir, 200), 0);
	cr_expect_eq(sp.dropped, 10 - sp.n, "the count survives a restart");
}

Test(spool, damaged_entry_skipped)
{
	char path[256];
	uint64_t nr;
	char *pos;
	FILE *f;

	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	append(1, NULL);
	append(2, NULL);
	snprintf(path, sizeof(path), "%s/spool/%020d.report", dir, 1);
	cr_assert((f = fopen(path, "w")));
	fputs("garbage", f);
	fclose(f);
	cr_expect_eq(oldest(&nr, &pos), 2);
	cr_expect_eq(nr, 2);
	cr_expect_eq(sp.dropped, 1);
	free(pos);
}

Test(spool, renumber_after_server)
{
	uint64_t nr;
	char *pos;

	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	append(1, "a\n");
	append(2, "b\n");
	cr_assert_eq(agent_spool_renumber(&sp, 101), 0);
	cr_expect_eq(oldest(&nr, &pos), 101);
	cr_expect_eq(nr, 1);
	cr_expect_str_eq(pos, "a\n");
	free(pos);
	cr_expect_eq(append(3, NULL), 103);
	cr_expect_not(sp.fresh);
}

Test(spool, a_report_the_server_refused_is_counted)
{
	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	cr_assert_eq(sp.dropped, 0);
	agent_spool_count_dropped(&sp);
	agent_spool_close(&sp);
	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	cr_expect_eq(sp.dropped, 1, "kept across a restart, and sent with every report");
	agent_spool_close(&sp);
}

static char *entry_text(uint64_t seq, size_t *ret_len)
{
	char path[256], *text;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/spool/%020llu.report", dir, (unsigned long long)seq);
	cr_assert((f = fopen(path, "re")));
	cr_assert(fseek(f, 0, SEEK_END) == 0);
	len = (size_t)ftell(f);
	rewind(f);
	cr_assert((text = malloc(len)));
	cr_assert_eq(fread(text, 1, len, f), len);
	fclose(f);
	*ret_len = len;
	return text;
}

Test(spool, every_flipped_byte_is_seen)
{
	Aioctl__V1__ReportRequest *r = NULL;
	char *text, *pos = NULL;
	size_t len;

	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	append(123456, "journal s=abc;i=1f\n");
	text = entry_text(1, &len);
	cr_assert_eq(agent_spool_parse(text, len, 1, &r, &pos), 0);
	cr_expect_eq(r->sample->aio_nr, 123456);
	aioctl__v1__report_request__free_unpacked(r, NULL);
	free(pos);
	cr_expect_eq(agent_spool_parse(text, len, 2, &r, NULL), -EBADMSG,
	             "an entry under another entry's name");
	cr_expect_eq(agent_spool_parse(text, len - 1, 1, &r, NULL), -EBADMSG, "a cut entry");
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			text[i] ^= (char)(1 << bit);
			cr_expect_eq(agent_spool_parse(text, len, 1, &r, &pos), -EBADMSG,
			             "bit %d of byte %zu flipped, not seen", bit, i);
			text[i] ^= (char)(1 << bit);
		}
	free(text);
}

/* The seq inside a damaged entry once decided which entry an ack removed:
 * the entry was sent for ever and another one deleted. */
Test(spool, a_damaged_seq_never_removes_another_entry)
{
	Aioctl__V1__ReportRequest *r = NULL;
	char path[256], *text;
	uint64_t nr;
	size_t len;
	char *pos;
	FILE *f;

	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	append(1, NULL);
	append(2, NULL);
	/* entry 1 rewritten, validly summed, with entry 2's seq inside */
	text = entry_text(2, &len);
	snprintf(path, sizeof(path), "%s/spool/%020d.report", dir, 1);
	cr_assert((f = fopen(path, "we")));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	free(text);
	cr_expect_eq(oldest(&nr, &pos), 2, "entry 1 is not entry 2");
	free(pos);
	cr_expect_eq(sp.dropped, 1, "counted, and so reported");
	cr_expect_eq(sp.n, 1);
	cr_expect_eq(agent_spool_oldest(&sp, &r, NULL), 0);
	cr_expect_eq(r->seq, 2);
	aioctl__v1__report_request__free_unpacked(r, NULL);
}

Test(spool, entries_of_the_first_format_are_read)
{
	Aioctl__V1__ReportRequest in = AIOCTL__V1__REPORT_REQUEST__INIT, *r = NULL;
	Aioctl__V1__Sample s = AIOCTL__V1__SAMPLE__INIT;
	uint8_t packed[64];
	char text[128], *pos = NULL;
	size_t plen, len;

	in.seq = 7;
	in.sample = &s;
	plen = aioctl__v1__report_request__pack(&in, packed);
	len = (size_t)snprintf(text, sizeof(text), "aiospool1 3\nabc");
	memcpy(text + len, packed, plen);
	cr_assert_eq(agent_spool_parse(text, len + plen, 7, &r, &pos), 0);
	cr_expect_eq(r->seq, 7);
	cr_expect_str_eq(pos, "abc");
	aioctl__v1__report_request__free_unpacked(r, NULL);
	free(pos);
}

/* A seq counter restored or damaged near 2^63 once froze the host's
 * history (a signed compare took every report for a replay). */
Test(spool, a_seq_past_the_bound_numbers_after_the_server)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seq", dir);
	cr_assert((f = fopen(path, "we")));
	fprintf(f, "%llu\n", (1ULL << 63) - 5);
	fclose(f);
	cr_assert_eq(agent_spool_open(&sp, dir, 1 << 20), 0);
	cr_expect(sp.fresh, "damaged: the server's numbering decides");
	append(1, NULL);
	cr_assert_eq(agent_spool_renumber(&sp, 42), 0);
	cr_expect_eq(sp.last_seq, 42);
	cr_expect_not(sp.fresh);
}
