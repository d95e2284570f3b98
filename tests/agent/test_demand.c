/* A domain's AIO demand from its XML (agent/demand.c): one context for
 * the main loop if a disk there uses io='native', one per iothread that
 * such a disk is placed on, none for other io modes or an empty drive. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demand.h"
#include "fileio.h"

static struct agent_demand demand(const char *file)
{
	struct agent_demand d;
	char path[512], err[256], *xml = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/fixtures/domains/%s", AIO_SOURCE_DIR, file);
	cr_assert_eq(aio_file_read_all(path, AGENT_DOMAIN_XML_MAX, &xml, &len), 0, "%s", path);
	cr_assert_eq(agent_demand_parse(xml, len, &d, err, sizeof(err)), 0, "%s: %s", file, err);
	free(xml);
	return d;
}

Test(demand, from_domains_as_libvirt_writes_them)
{
	static const struct {
		const char *file, *name;
		unsigned contexts;
		bool main_loop;
	} cases[] = {
		{ "main-loop-native.xml", "main-loop-native", 1, true },
		{ "three-disks-main.xml", "three-disks-main", 1, true }, /* one context */
		{ "iothreads.xml", "iothreads", 3, true }, /* main loop, iothreads 1 and 2 */
		{ "iothreads-only.xml", "iothreads-only", 1, false },
		{ "mixed-io.xml", "mixed-io", 0, false }, /* threads, io_uring, default */
		{ "no-disks.xml", "no-disks", 0, false },
		{ "cdrom-empty.xml", "cdrom", 0, false },       /* no medium: nothing opened */
		{ "virtio-scsi.xml", "virtio-scsi", 1, false }, /* the controller's iothread */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_demand d = demand(cases[i].file);

		cr_expect_str_eq(d.domain, cases[i].name);
		cr_expect_eq(d.contexts, cases[i].contexts, "%s: %u contexts", cases[i].file,
		             d.contexts);
		cr_expect_eq(d.events, (uint64_t)cases[i].contexts * AIO_CONTEXT_EVENTS);
		cr_expect_eq(d.main_loop, cases[i].main_loop, "%s", cases[i].file);
	}
}

Test(demand, bad_xml_is_refused_with_a_reason)
{
	static const char laughs[] = "<!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'>"
	                             "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
	                             "<domain><name>&b;</name></domain>";
	struct agent_demand d;
	char err[256], *huge;

	cr_expect_eq(agent_demand_parse("<domain><name>x", 15, &d, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "domain XML"), "%s", err);
	cr_expect_eq(agent_demand_parse("<network/>", 10, &d, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "<network>"), "%s", err);
	cr_expect_eq(agent_demand_parse("", 0, &d, err, sizeof(err)), -EINVAL);
	cr_assert((huge = malloc(AGENT_DOMAIN_XML_MAX + 1)));
	memset(huge, ' ', AGENT_DOMAIN_XML_MAX + 1);
	cr_expect_eq(agent_demand_parse(huge, AGENT_DOMAIN_XML_MAX + 1, &d, err, sizeof(err)),
	             -E2BIG);
	free(huge);
	/* entities are not expanded: a billion laughs costs nothing */
	cr_expect_eq(agent_demand_parse(laughs, strlen(laughs), &d, err, sizeof(err)), 0, "%s",
	             err);
	cr_expect_eq(d.contexts, 0);
}
