#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

static char *render(struct cli_table *t, enum cli_format f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	cli_table_print(t, f, out);
	fclose(out);
	return buf;
}

Test(output, csv_quotes_what_needs_it)
{
	static const char *const headers[] = { "host", "labels" };
	const char *row[] = { "hv1", "rack=r1,zone=\"a\"" };
	struct cli_table t;
	char *s;

	cli_table_init(&t, headers, 2);
	cli_table_add(&t, row);
	s = render(&t, CLI_CSV);
	cr_expect_str_eq(s, "host,labels\nhv1,\"rack=r1,zone=\"\"a\"\"\"\n");
	free(s);
	cli_table_done(&t);
}

Test(output, table_aligns_columns)
{
	static const char *const headers[] = { "HOST", "UTIL" };
	const char *a[] = { "hv-long-name", "1.0%" };
	const char *b[] = { "hv1", "99.9%" };
	struct cli_table t;
	char *s;

	cli_table_init(&t, headers, 2);
	cli_table_add(&t, a);
	cli_table_add(&t, b);
	s = render(&t, CLI_TABLE);
	cr_expect_str_eq(s, "HOST          UTIL\nhv-long-name  1.0%\nhv1           99.9%\n");
	free(s);
	cli_table_done(&t);
}

/* One description of rows, three formats. */
enum { NAME, COUNT, SEEN, NOTE, N_COLS };

static const struct cli_column cols[N_COLS] = {
	[NAME] = CLI_COL("NAME", "name", CLI_IN_ALL),
	[COUNT] = CLI_COL("COUNT", "count", CLI_IN_ALL),
	[SEEN] = { "SEEN", "seen_at", CLI_IN_ALL, "seen" },
	[NOTE] = CLI_COL(NULL, "note", CLI_IN_CSV | CLI_IN_JSON),
};

static char *rows_render(enum cli_format f, bool with_root)
{
	struct cli_rows r;
	json_t *root = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	cli_rows_init(&r, cols, N_COLS, f);
	cli_rows_add(&r);
	cli_cell_text(&r, NAME, "hv1");
	cli_cell_uint(&r, COUNT, true, 42);
	cli_cell_time(&r, SEEN, 1764547200000ULL);
	cli_cell_text(&r, NOTE, "a, \"quoted\" note");
	cli_rows_add(&r); /* a row of nothing set */
	cli_cell_text(&r, NAME, "hv22");
	if (with_root) {
		root = json_object();
		json_object_set_new(root, "first", json_true());
		json_object_set_new(root, "hosts", json_array());
		json_object_set_new(root, "after", json_integer(2));
	}
	cr_assert_eq(cli_rows_print(&r, "hosts", root, out), 0);
	cli_rows_done(&r);
	fclose(out);
	return buf;
}

Test(output, rows_as_a_table_show_empty_cells_as_a_dash)
{
	char *s = rows_render(CLI_TABLE, false);

	cr_expect_str_eq(s, "NAME  COUNT  SEEN\n"
	                    "hv1   42     2025-12-01T00:00:00.000Z\n"
	                    "hv22  -      -\n");
	free(s);
}

Test(output, rows_as_csv_have_the_keys_and_quote_what_needs_it)
{
	char *s = rows_render(CLI_CSV, false);

	cr_expect_str_eq(s, "name,count,seen,note\n"
	                    "hv1,42,2025-12-01T00:00:00.000Z,\"a, \"\"quoted\"\" note\"\n"
	                    "hv22,,,\n");
	free(s);
}

Test(output, rows_as_json_go_where_the_root_holds_them)
{
	char *s = rows_render(CLI_JSON, true);
	json_error_t e;
	json_t *j = json_loads(s, 0, &e), *h;

	cr_assert_not_null(j, "%s: %s", e.text, s);
	cr_expect(json_is_true(json_object_get(j, "first")));
	cr_expect_eq(json_integer_value(json_object_get(j, "after")), 2);
	h = json_object_get(j, "hosts");
	cr_assert_eq(json_array_size(h), 2);
	cr_expect_eq(json_integer_value(json_object_get(json_array_get(h, 0), "count")), 42);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(h, 0), "seen_at")),
	                 "2025-12-01T00:00:00.000Z");
	cr_expect(json_is_null(json_object_get(json_array_get(h, 1), "count")));
	/* "after" follows the rows, as the root put it */
	cr_expect_lt(strstr(s, "\"hosts\""), strstr(s, "\"after\""));
	json_decref(j);
	free(s);
}

static json_t *made(const void *arg)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(*(const int *)arg));
	json_object_set_new(o, "name", json_string("from the object"));
	return o;
}

Test(output, an_object_cell_without_a_key_is_the_rows_object)
{
	static const struct cli_column two[] = {
		{ "NAME", "name", CLI_IN_ALL, NULL },
		{ NULL, NULL, CLI_IN_JSON, NULL },
	};
	struct cli_rows r;
	int id = 7;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	json_t *j;

	cli_rows_init(&r, two, 2, CLI_JSON);
	cli_rows_add(&r);
	cli_cell_text(&r, 0, "the column");
	cli_cell_json_later(&r, 1, made, &id);
	cr_assert_eq(cli_rows_print(&r, "rows", NULL, out), 0);
	cli_rows_done(&r);
	fclose(out);
	cr_assert_not_null(j = json_loads(buf, 0, NULL), "%s", buf);
	cr_expect_eq(json_integer_value(
	                     json_object_get(json_array_get(json_object_get(j, "rows"), 0), "id")),
	             7);
	cr_expect_str_eq(json_string_value(json_object_get(
	                         json_array_get(json_object_get(j, "rows"), 0), "name")),
	                 "the column", "a keyed cell wins over the object's member");
	json_decref(j);
	free(buf);
}

Test(output, tables_and_rows_escape_for_the_terminal)
{
	static const char *const headers[] = { "VM" };
	const char *row[] = { "evil\x1b[2J" };
	struct cli_table t;
	struct cli_rows r;
	char *s, *buf = NULL;
	size_t len = 0;
	FILE *out;

	cli_table_init(&t, headers, 1);
	cli_table_add(&t, row);
	s = render(&t, CLI_TABLE);
	cr_expect_str_eq(s, "VM\nevil\\x1b[2J\n");
	free(s);
	cli_table_done(&t);

	out = open_memstream(&buf, &len);
	cli_rows_init(&r, cols, N_COLS, CLI_TABLE);
	cli_rows_add(&r);
	cli_cell_text(&r, NAME, "hv\x9b\x1b");
	cli_rows_print(&r, "rows", NULL, out);
	cli_rows_done(&r);
	fclose(out);
	cr_expect_not_null(strstr(buf, "hv\\x9b\\x1b "), "%s", buf);
	free(buf);
}

Test(output, csv_neutralises_formulas_but_not_numbers)
{
	static const char *const headers[] = { "vm", "growth" };
	const char *a[] = { "=HYPERLINK(\"http://x\",\"y\")", "-12.5" };
	const char *b[] = { "@SUM(A1)", "+3" };
	const char *c[] = { "-rm -rf", "1e3" };
	struct cli_table t;
	char *s;

	cli_table_init(&t, headers, 2);
	cli_table_add(&t, a);
	cli_table_add(&t, b);
	cli_table_add(&t, c);
	s = render(&t, CLI_CSV);
	cr_expect_str_eq(s, "vm,growth\n"
	                    "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-12.5\n"
	                    "'@SUM(A1),+3\n"
	                    "'-rm -rf,1e3\n");
	free(s);
	cli_table_done(&t);
}

Test(output, json_keeps_a_field_that_is_not_utf8)
{
	json_t *j = cli_json_text("vm\xff-1");

	cr_assert(json_is_string(j), "the field is kept");
	cr_expect_str_eq(json_string_value(j), "vm\xef\xbf\xbd-1");
	json_decref(j);
	j = cli_json_text("ok \x01 control");
	cr_expect_str_eq(json_string_value(j), "ok \x01 control", "escaped by jansson");
	json_decref(j);
	cr_expect(json_is_null(j = cli_json_text(NULL)));
	json_decref(j);
}
