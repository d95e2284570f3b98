/* The console's files, compiled in (cmake/embed.cmake): nothing is read
 * from disk or the network at run time. */
#pragma once

#include <stddef.h>

struct web_asset {
	const char *path; /* "/ui/" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct web_asset web_assets[]; /* [0]: the page itself */
extern const size_t web_assets_n;
extern const char web_openapi_json[];
extern const size_t web_openapi_json_len;
