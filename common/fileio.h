/* Small, careful file operations: bounded reads, atomic writes. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads a file holding one decimal number (a sysctl) into *ret_value. */
int aio_file_read_u64(const char *path, uint64_t *ret_value);
/* Reads at most max bytes; *ret_buf is NUL-terminated, the caller frees it.
 * -EFBIG if the file is larger than max. */
int aio_file_read_all(const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* Replaces path with data: temp file, fsync, rename, fsync of the directory,
 * so a crash leaves either the old or the new content, never a mix. */
int aio_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Creates dir and its parents with mode; an existing directory is fine. */
int aio_mkdir_p(const char *dir, mode_t mode);
