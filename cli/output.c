#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "duration.h"
#include "names.h"

bool cli_no_headers;

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

/* ------------------------------------------------------------ escaping */

/* Whether s holds a byte a terminal or a JSON string must not get as it
 * is: a control (C0, DEL), or anything past ASCII (checked further). */
static bool plain(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return false;
	return true;
}

const char *cli_tty(const char *s)
{
	static char bufs[8][1024];
	static unsigned next;
	char *b = bufs[next++ % 8];

	if (!s)
		return "";
	aio_text_escape(s, b, sizeof(bufs[0]));
	return b;
}

json_t *cli_json_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	json_t *j;
	char *buf;
	size_t o = 0, n;

	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j; /* jansson checks UTF-8 and escapes controls */
	/* not UTF-8 throughout: each stray byte becomes U+FFFD */
	if (!(buf = malloc(strlen(s) * 3 + 1)))
		return json_null();
	for (; *p; p += n) {
		if (!(n = aio_utf8_len(p))) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			n = 1;
			continue;
		}
		memcpy(buf + o, p, n);
		o += n;
	}
	buf[o] = '\0';
	j = json_string(buf);
	free(buf);
	return j ? j : json_null();
}

/* A CSV cell a spreadsheet would run as a formula (= + - @, or a tab or
 * CR first) unless it is a number. */
static bool formula(const char *s)
{
	char *end;

	if (!*s || !strchr("=+-@\t\r", *s))
		return false;
	strtod(s, &end);
	return end == s || *end;
}

static void print_csv_cell(const char *s, FILE *out)
{
	bool neutral = formula(s);

	if (!strpbrk(s, ",\"\n\r")) {
		if (neutral)
			fputc('\'', out);
		fputs(s, out);
		return;
	}
	fputc('"', out);
	if (neutral)
		fputc('\'', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void cli_table_print(struct cli_table *t, enum cli_format f, FILE *out)
{
	size_t *width;

	if (f == CLI_CSV) {
		for (size_t c = 0; !cli_no_headers && c < t->ncols; c++) {
			if (c)
				fputc(',', out);
			print_csv_cell(t->headers[c], out);
		}
		if (!cli_no_headers)
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
	/* for a terminal: what a peer wrote cannot move the cursor */
	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		char buf[4096], *e;

		if (plain(t->cells[i]))
			continue;
		aio_text_escape(t->cells[i], buf, sizeof(buf));
		if ((e = strdup(buf))) {
			free(t->cells[i]);
			t->cells[i] = e;
		}
	}
	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = strlen(t->headers[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = strlen(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (size_t r = cli_no_headers ? 1 : 0; r <= t->nrows; r++) {
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

/* ------------------------------------------------------------- rows */

void cli_ago(uint64_t then_ms, uint64_t now_ms, char *buf, size_t len)
{
	char d[32];

	if (!then_ms) {
		snprintf(buf, len, "never");
		return;
	}
	if (then_ms >= now_ms) {
		snprintf(buf, len, "now");
		return;
	}
	/* whole seconds are enough for people */
	aio_duration_format((now_ms - then_ms) / 1000 * 1000, d, sizeof(d));
	snprintf(buf, len, "%s ago", strcmp(d, "0s") ? d : "<1s");
}

json_t *cli_time_json(uint64_t unix_ms)
{
	char buf[40];

	if (!unix_ms)
		return json_null();
	aio_time_format_rfc3339(unix_ms, buf, sizeof(buf));
	return json_string(buf);
}

void cli_rows_init(struct cli_rows *r, const struct cli_column *cols, size_t ncols,
                   enum cli_format format)
{
	memset(r, 0, sizeof(*r));
	r->cols = cols;
	r->ncols = ncols;
	r->format = format;
}

int cli_rows_reserve(struct cli_rows *r, size_t n)
{
	struct cli_cell *v;

	if (n <= r->cap)
		return 0;
	if (!(v = realloc(r->cells, n * r->ncols * sizeof(*v))))
		return -ENOMEM;
	r->cells = v;
	r->cap = n;
	return 0;
}

int cli_rows_add(struct cli_rows *r)
{
	if (r->nrows == r->cap && cli_rows_reserve(r, r->cap ? r->cap * 2 : 64) < 0)
		return -ENOMEM;
	memset(&r->cells[r->nrows * r->ncols], 0, r->ncols * sizeof(*r->cells));
	r->nrows++;
	return 0;
}

/* The newest row's cell col if this format shows it, else NULL. */
static struct cli_cell *cell(struct cli_rows *r, size_t col)
{
	static const unsigned shows[] = { [CLI_TABLE] = CLI_IN_TABLE,
		                          [CLI_CSV] = CLI_IN_CSV,
		                          [CLI_JSON] = CLI_IN_JSON,
		                          [CLI_HTML] = CLI_IN_TABLE };

	if (!r->nrows || col >= r->ncols || !(r->cols[col].in & shows[r->format]))
		return NULL;
	return &r->cells[(r->nrows - 1) * r->ncols + col];
}

/* s in the rows' text: its offset (0: none). Cells keep offsets, not
 * pointers: one buffer for every cell's text, no allocation per cell. */
static size_t keep(struct cli_rows *r, const char *s)
{
	size_t n, off;

	if (!s)
		return 0;
	n = strlen(s) + 1;
	if (r->len + n > r->size) {
		size_t size = r->size ? r->size * 2 : 4096;
		char *t;

		while (size < r->len + n + 1)
			size *= 2;
		if (!(t = realloc(r->text, size)))
			return 0;
		r->text = t;
		r->size = size;
		if (!r->len)
			r->text[r->len++] = '\0'; /* offset 0 means none */
	}
	off = r->len;
	memcpy(r->text + off, s, n);
	r->len += n;
	return off;
}

static const char *text_at(const struct cli_rows *r, size_t off)
{
	return off ? r->text + off : NULL;
}

void cli_cell_forms(struct cli_rows *r, size_t col, const char *table, const char *csv,
                    json_t *json)
{
	struct cli_cell *c = cell(r, col);

	if (!c || r->format != CLI_JSON) {
		json_decref(json);
		if (c && r->format == CLI_TABLE && table && !plain(table)) {
			char buf[4096];

			aio_text_escape(table, buf, sizeof(buf));
			c->text = keep(r, buf);
		} else if (c) {
			c->text = keep(r, table);
			c->csv = csv ? keep(r, csv) : 0;
		}
		return;
	}
	json_decref(c->json);
	c->json = json;
}

void cli_cell_json_later(struct cli_rows *r, size_t col, json_t *(*make)(const void *arg),
                         const void *arg)
{
	struct cli_cell *c = cell(r, col);

	if (c && r->format == CLI_JSON) {
		c->make = make;
		c->arg = arg;
	}
}

void cli_cell_json_write(struct cli_rows *r, size_t col,
                         void (*write)(struct cli_jw *w, const void *arg), const void *arg)
{
	struct cli_cell *c = cell(r, col);

	if (c && r->format == CLI_JSON) {
		c->write = write;
		c->arg = arg;
	}
}

bool cli_rows_json(const struct cli_rows *r)
{
	return r->format == CLI_JSON;
}

void cli_cell_text(struct cli_rows *r, size_t col, const char *text)
{
	if (!cell(r, col))
		return;
	if (cli_rows_json(r))
		cli_cell_forms(r, col, NULL, NULL, text ? cli_json_text(text) : NULL);
	else
		cli_cell_forms(r, col, text, NULL, NULL);
}

void cli_cell_uint(struct cli_rows *r, size_t col, bool has, uint64_t v)
{
	char buf[24];

	if (!cell(r, col))
		return;
	if (cli_rows_json(r)) {
		cli_cell_forms(r, col, NULL, NULL, has ? json_integer((json_int_t)v) : NULL);
		return;
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	cli_cell_forms(r, col, has ? buf : NULL, NULL, NULL);
}

void cli_cell_real(struct cli_rows *r, size_t col, bool has, double v, int decimals)
{
	char table[32], csv[32];

	if (!cell(r, col))
		return;
	if (cli_rows_json(r)) {
		cli_cell_forms(r, col, NULL, NULL, has ? json_real(v) : NULL);
		return;
	}
	snprintf(table, sizeof(table), "%.*f", decimals, v);
	snprintf(csv, sizeof(csv), "%.6g", v);
	cli_cell_forms(r, col, has ? table : NULL, has ? csv : NULL, NULL);
}

void cli_cell_ratio(struct cli_rows *r, size_t col, bool has, double v)
{
	char buf[32];

	if (!cell(r, col))
		return;
	if (cli_rows_json(r)) {
		cli_cell_forms(r, col, NULL, NULL, has ? json_real(v) : NULL);
		return;
	}
	if (r->format == CLI_CSV)
		snprintf(buf, sizeof(buf), "%.6f", v);
	else
		snprintf(buf, sizeof(buf), "%.1f%%", 100 * v);
	cli_cell_forms(r, col, has ? buf : NULL, NULL, NULL);
}

void cli_cell_time(struct cli_rows *r, size_t col, uint64_t unix_ms)
{
	char buf[40];

	if (!cell(r, col))
		return;
	if (cli_rows_json(r)) {
		cli_cell_forms(r, col, NULL, NULL, cli_time_json(unix_ms));
		return;
	}
	if (unix_ms)
		aio_time_format_rfc3339(unix_ms, buf, sizeof(buf));
	cli_cell_forms(r, col, unix_ms ? buf : NULL, NULL, NULL);
}

void cli_cell_ago(struct cli_rows *r, size_t col, uint64_t unix_ms, uint64_t now_ms)
{
	char buf[48];

	if (!cell(r, col))
		return;
	if (r->format != CLI_TABLE) {
		cli_cell_time(r, col, unix_ms);
		return;
	}
	cli_ago(unix_ms, now_ms, buf, sizeof(buf));
	cli_cell_forms(r, col, buf, NULL, NULL);
}

void cli_cell_bool(struct cli_rows *r, size_t col, bool v, const char *yes, const char *no)
{
	if (!cell(r, col))
		return;
	if (cli_rows_json(r))
		cli_cell_forms(r, col, NULL, NULL, json_boolean(v));
	else
		cli_cell_forms(r, col, v ? yes : no, v ? "true" : "false", NULL);
}

/* A cell's text in this format: empty is "-" in a table, "" in CSV. */
static const char *cell_text(const struct cli_rows *r, const struct cli_cell *c)
{
	const char *t = r->format == CLI_CSV && c->csv ? text_at(r, c->csv) : text_at(r, c->text);

	return t ? t : r->format == CLI_CSV ? "" : "-";
}

static const char *header(const struct cli_rows *r, size_t col)
{
	const struct cli_column *c = &r->cols[col];

	return r->format != CLI_CSV ? c->title : c->csv ? c->csv : c->key;
}

/* Rows as text: aligned columns, or CSV. */
static void print_text(const struct cli_rows *r, FILE *out)
{
	unsigned in = r->format == CLI_CSV ? CLI_IN_CSV : CLI_IN_TABLE;
	size_t *width = calloc(r->ncols + 1, sizeof(*width)), last = 0;

	if (!width)
		return;
	for (size_t c = 0; c < r->ncols; c++) {
		if (!(r->cols[c].in & in))
			continue;
		last = c;
		width[c] = strlen(header(r, c));
		for (size_t i = 0; r->format != CLI_CSV && i < r->nrows; i++) {
			size_t w = strlen(cell_text(r, &r->cells[i * r->ncols + c]));

			width[c] = w > width[c] ? w : width[c];
		}
	}
	for (size_t i = cli_no_headers ? 1 : 0; i <= r->nrows; i++) {
		bool first = true;

		for (size_t c = 0; c < r->ncols; c++) {
			const char *s;

			if (!(r->cols[c].in & in))
				continue;
			s = i ? cell_text(r, &r->cells[(i - 1) * r->ncols + c]) : header(r, c);
			if (r->format == CLI_CSV) {
				if (!first)
					fputc(',', out);
				print_csv_cell(s, out);
			} else if (c == last) {
				fputs(s, out);
			} else {
				fprintf(out, "%-*s  ", (int)width[c], s);
			}
			first = false;
		}
		fputc('\n', out);
	}
	free(width);
}

/* A row as one JSON object: an object cell without a key is the base its
 * other cells join. */
static json_t *row_object(struct cli_rows *r, size_t i)
{
	struct cli_cell *cells = &r->cells[i * r->ncols];
	json_t *o = NULL;

	for (size_t c = 0; c < r->ncols; c++) {
		if (cells[c].make && !cells[c].json)
			cells[c].json = cells[c].make(cells[c].arg);
		cells[c].make = NULL;
	}
	for (size_t c = 0; c < r->ncols && !o; c++)
		if ((r->cols[c].in & CLI_IN_JSON) && !r->cols[c].key &&
		    json_is_object(cells[c].json))
			o = cells[c].json;
	if (o)
		json_incref(o);
	else
		o = json_object();
	for (size_t c = 0; c < r->ncols; c++) {
		struct cli_cell *cl = &cells[c];

		if ((r->cols[c].in & CLI_IN_JSON) && r->cols[c].key)
			json_object_set(o, r->cols[c].key, cl->json ? cl->json : json_null());
		json_decref(cl->json);
		cl->json = NULL;
	}
	return o;
}

static const struct cli_cell *row_writer(const struct cli_rows *r, size_t i)
{
	const struct cli_cell *cells = &r->cells[i * r->ncols];

	for (size_t c = 0; c < r->ncols; c++)
		if (cells[c].write)
			return &cells[c];
	return NULL;
}

/* JSON, one row object at a time: at 10,000 rows one tree of them all
 * costs more to build and free than the rest of the command. */
static int print_json(struct cli_rows *r, const char *key, json_t *root, FILE *out)
{
	char *head, *text = NULL, mark[128];
	size_t len;
	int ret = 0;

	if (!root)
		root = json_object();
	/* in place if the caller put it among root's members, else last */
	json_object_set_new(root, key, json_array());
	if (!(head = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		json_decref(root);
		return -ENOMEM;
	}
	json_decref(root);
	/* the rows go where the member's empty brackets stand */
	snprintf(mark, sizeof(mark), "\n  \"%s\": []", key);
	if ((text = strstr(head, mark)))
		text += strlen(mark) - 2;
	len = text ? (size_t)(text - head) : strlen(head);
	fprintf(out, "%.*s[", (int)len, head);
	for (size_t i = 0; i < r->nrows && ret == 0; i++) {
		const struct cli_cell *wc = row_writer(r, i);
		json_t *o;
		char *s;

		if (wc) {
			struct cli_jw w;

			fprintf(out, "%s\n    ", i ? "," : "");
			cli_jw_init(&w, out);
			wc->write(&w, wc->arg);
			continue;
		}
		o = row_object(r, i);
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (!s)
			ret = -ENOMEM;
		else
			fprintf(out, "%s\n    %s", i ? "," : "", s);
		free(s);
		json_decref(o);
	}
	fprintf(out, "%s]%s\n", r->nrows ? "\n  " : "", text ? text + 2 : "");
	free(head);
	return ret;
}

int cli_rows_print(struct cli_rows *r, const char *key, json_t *root, FILE *out)
{
	if (r->format == CLI_JSON)
		return print_json(r, key, root, out) < 0 ? -EIO : 0;
	json_decref(root);
	print_text(r, out);
	return 0;
}

void cli_rows_done(struct cli_rows *r)
{
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		json_decref(r->cells[i].json);
	free(r->cells);
	free(r->text);
	memset(r, 0, sizeof(*r));
}
