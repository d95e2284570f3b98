/* What counts as a host name, a label key and a label value. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

/* Letters, digits, '.', '-', '_'; 1..AIO_HOST_NAME_MAX bytes. */
bool aio_host_name_valid(const char *s);
/* Letters, digits, '.', '-', '_', '/'; 1..AIO_LABEL_KEY_MAX bytes. */
bool aio_label_key_valid(const char *s);
/* Printable ASCII without '=' or ','; 0..AIO_LABEL_VALUE_MAX bytes. */
bool aio_label_value_valid(const char *s);
/* Splits "KEY=VALUE" into the buffers; -EINVAL if either part is invalid. */
int aio_label_parse(const char *s, char *key, size_t key_len, char *value, size_t value_len);
/* Whether name matches one of the comma-separated shell globs in list
 * ("hv-1*,db-?"); an empty glob matches nothing. */
bool aio_glob_list_match(const char *list, const char *name);
/* A label key ("rack", "topology.io/zone") as a Prometheus label name
 * ([a-zA-Z_][a-zA-Z0-9_]*: other bytes as '_'), with "label_" before one
 * that would start with a digit or "__" or clash with host, kernel,
 * agent_version, alertname, severity or rollout. */
void aio_prom_label_name(const char *key, char *buf, size_t len);
/* Bounded printable text (kernel release, versions, file names). */
bool aio_text_valid(const char *s, size_t max);

/* The length of the UTF-8 sequence at s, 1 to 4, or 0 where s does not
 * start one (overlong forms, surrogates and past U+10FFFF are not). */
size_t aio_utf8_len(const unsigned char *s);
/* s into buf (cut at len, at a whole character): C0 and C1 controls, DEL
 * and bytes that are not UTF-8 as \xNN, so what anyone wrote (a VM name, a
 * log line) cannot move a terminal's cursor, break a JSON string or a
 * database's text. */
void aio_text_escape(const char *s, char *buf, size_t len);
/* aio_text_escape of the string in buf (size bytes, at most 4096),
 * written back; false when it needed none. */
bool aio_text_escape_in_place(char *buf, size_t size);
/* In place, for text a peer sent: every byte aio_text_escape would
 * escape, except a tab, becomes '?', and s is cut to max bytes at a whole
 * character; true if anything changed. NULL: false. */
bool aio_text_clean(char *s, size_t max);
