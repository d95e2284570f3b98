#include "rollout_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "clock.h"
#include "db.h"
#include "hosts.h"
#include "log.h"
#include "rollouts.h"
#include "sql.h"
#include "store_hosts.h"

struct rollout_row {
	uint64_t id;
	enum server_rollout_state state;
	uint8_t *options;
	size_t options_len;
	char *created_by, *message, *skipped, *refused;
	uint64_t created_ms, finished_ms, offline_deadline_ms;
	uint32_t wave, waves, failures_accepted;
};

struct server_save {
	struct server_db_write w; /* first: the db gets &w */
	struct server_db *db;
	struct rollout_row *rollouts;
	size_t n_rollouts;
	struct server_step *steps; /* copies */
	uint64_t *step_rollout;    /* rollout id of each step */
	size_t n_steps;
	struct server_store_desired *desired;
	size_t n_desired;
	struct server_audit_entry *audit;
	size_t n_audit;
	void (*then)(void *arg, int err);
	void *then_arg;
};

const struct server_db_migration server_rollout_store_migrations[] = {
	{ 3,
	  "CREATE TABLE rollouts ("
	  "  id INTEGER PRIMARY KEY, state TEXT NOT NULL, options BLOB NOT NULL,"
	  "  created_by TEXT NOT NULL, created_ms INTEGER NOT NULL, finished_ms INTEGER,"
	  "  offline_deadline_ms INTEGER NOT NULL, wave INTEGER NOT NULL, waves INTEGER NOT NULL,"
	  "  failures_accepted INTEGER NOT NULL DEFAULT 0, message TEXT,"
	  "  skipped TEXT, refused TEXT);"
	  "CREATE TABLE rollout_steps ("
	  "  id INTEGER PRIMARY KEY,"
	  "  rollout_id INTEGER NOT NULL REFERENCES rollouts(id),"
	  "  host_id INTEGER NOT NULL REFERENCES hosts(id),"
	  "  wave INTEGER NOT NULL, target INTEGER NOT NULL, state TEXT NOT NULL,"
	  "  rollback TEXT NOT NULL DEFAULT '',"
	  "  runtime_before INTEGER, runtime_after INTEGER,"
	  "  persisted_before INTEGER, persisted_after INTEGER, message TEXT,"
	  "  started_ms INTEGER, acked_ms INTEGER, soak_until_ms INTEGER, finished_ms INTEGER,"
	  "  offline_since_ms INTEGER);"
	  "CREATE INDEX steps_by_rollout ON rollout_steps (rollout_id);" },
	{ 0, NULL },
};

/* PostgreSQL: the schema SQLite had at version 14, in its types */
const struct server_db_migration server_rollout_store_pg_migrations[] = {
	{ 14, "CREATE TABLE rollouts ("
	      "  id bigint PRIMARY KEY, state text NOT NULL, options bytea NOT NULL,"
	      "  created_by text NOT NULL, created_ms bigint NOT NULL, finished_ms bigint,"
	      "  offline_deadline_ms bigint NOT NULL, wave bigint NOT NULL, waves bigint NOT NULL,"
	      "  failures_accepted bigint NOT NULL DEFAULT 0, message text,"
	      "  skipped text, refused text);"
	      "CREATE TABLE rollout_steps ("
	      "  id bigint PRIMARY KEY,"
	      "  rollout_id bigint NOT NULL REFERENCES rollouts(id),"
	      "  host_id bigint NOT NULL REFERENCES hosts(id),"
	      "  wave bigint NOT NULL, target bigint NOT NULL, state text NOT NULL,"
	      "  rollback text NOT NULL DEFAULT '',"
	      "  runtime_before bigint, runtime_after bigint,"
	      "  persisted_before bigint, persisted_after bigint, message text,"
	      "  started_ms bigint, acked_ms bigint, soak_until_ms bigint, finished_ms bigint,"
	      "  offline_since_ms bigint);"
	      "CREATE INDEX steps_by_rollout ON rollout_steps (rollout_id);" },
	{ 0, NULL },
};

static void *grow(void *v, size_t n, size_t size)
{
	return realloc(v, (n + 1) * size);
}

struct server_save *server_save_new(struct server_db *db)
{
	struct server_save *sv = calloc(1, sizeof(*sv));

	if (sv)
		sv->db = db;
	return sv;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int server_save_rollout(struct server_save *sv, struct server_rollout *ro, bool all)
{
	struct rollout_row *r;
	void *v;

	if (!(v = grow(sv->rollouts, sv->n_rollouts, sizeof(*sv->rollouts))))
		return -ENOMEM;
	sv->rollouts = v;
	r = &sv->rollouts[sv->n_rollouts++];
	memset(r, 0, sizeof(*r));
	r->id = ro->id;
	r->state = ro->state;
	r->options_len = aioctl__v1__set_limit_request__get_packed_size(ro->opts);
	r->options = malloc(r->options_len ? r->options_len : 1);
	if (r->options)
		aioctl__v1__set_limit_request__pack(ro->opts, r->options);
	r->created_by = strdup(ro->created_by);
	r->message = strdup(ro->message);
	r->skipped = dup_or_null(ro->skipped);
	r->refused = dup_or_null(ro->refused);
	r->created_ms = ro->created_ms;
	r->finished_ms = ro->finished_ms;
	r->offline_deadline_ms = ro->offline_deadline_ms;
	r->wave = ro->wave;
	r->waves = ro->n_waves;
	r->failures_accepted = ro->failures_accepted;
	ro->dirty = false;
	for (size_t i = 0; i < ro->n_steps; i++) {
		if (!all && !ro->steps[i].dirty)
			continue;
		if (!(v = grow(sv->steps, sv->n_steps, sizeof(*sv->steps))))
			return -ENOMEM;
		sv->steps = v;
		if (!(v = grow(sv->step_rollout, sv->n_steps, sizeof(*sv->step_rollout))))
			return -ENOMEM;
		sv->step_rollout = v;
		sv->steps[sv->n_steps] = ro->steps[i];
		sv->step_rollout[sv->n_steps++] = ro->id;
		ro->steps[i].dirty = false;
	}
	return 0;
}

int server_save_desired(struct server_save *sv, int64_t host_id, uint64_t value,
                        uint64_t rollout_id, uint64_t when_ms)
{
	void *v = grow(sv->desired, sv->n_desired, sizeof(*sv->desired));

	if (!v)
		return -ENOMEM;
	sv->desired = v;
	sv->desired[sv->n_desired++] =
	        (struct server_store_desired){ host_id, value, rollout_id, when_ms };
	return 0;
}

int server_save_audit(struct server_save *sv, const char *who, const char *action,
                      const char *target, const char *result)
{
	void *v = grow(sv->audit, sv->n_audit, sizeof(*sv->audit));

	if (!v)
		return -ENOMEM;
	sv->audit = v;
	if (server_audit_entry_set(&sv->audit[sv->n_audit], aio_now_ms(), who, action, target,
	                           result) < 0)
		return -ENOMEM;
	sv->n_audit++;
	return 0;
}

static void save_free(struct server_save *sv)
{
	for (size_t i = 0; i < sv->n_rollouts; i++) {
		free(sv->rollouts[i].options);
		free(sv->rollouts[i].created_by);
		free(sv->rollouts[i].message);
		free(sv->rollouts[i].skipped);
		free(sv->rollouts[i].refused);
	}
	for (size_t i = 0; i < sv->n_audit; i++)
		server_audit_entry_done(&sv->audit[i]);
	free(sv->rollouts);
	free(sv->steps);
	free(sv->step_rollout);
	free(sv->desired);
	free(sv->audit);
	free(sv);
}

static void bind_opt(struct server_sql_stmt *st, int i, bool has, uint64_t v)
{
	if (has)
		server_sql_bind_int64(st, i, (int64_t)v);
	else
		server_sql_bind_null(st, i);
}

static int run(struct server_sql_stmt *st)
{
	int rc = server_sql_step(st);

	server_sql_reset(st);
	server_sql_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A rollout and its steps as they are now, over what was stored. */
static const char rollout_put_sql[] =
        "INSERT INTO rollouts (id, state, options, created_by, created_ms, finished_ms,"
        " offline_deadline_ms, wave, waves, failures_accepted, message, skipped, "
        "refused) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON "
        "CONFLICT (id) DO UPDATE SET state = excluded.state, options = "
        "excluded.options, created_by = excluded.created_by, created_ms = "
        "excluded.created_ms, finished_ms = excluded.finished_ms, offline_deadline_ms ="
        " excluded.offline_deadline_ms, wave = excluded.wave, waves = excluded.waves, "
        "failures_accepted = excluded.failures_accepted, message = excluded.message, "
        "skipped = excluded.skipped, refused = excluded.refused";
static const char step_put_sql[] =
        "INSERT INTO rollout_steps (id, rollout_id, host_id, wave, target, state, "
        "rollback, runtime_before, runtime_after, persisted_before, persisted_after, "
        "message, started_ms, acked_ms, soak_until_ms, finished_ms, offline_since_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
        " ?17) ON CONFLICT (id) DO UPDATE SET rollout_id = excluded.rollout_id, host_id"
        " = excluded.host_id, wave = excluded.wave, target = excluded.target, state = "
        "excluded.state, rollback = excluded.rollback, runtime_before = "
        "excluded.runtime_before, runtime_after = excluded.runtime_after, "
        "persisted_before = excluded.persisted_before, persisted_after = "
        "excluded.persisted_after, message = excluded.message, started_ms = "
        "excluded.started_ms, acked_ms = excluded.acked_ms, soak_until_ms = "
        "excluded.soak_until_ms, finished_ms = excluded.finished_ms, offline_since_ms ="
        " excluded.offline_since_ms";

/* On the database thread, inside the batch's transaction. */
static int save_apply(struct server_sql *conn, void *arg)
{
	struct server_save *sv = arg;
	struct server_sql_stmt *ro = NULL, *st = NULL;
	int rc = SQLITE_OK;

	if ((rc = server_sql_prepare(conn, rollout_put_sql, false, &ro)) != SQLITE_OK ||
	    (rc = server_sql_prepare(conn, step_put_sql, false, &st)) != SQLITE_OK)
		goto out_finalize;
	for (size_t i = 0; i < sv->n_rollouts && rc == SQLITE_OK; i++) {
		const struct rollout_row *r = &sv->rollouts[i];

		server_sql_bind_int64(ro, 1, (int64_t)r->id);
		server_sql_bind_text(ro, 2, server_rollouts_state_names[r->state]);
		server_sql_bind_blob(ro, 3, r->options, (int)r->options_len);
		server_sql_bind_text(ro, 4, r->created_by);
		server_sql_bind_int64(ro, 5, (int64_t)r->created_ms);
		bind_opt(ro, 6, r->finished_ms != 0, r->finished_ms);
		server_sql_bind_int64(ro, 7, (int64_t)r->offline_deadline_ms);
		server_sql_bind_int64(ro, 8, (int)r->wave);
		server_sql_bind_int64(ro, 9, (int)r->waves);
		server_sql_bind_int64(ro, 10, (int)r->failures_accepted);
		server_sql_bind_text(ro, 11, r->message);
		server_sql_bind_text(ro, 12, r->skipped);
		server_sql_bind_text(ro, 13, r->refused);
		rc = run(ro);
	}
	for (size_t i = 0; i < sv->n_steps && rc == SQLITE_OK; i++) {
		const struct server_step *p = &sv->steps[i];

		server_sql_bind_int64(st, 1, (int64_t)p->id);
		server_sql_bind_int64(st, 2, (int64_t)sv->step_rollout[i]);
		server_sql_bind_int64(st, 3, p->host_id);
		server_sql_bind_int64(st, 4, (int)p->wave);
		server_sql_bind_int64(st, 5, (int64_t)p->target);
		server_sql_bind_text(st, 6, server_rollouts_step_state_names[p->state]);
		server_sql_bind_text(st, 7, server_rollouts_rb_state_names[p->rb]);
		bind_opt(st, 8, p->has_runtime_before, p->runtime_before);
		bind_opt(st, 9, p->has_runtime_after, p->runtime_after);
		bind_opt(st, 10, p->has_persisted_before, p->persisted_before);
		bind_opt(st, 11, p->has_persisted_after, p->persisted_after);
		server_sql_bind_text(st, 12, p->message);
		bind_opt(st, 13, p->started_ms != 0, p->started_ms);
		bind_opt(st, 14, p->acked_ms != 0, p->acked_ms);
		bind_opt(st, 15, p->soak_until_ms != 0, p->soak_until_ms);
		bind_opt(st, 16, p->finished_ms != 0, p->finished_ms);
		bind_opt(st, 17, p->offline_since_ms != 0, p->offline_since_ms);
		rc = run(st);
	}
	if (rc == SQLITE_OK)
		rc = server_store_hosts_desired_apply(conn, sv->desired, sv->n_desired);
	if (rc == SQLITE_OK)
		rc = server_audit_apply(conn, sv->audit, sv->n_audit);
out_finalize:
	server_sql_finalize(ro);
	server_sql_finalize(st);
	return rc;
}

static void save_done(struct server_db_write *w, int err)
{
	struct server_save *sv = (struct server_save *)w;

	if (err)
		log_err_errno(err, "rollout state not stored");
	if (sv->then)
		sv->then(sv->then_arg, err);
	save_free(sv);
}

int server_save_submit(struct server_save *sv, void (*then)(void *arg, int err), void *arg,
                       bool wait)
{
	int r;

	if (!sv)
		return -ENOMEM;
	sv->then = then;
	sv->then_arg = arg;
	if (!sv->n_rollouts && !sv->n_steps && !sv->n_desired && !sv->n_audit) {
		if (then)
			then(arg, 0);
		save_free(sv);
		return 0;
	}
	sv->w.type = SERVER_DB_WRITE_FN;
	sv->w.fn = save_apply;
	sv->w.arg = sv;
	sv->w.done = save_done;
	/* the engine's own changes must not be dropped for a full queue */
	while ((r = server_db_submit(sv->db, &sv->w)) == -EAGAIN && wait) {
		struct timespec ts = { 0, 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (r < 0) {
		sv->then = NULL; /* the caller hears of it from the return value */
		save_done(&sv->w, r);
	}
	return r;
}

static char *col_dup(struct server_sql_stmt *st, int i)
{
	const char *t = server_sql_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

static int step_host_name(const struct server_host *h, void *arg)
{
	struct server_step *p = arg;

	snprintf(p->host, sizeof(p->host), "%s", h->name);
	return 0;
}

int server_rollout_store_load(struct server_db *db, struct server_hosts *hosts,
                              struct server_rollout **ret_list, uint64_t *next_rollout_id,
                              uint64_t *next_step_id)
{
	return server_rollout_store_load_on(server_db_conn(db), hosts, ret_list, next_rollout_id,
	                                    next_step_id);
}

int server_rollout_store_load_on(struct server_sql *conn, struct server_hosts *hosts,
                                 struct server_rollout **ret_list, uint64_t *next_rollout_id,
                                 uint64_t *next_step_id)
{
	struct server_rollout **tail = ret_list;
	struct server_sql_stmt *st;
	int rc;

	if (server_sql_prepare(conn,
	                       "SELECT id, state, options, created_by, created_ms, finished_ms,"
	                       " offline_deadline_ms, wave, waves, failures_accepted, message,"
	                       " skipped, refused FROM rollouts ORDER BY id DESC",
	                       false, &st) != SQLITE_OK)
		return -EIO;
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		struct server_rollout *ro = calloc(1, sizeof(*ro));
		char *text;

		if (!ro) {
			server_sql_finalize(st);
			return -ENOMEM;
		}
		ro->id = (uint64_t)server_sql_column_int64(st, 0);
		ro->state = (enum server_rollout_state)server_rollouts_state_parse(
		        server_rollouts_state_names, RO_STATES, server_sql_column_text(st, 1),
		        RO_RUNNING);
		ro->opts = aioctl__v1__set_limit_request__unpack(
		        NULL, server_sql_column_bytes(st, 2), server_sql_column_blob(st, 2));
		text = col_dup(st, 3);
		snprintf(ro->created_by, sizeof(ro->created_by), "%s", text ? text : "");
		free(text);
		ro->created_ms = (uint64_t)server_sql_column_int64(st, 4);
		ro->finished_ms = (uint64_t)server_sql_column_int64(st, 5);
		ro->offline_deadline_ms = (uint64_t)server_sql_column_int64(st, 6);
		ro->wave = (uint32_t)server_sql_column_int64(st, 7);
		ro->n_waves = (uint32_t)server_sql_column_int64(st, 8);
		ro->failures_accepted = (uint32_t)server_sql_column_int64(st, 9);
		text = col_dup(st, 10);
		snprintf(ro->message, sizeof(ro->message), "%s", text ? text : "");
		free(text);
		ro->skipped = col_dup(st, 11);
		ro->refused = col_dup(st, 12);
		ro->committed = true;
		if (!ro->opts) {
			log_err("rollout %llu: options unreadable, skipped",
			        (unsigned long long)ro->id);
			free(ro->skipped);
			free(ro->refused);
			free(ro);
			continue;
		}
		if (ro->id >= *next_rollout_id)
			*next_rollout_id = ro->id + 1;
		*tail = ro;
		tail = &ro->next;
	}
	server_sql_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;

	if (server_sql_prepare(conn,
	                       "SELECT id, rollout_id, host_id, NULL, wave, target,"
	                       " state, rollback, runtime_before, runtime_after,"
	                       " persisted_before, persisted_after, message, started_ms,"
	                       " acked_ms, soak_until_ms, finished_ms, offline_since_ms"
	                       " FROM rollout_steps ORDER BY rollout_id, id",
	                       false, &st) != SQLITE_OK)
		return -EIO;
	while ((rc = server_sql_step(st)) == SQLITE_ROW) {
		uint64_t rid = (uint64_t)server_sql_column_int64(st, 1);
		struct server_rollout *ro = *ret_list;
		struct server_step *p;
		void *v;
		char *text;

		struct server_step one = { 0 };

		while (ro && ro->id != rid)
			ro = ro->next;
		/* a step of a host no longer known is left out */
		if (!ro || server_hosts_read_id(hosts, server_sql_column_int64(st, 2),
		                                step_host_name, &one) < 0)
			continue;
		if (!(v = realloc(ro->steps, (ro->n_steps + 1) * sizeof(*ro->steps)))) {
			server_sql_finalize(st);
			return -ENOMEM;
		}
		ro->steps = v;
		p = &ro->steps[ro->n_steps++];
		memset(p, 0, sizeof(*p));
		p->id = (uint64_t)server_sql_column_int64(st, 0);
		p->host_id = server_sql_column_int64(st, 2);
		snprintf(p->host, sizeof(p->host), "%s", one.host);
		p->wave = (uint32_t)server_sql_column_int64(st, 4);
		p->target = (uint64_t)server_sql_column_int64(st, 5);
		p->state = (enum server_step_state)server_rollouts_state_parse(
		        server_rollouts_step_state_names, STEP_CANCELLED + 1,
		        server_sql_column_text(st, 6), STEP_PENDING);
		p->rb = (enum server_rb_state)server_rollouts_state_parse(
		        server_rollouts_rb_state_names, RB_FAILED + 1,
		        server_sql_column_text(st, 7), RB_NONE);
		p->has_runtime_before = server_sql_column_type(st, 8) != SQLITE_NULL;
		p->runtime_before = (uint64_t)server_sql_column_int64(st, 8);
		p->has_runtime_after = server_sql_column_type(st, 9) != SQLITE_NULL;
		p->runtime_after = (uint64_t)server_sql_column_int64(st, 9);
		p->has_persisted_before = server_sql_column_type(st, 10) != SQLITE_NULL;
		p->persisted_before = (uint64_t)server_sql_column_int64(st, 10);
		p->has_persisted_after = server_sql_column_type(st, 11) != SQLITE_NULL;
		p->persisted_after = (uint64_t)server_sql_column_int64(st, 11);
		text = col_dup(st, 12);
		snprintf(p->message, sizeof(p->message), "%s", text ? text : "");
		free(text);
		p->started_ms = (uint64_t)server_sql_column_int64(st, 13);
		p->acked_ms = (uint64_t)server_sql_column_int64(st, 14);
		p->soak_until_ms = (uint64_t)server_sql_column_int64(st, 15);
		p->finished_ms = (uint64_t)server_sql_column_int64(st, 16);
		p->offline_since_ms = (uint64_t)server_sql_column_int64(st, 17);
		if (p->id >= *next_step_id)
			*next_step_id = p->id + 1;
	}
	server_sql_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int server_rollout_store_read(struct server_reader *rd, uint64_t id, char **ret_state,
                              int (*row)(const struct server_rollout_store_step *p, void *arg),
                              void *arg)
{
	static const char rollout_sql[] = "SELECT state FROM rollouts WHERE id = ?1";
	static const char steps_sql[] =
	        "SELECT host_id, state, target, coalesce(acked_ms, finished_ms), runtime_before"
	        " FROM rollout_steps WHERE rollout_id = ?1 ORDER BY id";
	struct server_sql_stmt *rq = server_reader_stmt(rd, rollout_sql), *sq;
	char *state;
	int rc, r = 0;

	if (!rq)
		return -EIO;
	server_sql_bind_int64(rq, 1, (int64_t)id);
	if ((rc = server_sql_step(rq)) != SQLITE_ROW) {
		server_sql_reset(rq);
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	state = col_dup(rq, 0);
	server_sql_reset(rq);
	if (!state)
		return -ENOMEM;
	if (!(sq = server_reader_stmt(rd, steps_sql))) {
		free(state);
		return -EIO;
	}
	server_sql_bind_int64(sq, 1, (int64_t)id);
	while (r == 0 && (rc = server_sql_step(sq)) == SQLITE_ROW) {
		struct server_rollout_store_step p = {
			.host_id = server_sql_column_int64(sq, 0),
			.state = server_sql_column_text(sq, 1),
			.target = (uint64_t)server_sql_column_int64(sq, 2),
			.has_changed = server_sql_column_type(sq, 3) != SQLITE_NULL,
			.changed_ms = (uint64_t)server_sql_column_int64(sq, 3),
			.has_runtime_before = server_sql_column_type(sq, 4) != SQLITE_NULL,
			.runtime_before = (uint64_t)server_sql_column_int64(sq, 4),
		};

		if (!p.state)
			p.state = "";
		r = row(&p, arg);
	}
	server_sql_reset(sq);
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	if (r < 0) {
		free(state);
		return r;
	}
	*ret_state = state;
	return 0;
}
