/* Tables for people (aligned columns) and scripts (CSV); JSON is built with
 * jansson by each command and printed by cli_json_print. */
#pragma once

#include <jansson.h>
#include <stdio.h>

enum cli_format { CLI_TABLE, CLI_JSON, CLI_CSV, CLI_HTML /* report trend only */ };

struct cli_table {
	size_t ncols;
	const char *const *headers;
	char **cells; /* row-major, owned */
	size_t nrows, cap;
};

void cli_table_init(struct cli_table *t, const char *const *headers, size_t ncols);
/* Appends a row of ncols printf-formatted cells, given as strings. */
int cli_table_add(struct cli_table *t, const char *const *cells);
/* Sorts rows by cmp on whole rows (arrays of ncols cells). */
void cli_table_sort(struct cli_table *t, int (*cmp)(const void *, const void *));
void cli_table_print(const struct cli_table *t, enum cli_format f, FILE *out);
void cli_table_done(struct cli_table *t);
/* Prints and releases j; returns 0 or -EIO. */
int cli_json_print(json_t *j, FILE *out);
