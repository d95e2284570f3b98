#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cli_table_init(struct cli_table *t, const char *const *headers, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->headers = headers;
	t->ncols = ncols;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, cap * t->ncols * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		t->cells = nc;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "");
		if (!t->cells[t->nrows * t->ncols + i]) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

void cli_table_sort(struct cli_table *t, int (*cmp)(const void *, const void *))
{
	qsort(t->cells, t->nrows, t->ncols * sizeof(char *), cmp);
}

static void print_csv_cell(const char *s, FILE *out)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void cli_table_print(const struct cli_table *t, enum cli_format f, FILE *out)
{
	size_t *width;

	if (f == CLI_CSV) {
		for (size_t c = 0; c < t->ncols; c++) {
			if (c)
				fputc(',', out);
			print_csv_cell(t->headers[c], out);
		}
		fputc('\n', out);
		for (size_t r = 0; r < t->nrows; r++) {
			for (size_t c = 0; c < t->ncols; c++) {
				if (c)
					fputc(',', out);
				print_csv_cell(t->cells[r * t->ncols + c], out);
			}
			fputc('\n', out);
		}
		return;
	}
	width = calloc(t->ncols, sizeof(*width));
	if (!width)
		return;
	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = strlen(t->headers[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = strlen(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];

			if (c + 1 == t->ncols)
				fputs(s, out);
			else
				fprintf(out, "%-*s  ", (int)width[c], s);
		}
		fputc('\n', out);
	}
	free(width);
}

void cli_table_done(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

int cli_json_print(json_t *j, FILE *out)
{
	int r = json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	fputc('\n', out);
	return r == 0 ? 0 : -EIO;
}
