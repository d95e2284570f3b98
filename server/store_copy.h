/* A fleet's SQLite database copied into PostgreSQL (aio-server
 * --migrate-from), checked row for row. */
#pragma once

#include <stddef.h>

/* Copies every table of the SQLite database at sqlite_path (migrated to
 * this version's schema first, as a start would) into the empty
 * PostgreSQL database at pg_url, in one transaction, and checks each
 * table read back; the counts are logged. 0, or a negative errno with why
 * in err (nothing copied then). */
int server_store_copy(const char *sqlite_path, const char *pg_url, char *err, size_t errlen);
