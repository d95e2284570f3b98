/* systemd-sysctl's precedence on sysroot trees, and where procps differs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "persist.h"

static char root[64];
static struct agent_persist p;

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/aioctl-persist-XXXXXX");
	cr_assert(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert(system(cmd) == 0);
}

TestSuite(persist, .init = setup, .fini = teardown);

static void put(const char *path, const char *text)
{
	char full[256], cmd[300];
	FILE *f;

	snprintf(full, sizeof(full), "%s%s", root, path);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", full);
	cr_assert(system(cmd) == 0);
	cr_assert((f = fopen(full, "w")));
	fputs(text, f);
	fclose(f);
}

static void scan(void)
{
	cr_assert_eq(agent_persist_scan(root, &p), 0);
}

Test(persist, nothing_sets_it)
{
	put("/etc/sysctl.d/10-net.conf", "net.ipv4.ip_forward = 1\n");
	scan();
	cr_expect_not(p.has_value);
	cr_expect_eq(p.n_settings, 0);
	cr_expect_not(agent_persist_differs(&p));
}

Test(persist, libvirt_default)
{
	put("/usr/lib/sysctl.d/60-libvirtd.conf", "# libvirt\nfs.aio-max-nr = 1048576\n");
	scan();
	cr_assert(p.has_value);
	cr_expect_eq(p.value, 1048576);
	cr_expect_str_eq(p.file, "/usr/lib/sysctl.d/60-libvirtd.conf");
	cr_expect_eq(p.settings[0].line, 2);
}

Test(persist, later_name_wins_across_directories)
{
	put("/usr/lib/sysctl.d/60-libvirtd.conf", "fs.aio-max-nr = 1048576\n");
	put("/etc/sysctl.d/50-aio.conf", "fs.aio-max-nr=4194304\n");
	put("/run/sysctl.d/70-run.conf", "  fs/aio-max-nr   =   2097152  \n");
	scan();
	cr_assert_eq(p.n_settings, 3);
	cr_expect_str_eq(p.settings[0].file, "/etc/sysctl.d/50-aio.conf");
	cr_expect_str_eq(p.settings[1].file, "/usr/lib/sysctl.d/60-libvirtd.conf");
	cr_expect_str_eq(p.settings[2].file, "/run/sysctl.d/70-run.conf");
	cr_expect_eq(p.value, 2097152, "the last by name wins, whatever the directory");
	cr_expect_str_eq(p.file, "/run/sysctl.d/70-run.conf");
}

Test(persist, same_name_etc_hides_usr_lib)
{
	put("/usr/lib/sysctl.d/60-libvirtd.conf", "fs.aio-max-nr = 1048576\n");
	put("/etc/sysctl.d/60-libvirtd.conf", "fs.aio-max-nr = 65536\n");
	scan();
	cr_assert_eq(p.n_settings, 1);
	cr_expect_eq(p.value, 65536);
	cr_expect_str_eq(p.file, "/etc/sysctl.d/60-libvirtd.conf");
}

Test(persist, masked_by_dev_null)
{
	char link[256];

	put("/usr/lib/sysctl.d/60-libvirtd.conf", "fs.aio-max-nr = 1048576\n");
	put("/etc/sysctl.d/.keep", "");
	snprintf(link, sizeof(link), "%s/etc/sysctl.d/60-libvirtd.conf", root);
	cr_assert_eq(symlink("/dev/null", link), 0);
	scan();
	cr_expect_not(p.has_value, "a link to /dev/null masks the file");
}

Test(persist, last_setting_in_a_file_wins)
{
	put("/etc/sysctl.d/90-a.conf", "fs.aio-max-nr = 1\n; comment\n# fs.aio-max-nr = 9\n"
	                               "-fs.aio-max-nr = 3\nfs.aio-max-nr = bogus\n");
	scan();
	cr_expect_eq(p.n_settings, 2, "comments and bad values are not settings");
	cr_expect_eq(p.value, 3);
	cr_expect_eq(p.settings[1].line, 4);
}

Test(persist, sysctl_conf_as_99_and_procps_last)
{
	put("/etc/sysctl.conf", "fs.aio-max-nr = 524288\n");
	put("/etc/sysctl.d/99-zz-aioctl.conf", "fs.aio-max-nr = 2097152\n");
	scan();
	cr_expect_eq(p.value, 2097152, "99-zz sorts after 99-sysctl.conf for systemd");
	cr_expect_str_eq(p.file, "/etc/sysctl.d/99-zz-aioctl.conf");
	cr_assert(p.procps_has_value);
	cr_expect_eq(p.procps_value, 524288, "procps applies /etc/sysctl.conf last");
	cr_expect_str_eq(p.procps_file, "/etc/sysctl.conf");
	cr_expect(agent_persist_differs(&p));
}

Test(persist, sysctl_conf_agrees)
{
	put("/etc/sysctl.conf", "fs.aio-max-nr = 524288\n");
	put("/usr/lib/sysctl.d/60-libvirtd.conf", "fs.aio-max-nr = 1048576\n");
	scan();
	cr_expect_eq(p.value, 524288);
	cr_expect_str_eq(p.file, "/etc/sysctl.conf");
	cr_expect_not(agent_persist_differs(&p));
}
