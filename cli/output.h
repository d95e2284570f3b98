/* Output: a command describes its rows once (struct cli_rows: columns,
 * and typed cells), and they come out as a table for people (aligned
 * columns, units, ages), CSV for scripts (raw values) or JSON (an array of
 * objects). Documents that are not one list of rows (host show, report
 * trend, one rollout) build their JSON with jansson and print it with
 * cli_json_print. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "jsonw.h"

enum cli_format { CLI_TABLE, CLI_JSON, CLI_CSV, CLI_HTML /* report trend only */ };

struct cli_table {
	size_t ncols;
	const char *const *headers;
	char **cells; /* row-major, owned */
	size_t nrows, cap;
};

/* --no-headers: tables and CSV print their rows only */
extern bool cli_no_headers;

void cli_table_init(struct cli_table *t, const char *const *headers, size_t ncols);
/* Appends a row of ncols printf-formatted cells, given as strings. */
int cli_table_add(struct cli_table *t, const char *const *cells);
/* Sorts rows by cmp on whole rows (arrays of ncols cells). */
void cli_table_sort(struct cli_table *t, int (*cmp)(const void *, const void *));
/* A table's cells go to a terminal escaped (aio_text_escape), to CSV with
 * formulas neutralised. */
void cli_table_print(struct cli_table *t, enum cli_format f, FILE *out);
void cli_table_done(struct cli_table *t);
/* Prints and releases j; returns 0 or -EIO. */
int cli_json_print(json_t *j, FILE *out);

/* Where a column shows. */
enum { CLI_IN_TABLE = 1, CLI_IN_CSV = 2, CLI_IN_JSON = 4, CLI_IN_ALL = 7 };

struct cli_column {
	const char *title; /* the table's header */
	const char *key;   /* the JSON key and the CSV header; NULL in JSON: the
	                    * cell is an object whose members are the row's */
	unsigned in;       /* CLI_IN_*: the formats that show it */
	const char *csv;   /* the CSV header where it is not key */
};

/* A column whose CSV header is its key. */
#define CLI_COL(title, key, in)            \
	{                                  \
		(title), (key), (in), NULL \
	}

struct cli_cell {
	size_t text;  /* table and CSV text in the rows' buffer; 0: none */
	size_t csv;   /* CSV text where it differs; 0: text */
	json_t *json; /* owned; NULL: none (null in JSON) */
	/* or made when printed, one row at a time */
	json_t *(*make)(const void *arg);
	/* or written straight to the stream: the whole row */
	void (*write)(struct cli_jw *w, const void *arg);
	const void *arg;
};

struct cli_rows {
	const struct cli_column *cols;
	size_t ncols;
	enum cli_format format;
	struct cli_cell *cells; /* row-major */
	size_t nrows, cap;
	char *text; /* every cell's text */
	size_t len, size;
};

void cli_rows_init(struct cli_rows *r, const struct cli_column *cols, size_t ncols,
                   enum cli_format format);
/* Room for n rows, when their number is known. -ENOMEM. */
int cli_rows_reserve(struct cli_rows *r, size_t n);
/* Starts a row: the cell setters below fill it; unset cells are empty
 * ("-" in a table, "" in CSV, null in JSON). -ENOMEM. */
int cli_rows_add(struct cli_rows *r);
/* Cells of the newest row. */
void cli_cell_text(struct cli_rows *r, size_t col, const char *text);
void cli_cell_uint(struct cli_rows *r, size_t col, bool has, uint64_t v);
/* table: v with this many decimals; CSV and JSON the value */
void cli_cell_real(struct cli_rows *r, size_t col, bool has, double v, int decimals);
/* a ratio: "12.3%" in a table, 0.123 elsewhere */
void cli_cell_ratio(struct cli_rows *r, size_t col, bool has, double v);
/* RFC 3339 (0: none) */
void cli_cell_time(struct cli_rows *r, size_t col, uint64_t unix_ms);
/* "5s ago" in a table, RFC 3339 elsewhere */
void cli_cell_ago(struct cli_rows *r, size_t col, uint64_t unix_ms, uint64_t now_ms);
/* table: yes or no; CSV true or false; JSON a boolean */
void cli_cell_bool(struct cli_rows *r, size_t col, bool v, const char *yes, const char *no);
/* Each form given on its own (csv NULL: as table; json taken, NULL: null). */
void cli_cell_forms(struct cli_rows *r, size_t col, const char *table, const char *csv,
                    json_t *json);
/* JSON made by make(arg) when the row is printed: arg must live as long
 * as the rows. A large object made for every row at once costs more than
 * the rest of the command (fleet status at 10,000 hosts). */
void cli_cell_json_later(struct cli_rows *r, size_t col, json_t *(*make)(const void *arg),
                         const void *arg);
/* The whole row's JSON object written by write(w, arg) when it is
 * printed, with no tree: the row's other cells are not in it. */
void cli_cell_json_write(struct cli_rows *r, size_t col,
                         void (*write)(struct cli_jw *w, const void *arg), const void *arg);
/* Prints the rows in their format. JSON: the array of row objects becomes
 * root's member key (root taken; NULL: a new object; a member key already
 * there keeps its place) and root is printed. 0 or -EIO. */
int cli_rows_print(struct cli_rows *r, const char *key, json_t *root, FILE *out);
void cli_rows_done(struct cli_rows *r);
/* Whether the rows come out as JSON (a cell whose JSON costs much need
 * not be made otherwise). */
bool cli_rows_json(const struct cli_rows *r);

/* aio_text_escape of s for one printf: in one of 8 rotating buffers (the
 * ninth call reuses the first); "" for NULL. */
const char *cli_tty(const char *s);
/* s as a JSON string, bytes that are not UTF-8 as U+FFFD (jansson would
 * refuse it and the field vanish); NULL: null. */
json_t *cli_json_text(const char *s);

/* "5s ago", "now", "never". */
void cli_ago(uint64_t then_ms, uint64_t now_ms, char *buf, size_t len);
/* RFC 3339 as a JSON string; null for 0. */
json_t *cli_time_json(uint64_t unix_ms);
