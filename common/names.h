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
/* Bounded printable text (kernel release, versions, file names). */
bool aio_text_valid(const char *s, size_t max);
