#include <criterion/criterion.h>
#include <string.h>

#include "names.h"

Test(names, host)
{
	char long_name[300];

	cr_expect(aio_host_name_valid("hv-0042.dc1_a"));
	cr_expect_not(aio_host_name_valid(""));
	cr_expect_not(aio_host_name_valid("hv 1"));
	cr_expect_not(aio_host_name_valid("hv/1"));
	cr_expect_not(aio_host_name_valid(NULL));
	memset(long_name, 'a', sizeof(long_name));
	long_name[AIO_HOST_NAME_MAX] = '\0';
	cr_expect(aio_host_name_valid(long_name));
	long_name[AIO_HOST_NAME_MAX] = 'a';
	long_name[AIO_HOST_NAME_MAX + 1] = '\0';
	cr_expect_not(aio_host_name_valid(long_name));
}

Test(names, labels)
{
	char k[64], v[256];

	cr_assert_eq(aio_label_parse("rack=r12", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_str_eq(k, "rack");
	cr_expect_str_eq(v, "r12");
	cr_assert_eq(aio_label_parse("topology.kubernetes.io/zone=", k, sizeof(k), v, sizeof(v)),
	             0);
	cr_expect_str_eq(v, "");
	cr_expect_neq(aio_label_parse("rack", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("=r1", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("ra ck=r1", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("rack=a=b", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("rack=a,b", k, sizeof(k), v, sizeof(v)), 0);
	cr_expect_neq(aio_label_parse("rack=a\nb", k, sizeof(k), v, sizeof(v)), 0);
}
