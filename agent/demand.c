#include "demand.h"

#include <dlfcn.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libxml2 is loaded by the first domain to parse: it brings ICU and the C++
 * runtime (almost 2 MiB of resident set), and an agent on a host that
 * starts no VM never needs it. */
#define XML_SYMBOLS(X)                                \
	X(read_memory, xmlReadMemory)                 \
	X(get_last_error, xmlGetLastError)            \
	X(doc_get_root_element, xmlDocGetRootElement) \
	X(free_doc, xmlFreeDoc)                       \
	X(get_prop, xmlGetProp)                       \
	X(has_prop, xmlHasProp)

static struct {
#define XML_MEMBER(member, symbol) __typeof__(&symbol) member;
	XML_SYMBOLS(XML_MEMBER)
#undef XML_MEMBER
	xmlFreeFunc *free_fn; /* the library's xmlFree, a variable */
} xml;
static bool xml_loaded;
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_load(void)
{
	void *h = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
#define XML_LOAD(member, symbol)                          \
	if (!(*(void **)&xml.member = dlsym(h, #symbol))) \
		return;
	XML_SYMBOLS(XML_LOAD)
#undef XML_LOAD
	xml_loaded = (xml.free_fn = dlsym(h, "xmlFree")) != NULL;
}

static bool named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (named(c, name))
			return c;
	return NULL;
}

/* An attribute as a number 0..max, else -1. */
static long attr_num(const xmlNode *n, const char *name, long max)
{
	xmlChar *v = n ? xml.get_prop(n, (const xmlChar *)name) : NULL;
	char *end;
	long x;

	if (!v)
		return -1;
	x = strtol((const char *)v, &end, 10);
	if (end == (char *)v || *end || x < 0 || x > max)
		x = -1;
	(*xml.free_fn)(v);
	return x;
}

static bool attr_is(const xmlNode *n, const char *name, const char *value)
{
	xmlChar *v = n ? xml.get_prop(n, (const xmlChar *)name) : NULL;
	bool is = v && !strcmp((const char *)v, value);

	(*xml.free_fn)(v);
	return is;
}

/* A disk with a medium: a source naming a file, a block device or a
 * volume (an empty cdrom has none, and QEMU opens nothing). */
static bool has_medium(const xmlNode *disk)
{
	const xmlNode *src = child(disk, "source");
	static const char *const attrs[] = { "file", "dev", "volume", "name", "dir" };

	for (size_t i = 0; src && i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (xml.has_prop(src, (const xmlChar *)attrs[i]))
			return true;
	return false;
}

/* The iothread of the virtio-scsi controller a SCSI disk sits on, or 0. */
static long scsi_iothread(const xmlNode *devices, const xmlNode *disk)
{
	const xmlNode *target = child(disk, "target"), *addr = child(disk, "address");
	long index = attr_num(addr, "controller", 1 << 20);

	if (!attr_is(target, "bus", "scsi"))
		return 0;
	if (index < 0)
		index = 0;
	for (const xmlNode *c = devices->children; c; c = c->next)
		if (named(c, "controller") && attr_is(c, "type", "scsi") &&
		    attr_num(c, "index", 1 << 20) == index)
			return attr_num(child(c, "driver"), "iothread", 1L << 31) > 0
			               ? attr_num(child(c, "driver"), "iothread", 1L << 31)
			               : 0;
	return 0;
}

static int add_iothread(long *ids, size_t *n, long id)
{
	for (size_t i = 0; i < *n; i++)
		if (ids[i] == id)
			return 0;
	if (*n == AGENT_DEMAND_IOTHREADS_MAX)
		return -E2BIG;
	ids[(*n)++] = id;
	return 0;
}

static int count(const xmlNode *domain, struct agent_demand *d, char *err, size_t errlen)
{
	const xmlNode *devices = child(domain, "devices"), *name = child(domain, "name");
	long *ids = calloc(AGENT_DEMAND_IOTHREADS_MAX, sizeof(*ids));
	size_t n_ids = 0;
	int r = 0;

	if (!ids)
		return -ENOMEM;
	if (name && name->children && name->children->content)
		snprintf(d->domain, sizeof(d->domain), "%s", (const char *)name->children->content);
	for (const xmlNode *c = devices ? devices->children : NULL; c && r == 0; c = c->next) {
		const xmlNode *driver = child(c, "driver");
		long iothread;

		if (!named(c, "disk") || !attr_is(driver, "io", "native") || !has_medium(c))
			continue;
		d->native_disks++;
		iothread = attr_num(driver, "iothread", 1L << 31);
		if (iothread <= 0)
			iothread = scsi_iothread(devices, c);
		if (iothread > 0)
			r = add_iothread(ids, &n_ids, iothread);
		else
			d->main_loop = true;
	}
	free(ids);
	if (r < 0) {
		snprintf(err, errlen, "more than %d iothreads with native AIO disks",
		         AGENT_DEMAND_IOTHREADS_MAX);
		return r;
	}
	d->contexts = (unsigned)n_ids + (d->main_loop ? 1 : 0);
	d->events = (uint64_t)d->contexts * AIO_CONTEXT_EVENTS;
	return 0;
}

int agent_demand_parse(const char *text, size_t len, struct agent_demand *ret, char *err,
                       size_t errlen)
{
	xmlDoc *doc;
	const xmlNode *root;
	int r;

	memset(ret, 0, sizeof(*ret));
	pthread_once(&xml_once, xml_load);
	if (!xml_loaded) {
		snprintf(err, errlen,
		         "cannot load libxml2.so.2 to read domain XML (is Debian's "
		         "libxml2 installed?)");
		return -ENOPKG;
	}
	if (len > AGENT_DOMAIN_XML_MAX) {
		snprintf(err, errlen, "domain XML of %zu bytes: more than %u", len,
		         AGENT_DOMAIN_XML_MAX);
		return -E2BIG;
	}
	/* no network, no entities expanded, no DTD loaded, no messages */
	doc = xml.read_memory(text, (int)len, "domain.xml", NULL,
	                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xml.get_last_error();

		snprintf(err, errlen, "domain XML: %s",
		         e && e->message ? e->message : "not well-formed");
		err[strcspn(err, "\n")] = '\0';
		return -EINVAL;
	}
	root = xml.doc_get_root_element(doc);
	if (!root || !named(root, "domain")) {
		snprintf(err, errlen, "not a libvirt domain (the root element is <%s>)",
		         root ? (const char *)root->name : "");
		xml.free_doc(doc);
		return -EINVAL;
	}
	r = count(root, ret, err, errlen);
	xml.free_doc(doc);
	return r;
}
