#include "names.h"

#include <ctype.h>
#include <errno.h>
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
