/* Every file the agent touches lives under a sysroot: "/" in production,
 * a scratch directory in tests and demos. */
#pragma once

#include <stddef.h>

/* Joins sysroot and an absolute path into buf; -ENAMETOOLONG if it does not
 * fit, -EINVAL if path is not absolute. */
int aio_path_join(const char *sysroot, const char *path, char *buf, size_t len);
