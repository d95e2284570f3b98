#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A sysctl number is at most 20 digits; anything longer is not one. */
#define U64_FILE_MAX 64

int aio_file_read_u64(const char *path, uint64_t *ret_value)
{
	char buf[U64_FILE_MAX + 1];
	char *end;
	ssize_t n;
	unsigned long long v;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, U64_FILE_MAX);
	if (n < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (end == buf || errno || buf[0] == '-')
		return -EINVAL;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return -EINVAL;
	*ret_value = v;
	return 0;
}

int aio_file_read_all(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				err = -EFBIG;
				goto out_free;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto out_free;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		err = -EFBIG;
		goto out_free;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	close(fd);
	return 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return err;
}

static int fsync_dir_of(const char *path)
{
	char copy[4096];
	int fd, err = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

int aio_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	const char *p = data;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out_unlink;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		err = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = -errno;
		goto out_unlink;
	}
	return fsync_dir_of(path);

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err;
}

int aio_mkdir_p(const char *dir, mode_t mode)
{
	char buf[4096];
	size_t len;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}
