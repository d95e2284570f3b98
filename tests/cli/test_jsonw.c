/* The JSON writer prints what jansson prints for the same values: the
 * HTTP API and scripts compare the two, and host show still uses jansson. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "output.h"
#include "view.h"

static char *jansson(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(j);
	return s;
}

struct sink {
	char *text;
	size_t len;
	FILE *f;
	struct cli_jw w;
};

static struct cli_jw *sink_open(struct sink *s)
{
	s->f = open_memstream(&s->text, &s->len);
	cli_jw_init(&s->w, s->f);
	return &s->w;
}

static char *sink_close(struct sink *s)
{
	fclose(s->f);
	return s->text;
}

static const char *const texts[] = {
	"plain",
	"",
	"quote\" back\\slash /",
	"ctl\x01\x1f\b\f\n\r\t del\x7f",
	"ünïcødé ☃ 😀",
	"bad \xff byte \xc3",
	"surrogate \xed\xa0\x80",
	"overlong \xc0\xaf",
};

/* value as jansson prints it in an array, next to what the writer wrote
 * there (put's own call) */
static void expect_same(json_t *value, struct sink *s, const char *what, size_t i)
{
	json_t *a = json_array();
	char *want, *got;

	json_array_append_new(a, value ? value : json_null());
	want = jansson(a);
	cli_jw_end(&s->w, ']');
	got = sink_close(s);
	cr_expect_str_eq(got, want, "%s %zu", what, i);
	free(want);
	free(got);
}

static struct cli_jw *in_array(struct sink *s)
{
	cli_jw_array(sink_open(s), NULL);
	return &s->w;
}

Test(jsonw, strings_are_jansson_s)
{
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct sink s;

		cli_jw_text(in_array(&s), NULL, texts[i]);
		expect_same(cli_json_text(texts[i]), &s, "text", i);
	}
}

Test(jsonw, numbers_are_jansson_s)
{
	static const double reals[] = { 0.0,
		                        1.0,
		                        0.75,
		                        0.1,
		                        1e-5,
		                        1.0000000000000001e-05,
		                        123456789012345678.0,
		                        1e300,
		                        -2.5e-300,
		                        2.0 / 3.0,
		                        NAN };
	static const uint64_t ints[] = {
		0, 1, 65536, 2097152, UINT64_MAX, 1ULL << 63, 9223372036854775807ULL
	};

	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		struct sink s;

		cli_jw_real(in_array(&s), NULL, true, reals[i]);
		expect_same(json_real(reals[i]), &s, "real", i);
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		struct sink s;

		cli_jw_uint(in_array(&s), NULL, true, ints[i]);
		expect_same(json_integer((json_int_t)ints[i]), &s, "int", i);
	}
}

/* A host with every member set, written and parsed back: the tree host
 * show adds to holds what the writer wrote, and jansson prints it again
 * byte for byte. */
Test(jsonw, a_host_reads_back_as_written)
{
	Aioctl__V1__Sample sample = AIOCTL__V1__SAMPLE__INIT;
	Aioctl__V1__Persisted pers = AIOCTL__V1__PERSISTED__INIT;
	Aioctl__V1__SysctlSetting set = AIOCTL__V1__SYSCTL_SETTING__INIT, *sets[] = { &set };
	Aioctl__V1__Label l1 = AIOCTL__V1__LABEL__INIT, l2 = AIOCTL__V1__LABEL__INIT;
	Aioctl__V1__Label *labels[] = { &l1, &l2 };
	Aioctl__V1__HostStatus h = AIOCTL__V1__HOST_STATUS__INIT;
	struct sink s;
	char *written, *again;

	sample.aio_nr = 3;
	sample.aio_max_nr = 300000;
	sample.aio_nr_max = 7;
	sample.time_ms = 1764748800123;
	set.file = "/etc/sysctl.d/99-\"aio\".conf";
	set.line = 3;
	set.value = 1048576;
	pers.has_value = true;
	pers.value = 1048576;
	pers.file = set.file;
	pers.n_settings = 1;
	pers.settings = sets;
	l1.key = "rack";
	l1.value = "r1\n";
	l2.key = "zone";
	l2.value = "\xff";
	h.host = "hv-ü";
	h.sample = &sample;
	h.persisted = &pers;
	h.labels = labels;
	h.n_labels = 2;
	h.online = true;
	h.has_room_contexts = true;
	h.room_contexts = 290;
	h.last_seen_ms = sample.time_ms;
	h.interval_ms = 10000;
	h.last_seq = 18446744073709551615ULL;
	cli_host_write(sink_open(&s), &h);
	written = sink_close(&s);
	again = jansson(cli_host_json(&h));
	cr_expect_str_eq(again, written);
	cr_expect(strstr(written, "\"utilization\":1.0000000000000001e-5,") != NULL, "%s", written);
	cr_expect(strstr(written, "\"labels\":{\"rack\":\"r1\\n\",\"zone\":\"\xef\xbf\xbd\"}") !=
	                  NULL,
	          "%s", written);
	free(written);
	free(again);
}
