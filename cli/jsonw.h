/* JSON written straight to a stream, byte for byte what jansson's
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) prints for the same tree:
 * `fleet status --output json` at 10,000 hosts spent more than half its
 * time building, dumping and freeing a jansson tree per row. Strings are
 * checked as cli_json_text checks them (a stray byte becomes U+FFFD). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_JW_DEPTH 8

struct cli_jw {
	FILE *f;
	unsigned depth;
	bool more[CLI_JW_DEPTH]; /* a member already written at that depth */
};

void cli_jw_init(struct cli_jw *w, FILE *f);

/* Every value takes the member's key inside an object, NULL in an array. */
void cli_jw_object(struct cli_jw *w, const char *key);
void cli_jw_array(struct cli_jw *w, const char *key);
void cli_jw_end(struct cli_jw *w, char close); /* '}' or ']' */

void cli_jw_null(struct cli_jw *w, const char *key);
void cli_jw_text(struct cli_jw *w, const char *key, const char *s); /* NULL: null */
void cli_jw_uint(struct cli_jw *w, const char *key, bool has, uint64_t v);
void cli_jw_int(struct cli_jw *w, const char *key, int64_t v);
void cli_jw_real(struct cli_jw *w, const char *key, bool has, double v);
void cli_jw_bool(struct cli_jw *w, const char *key, bool v);
/* RFC 3339 in UTC, or null for 0, as cli_time_json */
void cli_jw_time(struct cli_jw *w, const char *key, uint64_t unix_ms);
