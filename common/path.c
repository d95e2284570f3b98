#include "path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int aio_path_join(const char *sysroot, const char *path, char *buf, size_t len)
{
	size_t root_len;
	int n;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (!sysroot || !*sysroot)
		sysroot = "/";
	root_len = strlen(sysroot);
	while (root_len > 0 && sysroot[root_len - 1] == '/')
		root_len--;
	while (path[0] == '/' && path[1] == '/')
		path++;
	if (root_len > (size_t)(1 << 16))
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%.*s%s", (int)root_len, sysroot, path);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}
