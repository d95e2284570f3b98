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
