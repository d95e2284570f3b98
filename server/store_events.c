/* The events table: AIO errors as the agents saw them, one row per
 * failure (its incident's lines merged). */
#include "store_events.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "clock.h"
#include "hosts.h"
#include "query.h"

const struct server_db_migration server_store_events_migrations[] = {
	{ 2, "CREATE TABLE events ("
	     "  id INTEGER PRIMARY KEY,"
	     "  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	     "  time_ms INTEGER NOT NULL, kind INTEGER NOT NULL, source TEXT NOT NULL,"
	     "  vm TEXT, disk TEXT, line TEXT, key TEXT NOT NULL,"
	     "  UNIQUE (host_id, key));"
	     "CREATE INDEX events_by_time ON events (time_ms);"
	     "CREATE INDEX events_by_host ON events (host_id, time_ms);" },
	/* one failure is one event: the lines that tell of it (journal
	 * entries, the QEMU log) share an incident; the first stored keeps
	 * its source, the others are listed in sources (one per line) */
	{ 9, "ALTER TABLE events ADD COLUMN incident TEXT;"
	     "ALTER TABLE events ADD COLUMN sources TEXT;"
	     "CREATE UNIQUE INDEX events_by_incident ON events (host_id, incident)"
	     "  WHERE incident IS NOT NULL;" },
	/* the guard's events: the domain's demand */
	{ 13, "ALTER TABLE events ADD COLUMN contexts INTEGER;" },
	{ 0, NULL },
};

static const char event_insert_sql[] =
        "INSERT OR IGNORE INTO events (host_id, time_ms, kind, source, vm,"
        " disk, line, key, incident, contexts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char event_by_key_sql[] = "SELECT 1 FROM events WHERE host_id = ?1 AND key = ?2";
static const char event_by_incident_sql[] = "SELECT id, source, sources FROM events"
                                            " WHERE host_id = ?1 AND incident = ?2";
static const char event_merge_sql[] =
        "UPDATE events SET vm = coalesce(vm, ?2), disk = coalesce(disk, ?3),"
        " sources = coalesce(?4, sources) WHERE id = ?1";

/* sources with source added (one per line), or NULL when it is there
 * already or the list is full. Caller frees. */
static char *sources_with(const char *first, const char *sources, const char *source)
{
	size_t n = 1, len = strlen(source);
	char *out;

	if (strcmp(first, source) == 0)
		return NULL;
	for (const char *p = sources; p && *p; n++) {
		size_t l = strcspn(p, "\n");

		if (l == len && memcmp(p, source, len) == 0)
			return NULL;
		p += l + (p[l] == '\n');
	}
	if (n >= AIO_EVENT_SOURCES_MAX)
		return NULL;
	if (!sources || !*sources)
		return strdup(source);
	if (asprintf(&out, "%s\n%s", sources, source) < 0)
		return NULL;
	return out;
}

/* Merges e into the stored event of its incident; *ret_found says whether
 * there is one. */
static int merge_event(struct server_db *db, int64_t host_id, const Aioctl__V1__AioEvent *e,
                       bool *ret_found)
{
	sqlite3_stmt *st = server_db_stmt(db, event_by_incident_sql);
	sqlite3_stmt *up = server_db_stmt(db, event_merge_sql);
	char *sources = NULL;
	int64_t id;
	int rc;

	if (!st || !up)
		return SQLITE_ERROR;
	sqlite3_bind_int64(st, 1, host_id);
	server_db_bind_text(st, 2, e->incident);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		*ret_found = false;
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	id = sqlite3_column_int64(st, 0);
	sources = sources_with((const char *)sqlite3_column_text(st, 1),
	                       (const char *)sqlite3_column_text(st, 2), e->source);
	sqlite3_reset(st);
	*ret_found = true;
	sqlite3_bind_int64(up, 1, id);
	server_db_bind_text(up, 2, e->vm);
	server_db_bind_text(up, 3, e->disk);
	server_db_bind_text(up, 4, sources); /* NULL: the list stays as it is */
	rc = server_db_step(up);
	free(sources);
	return rc;
}

/* Stores the report's events; each event's key makes a replay harmless,
 * and lines of one incident become one event. Marks in w->event_new the
 * ones stored for the first time (SERVER_EVENT_NEW) or merged into an
 * earlier one (SERVER_EVENT_MERGED). */
int server_store_events_apply(struct server_db *db, struct server_db_write *w)
{
	const Aioctl__V1__ReportRequest *r = w->report;
	sqlite3_stmt *st = server_db_stmt(db, event_insert_sql);
	sqlite3_stmt *key = server_db_stmt(db, event_by_key_sql);
	int rc;

	if (!st || !key)
		return SQLITE_ERROR;
	if (!r->n_events)
		return SQLITE_OK;
	if (!w->event_new && !(w->event_new = calloc(r->n_events, sizeof(*w->event_new))))
		return SQLITE_NOMEM;
	for (size_t i = 0; i < r->n_events; i++) {
		const Aioctl__V1__AioEvent *e = r->events[i];
		bool found = false;

		w->event_new[i] = SERVER_EVENT_OLD;
		if (e->incident) {
			sqlite3_bind_int64(key, 1, w->host_id);
			server_db_bind_text(key, 2, e->key);
			rc = sqlite3_step(key);
			sqlite3_reset(key);
			if (rc == SQLITE_ROW)
				continue; /* this very line again: a replay */
			if (rc != SQLITE_DONE)
				return rc;
			if ((rc = merge_event(db, w->host_id, e, &found)) != SQLITE_OK)
				return rc;
			if (found) {
				w->event_new[i] = SERVER_EVENT_MERGED;
				continue;
			}
		}
		sqlite3_bind_int64(st, 1, w->host_id);
		sqlite3_bind_int64(st, 2, (int64_t)e->time_ms);
		sqlite3_bind_int(st, 3, (int)e->kind);
		server_db_bind_text(st, 4, e->source);
		server_db_bind_text(st, 5, e->vm);
		server_db_bind_text(st, 6, e->disk);
		server_db_bind_text(st, 7, e->line);
		server_db_bind_text(st, 8, e->key);
		server_db_bind_text(st, 9, e->incident);
		if (e->has_contexts)
			sqlite3_bind_int64(st, 10, e->contexts);
		else
			sqlite3_bind_null(st, 10);
		if ((rc = server_db_step(st)) != SQLITE_OK)
			return rc;
		if (sqlite3_changes(server_db_conn(db)) > 0)
			w->event_new[i] = SERVER_EVENT_NEW;
	}
	return SQLITE_OK;
}

/* A row of EVENT_COLUMNS as an event whose strings are the statement's;
 * its sources are malloc'd (server_event_sources_free). */
#define EVENT_COLUMNS \
	"host_id, time_ms, kind, source, vm, disk, line, key, incident, sources, contexts"

static int event_read(sqlite3_stmt *st, Aioctl__V1__AioEvent *ev)
{
	ev->time_ms = (uint64_t)sqlite3_column_int64(st, 1);
	ev->kind = (Aioctl__V1__EventKind)sqlite3_column_int(st, 2);
	ev->source = (char *)sqlite3_column_text(st, 3);
	ev->vm = (char *)sqlite3_column_text(st, 4);
	ev->disk = (char *)sqlite3_column_text(st, 5);
	ev->line = (char *)sqlite3_column_text(st, 6);
	ev->key = (char *)sqlite3_column_text(st, 7);
	ev->incident = (char *)sqlite3_column_text(st, 8);
	ev->has_contexts = sqlite3_column_type(st, 10) != SQLITE_NULL;
	ev->contexts = (uint32_t)sqlite3_column_int64(st, 10);
	return server_event_sources_parse(ev, (const char *)sqlite3_column_text(st, 9));
}

/* The last day's events back into memory, oldest first, so each host's
 * rings end with its newest. */
int server_store_events_load(struct server_db *db, struct server_hosts *reg)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(server_db_conn(db),
	                       "SELECT " EVENT_COLUMNS " FROM events"
	                       " WHERE time_ms >= ?1 ORDER BY time_ms, id",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)(aio_now_ms() - AIO_DAY_MS));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct server_host *h = server_hosts_find_id(reg, sqlite3_column_int64(st, 0));
		Aioctl__V1__AioEvent ev = AIOCTL__V1__AIO_EVENT__INIT;

		if (!h)
			continue;
		event_read(st, &ev);
		server_host_add_event(h, &ev);
		server_event_sources_free(&ev);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Retention: events before ?2, at most ?3 (?1, a host elsewhere, unused). */
const char server_store_events_forget_sql[] = "DELETE FROM events WHERE host_id = ?1";
const char server_store_events_prune_sql[] =
        "DELETE FROM events WHERE id IN (SELECT id FROM events"
        " WHERE time_ms < ?2 AND ?1 = ?1 ORDER BY time_ms LIMIT ?3)";

int server_store_events_read(struct server_reader *rd, uint64_t since_ms, int64_t host_id,
                             const char *vm, uint32_t limit,
                             int (*row)(int64_t host_id, const Aioctl__V1__AioEvent *ev, void *arg),
                             void *arg, bool *ret_truncated)
{
	static const char sql[] = "SELECT " EVENT_COLUMNS
	                          " FROM events WHERE time_ms >= ?1 AND (?2 = 0 OR host_id = ?2)"
	                          " AND (?3 IS NULL OR vm = ?3)"
	                          " ORDER BY time_ms DESC, id DESC LIMIT ?4";
	sqlite3_stmt *st = server_reader_stmt(rd, sql);
	uint32_t n = 0;
	int rc, r = 0;

	if (!st)
		return -EIO;
	*ret_truncated = false;
	sqlite3_bind_int64(st, 1, (int64_t)since_ms);
	sqlite3_bind_int64(st, 2, host_id);
	server_db_bind_text(st, 3, vm);
	sqlite3_bind_int64(st, 4, (int64_t)limit + 1);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		Aioctl__V1__AioEvent ev = AIOCTL__V1__AIO_EVENT__INIT;

		if (n == limit) {
			*ret_truncated = true;
			break;
		}
		if (event_read(st, &ev) < 0)
			r = -ENOMEM;
		else
			r = row(sqlite3_column_int64(st, 0), &ev, arg);
		server_event_sources_free(&ev);
		n++;
	}
	sqlite3_reset(st);
	if (r < 0)
		return r;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

int server_store_events_count(struct server_reader *rd, int64_t host_id, uint64_t from_ms,
                              uint64_t until_ms, uint32_t *ret_n)
{
	/* errors only: the guard's raised (5) and warned (7) did not fail
	 * (aio_event_is_error) */
	static const char sql[] = "SELECT count(*) FROM events WHERE host_id = ?1"
	                          " AND time_ms >= ?2 AND time_ms < ?3 AND kind NOT IN (5, 7)";
	sqlite3_stmt *st = server_reader_stmt(rd, sql);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, (int64_t)from_ms);
	sqlite3_bind_int64(st, 3, until_ms ? (int64_t)until_ms : INT64_MAX);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_n = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}
