#include "names.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool all_of(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= max)
			return false;
		if (!isalnum(c) && !strchr(extra, c))
			return false;
	}
	return n >= min;
}

bool aio_host_name_valid(const char *s)
{
	return all_of(s, 1, AIO_HOST_NAME_MAX, ".-_");
}

bool aio_label_key_valid(const char *s)
{
	return all_of(s, 1, AIO_LABEL_KEY_MAX, ".-_/");
}

bool aio_text_valid(const char *s, size_t max)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		if (n >= max || !isprint((unsigned char)s[n]))
			return false;
	}
	return true;
}

bool aio_label_value_valid(const char *s)
{
	return aio_text_valid(s, AIO_LABEL_VALUE_MAX) && !strpbrk(s, "=,");
}

int aio_label_parse(const char *s, char *key, size_t key_len, char *value, size_t value_len)
{
	const char *eq = strchr(s, '=');
	size_t klen;

	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - s);
	if (klen == 0 || klen >= key_len || strlen(eq + 1) >= value_len)
		return -EINVAL;
	memcpy(key, s, klen);
	key[klen] = '\0';
	snprintf(value, value_len, "%s", eq + 1);
	if (!aio_label_key_valid(key) || !aio_label_value_valid(value))
		return -EINVAL;
	return 0;
}

size_t aio_utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/* The length of the character at p that may be shown as it is, or 0 for a
 * byte that must not: not UTF-8, a C0 control, DEL or a C1 control
 * (U+0080 to U+009F: 0xc2 0x80 to 0xc2 0x9f). */
static size_t shown_len(const unsigned char *p)
{
	size_t n = aio_utf8_len(p);

	if (n == 0 || *p < 0x20 || *p == 0x7f || (n == 2 && p[0] == 0xc2 && p[1] < 0xa0))
		return 0;
	return n;
}

void aio_text_escape(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, n;

	for (; *p && o + 5 < len; p += n) {
		if (!(n = shown_len(p))) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
			n = 1;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(buf + o, p, n);
		o += n;
	}
	buf[o < len ? o : len - 1] = '\0';
}

bool aio_text_escape_in_place(char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)buf;
	char tmp[4096];
	size_t n;

	for (; *p; p += n)
		if (!(n = shown_len(p)))
			break;
	if (!*p)
		return false;
	if (size > sizeof(tmp))
		size = sizeof(tmp);
	aio_text_escape(buf, tmp, size);
	memcpy(buf, tmp, strlen(tmp) + 1);
	return true;
}

bool aio_text_clean(char *s, size_t max)
{
	unsigned char *p = (unsigned char *)s;
	bool changed = false;
	size_t n;

	if (!s)
		return false;
	for (; *p; p += n) {
		if (!(n = aio_utf8_len(p)))
			n = 1;
		if ((size_t)(p - (unsigned char *)s) + n > max) {
			*p = '\0'; /* cut at a whole character */
			return true;
		}
		if (!shown_len(p) && *p != '\t') {
			memset(p, '?', n);
			changed = true;
		}
	}
	return changed;
}

bool aio_glob_list_match(const char *list, const char *name)
{
	char glob[AIO_HOSTS_GLOB_MAX + 1];

	for (const char *p = list;; p++) {
		size_t n = strcspn(p, ",");

		if (n && n <= AIO_HOSTS_GLOB_MAX) {
			memcpy(glob, p, n);
			glob[n] = '\0';
			if (fnmatch(glob, name, 0) == 0)
				return true;
		}
		p += n;
		if (!*p)
			return false;
	}
}

void aio_prom_label_name(const char *key, char *buf, size_t len)
{
	static const char *const taken[] = { "host",      "kernel",   "agent_version",
		                             "alertname", "severity", "rollout" };
	size_t n = 0;
	bool prefix = !strncmp(key, "__", 2) || (*key >= '0' && *key <= '9');

	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		prefix |= !strcmp(key, taken[i]);
	if (!len)
		return;
	if (prefix)
		n = (size_t)snprintf(buf, len, "label_");
	for (; *key && n + 1 < len; key++)
		buf[n++] = isalnum((unsigned char)*key) || *key == '_' ? *key : '_';
	buf[n < len ? n : len - 1] = '\0';
}
