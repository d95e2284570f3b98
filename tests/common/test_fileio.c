#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/aioctl-fileio-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert(system(cmd) == 0);
}

TestSuite(fileio, .init = setup, .fini = teardown);

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

static int read_u64(const char *name, uint64_t *v)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return aio_file_read_u64(path, v);
}

Test(fileio, read_u64)
{
	uint64_t v = 7;

	put("a", "65536\n");
	cr_assert_eq(read_u64("a", &v), 0);
	cr_expect_eq(v, 65536);
	put("b", "18446744073709551615");
	cr_assert_eq(read_u64("b", &v), 0);
	cr_expect_eq(v, UINT64_MAX);

	v = 7;
	put("c", "");
	cr_expect_eq(read_u64("c", &v), -EINVAL);
	put("d", "12abc\n");
	cr_expect_eq(read_u64("d", &v), -EINVAL);
	put("e", "-1\n");
	cr_expect_eq(read_u64("e", &v), -EINVAL);
	put("f", "99999999999999999999999\n");
	cr_expect_eq(read_u64("f", &v), -EINVAL);
	cr_expect_eq(read_u64("missing", &v), -ENOENT);
	cr_expect_eq(v, 7, "failures leave the value alone");
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

Test(fileio, atomic_write_replaces_and_leaves_no_temp)
{
	char path[128], *text = NULL;
	struct stat sb;
	size_t len;

	snprintf(path, sizeof(path), "%s/x.conf", dir);
	cr_assert_eq(aio_file_write_atomic(path, "one\n", 4, 0644), 0);
	cr_assert_eq(aio_file_write_atomic(path, "two\n", 4, 0600), 0);
	cr_assert_eq(aio_file_read_all(path, 100, &text, &len), 0);
	cr_expect_str_eq(text, "two\n");
	cr_expect_eq(len, 4);
	free(text);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0600);
	cr_expect_eq(count_entries(), 1, "no temp file remains");
}

Test(fileio, read_all_bound)
{
	char path[128], *text = NULL;

	snprintf(path, sizeof(path), "%s/big", dir);
	put("big", "0123456789");
	cr_expect_eq(aio_file_read_all(path, 9, &text, NULL), -EFBIG);
	cr_expect_null(text);
	cr_expect_eq(aio_file_read_all(path, 10, &text, NULL), 0);
	free(text);
}

Test(fileio, mkdir_p)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	cr_assert_eq(aio_mkdir_p(path, 0700), 0);
	cr_assert_eq(aio_mkdir_p(path, 0700), 0, "existing is fine");
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect(S_ISDIR(sb.st_mode));
}
