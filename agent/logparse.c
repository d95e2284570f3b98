#include "logparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Scans at most this much of a line: the markers sit near its end. */
#define SCAN_MAX (64 * 1024)

static const char *find(const char *hay, const char *needle)
{
	return strstr(hay, needle);
}

static const char *find_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle);
}

/* Copies the value after key up to a delimiter into buf. */
static bool copy_value(const char *start, const char *stops, char *buf, size_t len)
{
	size_t n = strcspn(start, stops);

	if (n == 0 || n >= len)
		return false;
	memcpy(buf, start, n);
	buf[n] = '\0';
	return true;
}

static void find_vm(const char *s, char *buf, size_t len)
{
	const char *p;

	if ((p = find(s, "vm='")) && copy_value(p + 4, "'", buf, len))
		return;
	if ((p = find(s, "guest=")) && copy_value(p + 6, ", '\"", buf, len))
		return;
	buf[0] = '\0';
}

static void find_disk(const char *s, char *buf, size_t len)
{
	const char *p;

	/* -blockdev {..."node-name":"libvirt-1-storage"...} */
	if ((p = find(s, "\"node-name\":\"")) && copy_value(p + 13, "\"", buf, len))
		return;
	/* old form: -drive file=...,id=drive-virtio-disk0,...,aio=native */
	if ((p = find(s, "-drive ")) && (p = find(p, "id=")) && copy_value(p + 3, ", :", buf, len))
		return;
	buf[0] = '\0';
}

/* "2024-05-01T10:00:00.123456Z" or "2024-05-01 09:59:58.101+0000" at s.
 * Sets *ret_len to the length of the time when asked. */
static uint64_t time_at(const char *s, size_t *ret_len)
{
	const char *start = s;
	struct tm tm = { 0 };
	unsigned long frac = 0;
	int n = 0, digits = 0;
	char sep;
	time_t t;

	if (!isdigit((unsigned char)*s) ||
	    sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 7 ||
	    (sep != 'T' && sep != ' '))
		return 0;
	s += n;
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, digits++)
			if (digits < 3)
				frac = frac * 10 + (unsigned long)(*s - '0');
		while (digits > 0 && digits < 3) {
			frac *= 10;
			digits++;
		}
	}
	if (*s == 'Z')
		s++;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t < 0)
		return 0;
	if (ret_len)
		*ret_len = (size_t)(s - start);
	return (uint64_t)t * 1000 + frac;
}

/* Where QEMU's own line starts inside s: "TIME qemu-...: " as QEMU writes
 * it with -msg timestamp=on (libvirt's default), at the start of a QEMU
 * log line or quoted inside a libvirt error. NULL if there is none. */
static const char *qemu_line(const char *s, size_t *ret_time_len)
{
	for (const char *p = s; (p = strstr(p, " qemu-")); p++) {
		const char *t = p;
		size_t tlen;

		while (t > s && t[-1] != ' ')
			t--;
		if (time_at(t, &tlen) && t + tlen == p) {
			*ret_time_len = tlen;
			return t;
		}
	}
	return NULL;
}

/* One failure reaches the agent as several lines: libvirtd's journal
 * entries quote QEMU's line, and the per-VM log holds it too. QEMU's own
 * time (q, tlen: the start of QEMU's line) and the disk, by node name or
 * else image, name that failure alike in all of them. */
static void find_incident(const char *q, size_t tlen, const char *disk, char *buf, size_t len)
{
	const char *img = disk;
	size_t n = strlen(disk);

	if (!n && (img = find(q, "\"filename\":\""))) {
		img += 12;
		n = strcspn(img, "\"");
	}
	snprintf(buf, len, "qemu@%.*s/%.*s", (int)tlen, q, (int)(n < 128 ? n : 128),
	         img ? img : "");
}

static bool falls_back(const char *s)
{
	return find(s, "falling back to thread pool") &&
	       (find_ci(s, "Unable to use Linux AIO") || find_ci(s, "Unable to use native AIO"));
}

int agent_logparse_line(const char *line, size_t len, struct agent_event *ret)
{
	char buf[SCAN_MAX + 1];
	Aioctl__V1__EventKind kind;
	const char *q;
	size_t tlen;

	if (len > SCAN_MAX)
		len = SCAN_MAX;
	memcpy(buf, line, len);
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';

	/* QEMU 9.0 ("Linux AIO") and 7.2 for iothreads ("native AIO") */
	if (falls_back(buf))
		kind = AIOCTL__V1__EVENT_KIND__EVENT_DEGRADED;
	else if (find_ci(buf, "increase fs.aio-max-nr"))
		kind = AIOCTL__V1__EVENT_KIND__EVENT_MULTIPATH;
	else if (!find_ci(buf, "failed to create linux AIO context"))
		return -ENOENT;
	else if (find(buf, "blockdev-add") || find(buf, "device_add") || find(buf, "drive_add"))
		kind = AIOCTL__V1__EVENT_KIND__EVENT_HOTPLUG_FAILED;
	else
		kind = AIOCTL__V1__EVENT_KIND__EVENT_FAILED;

	memset(ret, 0, sizeof(*ret));
	ret->kind = kind;
	find_vm(buf, ret->vm, sizeof(ret->vm));
	find_disk(buf, ret->disk, sizeof(ret->disk));
	/* QEMU's own time when the line quotes it, the same in every source,
	 * and then an incident; lines without it stand alone */
	if ((q = qemu_line(buf, &tlen))) {
		ret->time_ms = time_at(q, NULL);
		find_incident(q, tlen, ret->disk, ret->incident, sizeof(ret->incident));
	} else {
		ret->time_ms = time_at(buf, NULL);
	}
	len = len < AIO_EVENT_LINE_MAX ? len : AIO_EVENT_LINE_MAX;
	memcpy(ret->line, buf, len);
	ret->line[len] = '\0';
	return 0;
}

int agent_logparse_guest(const char *line, size_t len, char *buf, size_t buflen)
{
	char scan[4096];
	const char *p;

	if (len >= sizeof(scan))
		len = sizeof(scan) - 1;
	memcpy(scan, line, len);
	scan[len] = '\0';
	if (!(p = find(scan, " -name ")))
		return -ENOENT;
	p += 7;
	if (strncmp(p, "guest=", 6) == 0)
		p += 6;
	return copy_value(p, ", ", buf, buflen) ? 0 : -ENOENT;
}
