#include <criterion/criterion.h>
#include <errno.h>

#include "path.h"

Test(path, join)
{
	char buf[64];

	cr_assert_eq(aio_path_join("/", "/proc/sys/fs/aio-nr", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "/proc/sys/fs/aio-nr");
	cr_assert_eq(aio_path_join("/tmp/root", "/etc/sysctl.d", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "/tmp/root/etc/sysctl.d");
	cr_assert_eq(aio_path_join("/tmp/root///", "//etc", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "/tmp/root/etc");
	cr_assert_eq(aio_path_join(NULL, "/etc", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "/etc");
	cr_assert_eq(aio_path_join("", "/etc", buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "/etc");
}

Test(path, rejects)
{
	char buf[16];

	cr_expect_eq(aio_path_join("/", "etc", buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(aio_path_join("/", NULL, buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(aio_path_join("/a/very/long/root", "/and/a/long/path", buf, sizeof(buf)),
	             -ENAMETOOLONG);
}
