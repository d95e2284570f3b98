#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "names.h"

Test(names, host)
{
	char long_name[300];

	cr_expect(aio_host_name_valid("hv-0042.dc1_a"));
	cr_expect_not(aio_host_name_valid(""));
	cr_expect_not(aio_host_name_valid("hv 1"));
	cr_expect_not(aio_host_name_valid("hv/1"));
	cr_expect_not(aio_host_name_valid(NULL));
	memset(long_name, 'a', sizeof(long_name));
	long_name[AIO_HOST_NAME_MAX] = '\0';
	cr_expect(aio_host_name_valid(long_name));
	long_name[AIO_HOST_NAME_MAX] = 'a';
	long_name[AIO_HOST_NAME_MAX + 1] = '\0';
	cr_expect_not(aio_host_name_valid(long_name));
}

Test(names, labels)
{
	char k[64], v[256];

	cr_assert_eq(aio_label_parse("rack=r12", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_str_eq(k, "rack");
	cr_expect_str_eq(v, "r12");
	cr_assert_eq(aio_label_parse("topology.kubernetes.io/zone=", k, sizeof(k), v, sizeof(v)),
	             0);
	cr_expect_str_eq(v, "");
	cr_expect_neq(aio_label_parse("rack", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("=r1", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("ra ck=r1", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("rack=a=b", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("rack=a,b", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("rack=a\nb", k, sizeof(k), v, sizeof(v)), 0);
}

/* What a peer wrote, escaped for where it is shown. */
Test(names, escaped_text_holds_no_control_and_is_utf8)
{
	char buf[256];

	aio_text_escape("vm\x1b]0;owned\x07-1", buf, sizeof(buf));
	cr_expect_str_eq(buf, "vm\\x1b]0;owned\\x07-1");
	aio_text_escape("csi\xc2\x9b"
	                "31m del\x7f bad\xff\xfe",
	                buf, sizeof(buf));
	cr_expect_str_eq(buf, "csi\\xc2\\x9b31m del\\x7f bad\\xff\\xfe");
	aio_text_escape("café, 日本, ok", buf, sizeof(buf));
	cr_expect_str_eq(buf, "café, 日本, ok", "UTF-8 text stays as it is");
	aio_text_escape("\xed\xa0\x80 surrogate, \xc0\xaf overlong", buf, sizeof(buf));
	cr_expect_str_eq(buf, "\\xed\\xa0\\x80 surrogate, \\xc0\\xaf overlong");
	aio_text_escape("a long text cut", buf, 8);
	cr_expect_eq(strlen(buf) < 8, true);
}

/* What a peer sent, made safe in place: a VM name set through argv, a log
 * line, never the reason a whole report is refused. */
Test(names, peer_text_is_cleaned_in_place)
{
	char s[64];

	snprintf(s, sizeof(s), "vm\x1b[2J\tname\xff\xc2\x9b-1");
	cr_expect(aio_text_clean(s, sizeof(s)));
	cr_expect_str_eq(s,
	                 "vm?[2J\tname???"
	                 "-1",
	                 "a tab stays, the rest become '?'");
	snprintf(s, sizeof(s), "café");
	cr_expect_not(aio_text_clean(s, sizeof(s)), "valid text is left alone");
	cr_expect(aio_text_clean(s, 4), "cut to the bound");
	cr_expect_str_eq(s, "caf", "at a whole character, never inside 'é'");
	cr_expect_not(aio_text_clean(NULL, 8));
	snprintf(s, 16, "ok\x07");
	cr_expect(aio_text_escape_in_place(s, 16));
	cr_expect_str_eq(s, "ok\\x07");
	snprintf(s, 16, "plain");
	cr_expect_not(aio_text_escape_in_place(s, 16));
}
