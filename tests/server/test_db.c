/* The store on a real SQLite file: group commit, de-duplication by
 * (host, seq), reload after restart. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "store.h"

static char dir[64], path[128];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int n_done, n_dup, n_new_events, last_err;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/aioctl-db-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.db", dir);
	n_done = n_dup = n_new_events = last_err = 0;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert(system(cmd) == 0);
}

TestSuite(db, .init = setup, .fini = teardown, .timeout = 30);

static void done(struct server_db_write *w, int err)
{
	pthread_mutex_lock(&lock);
	n_done++;
	n_dup += w->duplicate;
	for (size_t i = 0; w->event_new && i < w->report->n_events; i++)
		n_new_events += w->event_new[i];
	if (err)
		last_err = err;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	server_db_write_free(w);
}

static void wait_done(int n)
{
	pthread_mutex_lock(&lock);
	while (n_done < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static struct server_db *open_db(struct server_hosts *reg)
{
	struct server_db *db;
	char err[256];

	cr_assert_eq(server_store_open(path, &db, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(server_hosts_init(reg), 0);
	cr_assert_eq(server_store_load_hosts(db, reg), 0);
	cr_assert_eq(server_db_start(db, 1000, 64, 0), 0);
	return db;
}

static void submit_sample(struct server_db *db, int64_t host, uint64_t seq, uint64_t nr)
{
	struct server_db_write *w = calloc(1, sizeof(*w));

	w->type = SERVER_DB_WRITE_SAMPLE;
	w->host_id = host;
	w->seq = seq;
	w->last_seen_ms = 1000 + seq;
	w->sample.time_ms = 1000 + seq;
	w->sample.aio_nr = w->sample.aio_nr_min = w->sample.aio_nr_max = nr;
	w->sample.aio_max_nr = 65536;
	w->done = done;
	cr_assert_eq(server_db_submit(db, w), 0);
}

static int64_t count(const char *sql)
{
	sqlite3 *c;
	sqlite3_stmt *st;
	int64_t n = -1;

	cr_assert_eq(sqlite3_open(path, &c), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(c);
	return n;
}

Test(db, store_dedupe_reload)
{
	struct server_hosts reg;
	struct server_db *db = open_db(&reg);
	struct server_host *h = server_hosts_add(&reg, "hv1", 0);
	struct server_db_write *w = calloc(1, sizeof(*w));

	cr_assert_not_null(h);
	cr_assert_eq(server_hosts_add_label(h, "rack", "r1"), 0);
	server_hosts_set_string(&h->kernel, "6.1.0");
	h->first_seen_ms = h->last_seen_ms = 1000;
	cr_assert_eq(server_db_write_host_fill(w, h), 0);
	w->done = done;
	cr_assert_eq(server_db_submit(db, w), 0);
	for (uint64_t seq = 1; seq <= 100; seq++)
		submit_sample(db, h->id, seq, seq * 2);
	submit_sample(db, h->id, 50, 9999); /* a replay */
	wait_done(102);
	cr_expect_eq(last_err, 0);
	cr_expect_eq(n_dup, 1, "the replayed seq is recognised");
	server_db_close(db);
	server_hosts_done(&reg);

	cr_expect_eq(count("SELECT reports FROM series"), 100);
	cr_expect_eq(count("SELECT (SELECT coalesce(sum(n), 0) FROM raw) + raw_n FROM series"), 100,
	             "each changed report kept raw once");
	cr_expect_eq(count("SELECT sum(sum) FROM rollup_5m_all"), 2 * 5050,
	             "the replay (9999) counted nowhere: the first copy kept");
	cr_expect_eq(count("PRAGMA user_version"), server_store_schema_version());

	db = open_db(&reg);
	h = server_hosts_find(&reg, "hv1");
	cr_assert_not_null(h, "hosts reload after a restart");
	cr_expect_eq(h->last_seq, 100);
	cr_expect_eq(h->sample.aio_nr, 200);
	cr_expect_str_eq(h->kernel, "6.1.0");
	cr_assert_eq(h->n_labels, 1);
	cr_expect_str_eq(h->labels[0].key, "rack");
	cr_expect_eq(reg.next_id, h->id + 1, "new hosts get fresh ids");
	server_db_close(db);
	server_hosts_done(&reg);
}

static void submit_events(struct server_db *db, int64_t host, uint64_t seq, const char *key1,
                          const char *key2)
{
	struct server_db_write *w = calloc(1, sizeof(*w));
	Aioctl__V1__ReportRequest *r = calloc(1, sizeof(*r));
	Aioctl__V1__AioEvent **evs = calloc(2, sizeof(*evs));

	aioctl__v1__report_request__init(r);
	for (int i = 0; i < 2; i++) {
		evs[i] = calloc(1, sizeof(**evs));
		aioctl__v1__aio_event__init(evs[i]);
		evs[i]->time_ms = 1000;
		evs[i]->kind = AIOCTL__V1__EVENT_KIND__EVENT_FAILED;
		evs[i]->source = strdup("journal:libvirtd.service");
		evs[i]->key = strdup(i ? key2 : key1);
	}
	r->events = evs;
	r->n_events = 2;
	w->type = SERVER_DB_WRITE_SAMPLE;
	w->host_id = host;
	w->seq = seq;
	w->sample.time_ms = 1000 + seq;
	w->report = r;
	w->done = done;
	cr_assert_eq(server_db_submit(db, w), 0);
}

Test(db, events_stored_once_by_key)
{
	struct server_hosts reg;
	struct server_db *db = open_db(&reg);
	struct server_host *h = server_hosts_add(&reg, "hv1", 0);
	struct server_db_write *w = calloc(1, sizeof(*w));

	cr_assert_eq(server_db_write_host_fill(w, h), 0);
	w->done = done;
	cr_assert_eq(server_db_submit(db, w), 0);
	submit_events(db, h->id, 1, "cursor-a", "cursor-b");
	/* after an agent restart the same lines are read again in a new report */
	submit_events(db, h->id, 2, "cursor-b", "cursor-c");
	wait_done(3);
	cr_expect_eq(last_err, 0);
	cr_expect_eq(n_new_events, 3, "cursor-b is stored once");
	server_db_close(db);
	server_hosts_done(&reg);
	cr_expect_eq(count("SELECT count(*) FROM events"), 3);
}

static void noop_then(void *arg, int err)
{
	done(calloc(1, sizeof(struct server_db_write)), err);
}

Test(db, reload_keeps_everything_a_restart_needs)
{
	struct server_hosts reg;
	struct server_db *db = open_db(&reg);
	struct server_host *h = server_hosts_add(&reg, "hv1", 0);
	struct server_db_write *w = calloc(1, sizeof(*w));

	h->limit_min = 65536;
	h->limit_max = 1048576;
	h->limit_margin = 4096;
	server_hosts_set_string(&h->sysctl_file, "/etc/sysctl.d/zz-aioctl.conf");
	cr_assert_eq(server_db_write_host_fill(w, h), 0);
	w->done = done;
	cr_assert_eq(server_db_submit(db, w), 0);
	cr_assert_eq(
	        server_db_exec(db, noop_then, NULL,
	                       "UPDATE hosts SET desired = ?, desired_rollout = ?, desired_ms = ?,"
	                       " secret_hash = ?, detail = x'1801' WHERE id = ?",
	                       "iiiti", (int64_t)2097152, (int64_t)7, (int64_t)1234, "abc123",
	                       (int64_t)h->id),
	        0);
	wait_done(2);
	cr_expect_eq(last_err, 0);
	server_db_close(db);
	server_hosts_done(&reg);

	db = open_db(&reg);
	h = server_hosts_find(&reg, "hv1");
	cr_assert_not_null(h);
	cr_expect(h->has_desired);
	cr_expect_eq(h->desired, 2097152);
	cr_expect_eq(h->desired_rollout, 7);
	cr_expect_str_eq(h->secret_hash, "abc123");
	cr_expect_eq(h->limit_max, 1048576);
	cr_expect_str_eq(h->sysctl_file, "/etc/sysctl.d/zz-aioctl.conf");
	cr_assert_not_null(h->detail, "the latest scans come back");
	cr_expect_eq(h->detail->counting, AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE);
	server_db_close(db);
	server_hosts_done(&reg);
}

static unsigned mode_of(const char *suffix)
{
	char p[160];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	cr_assert_eq(stat(p, &st), 0, "%s", p);
	return st.st_mode & 0777;
}

Test(db, the_database_and_its_wal_are_the_servers_alone)
{
	struct server_hosts reg;
	struct server_db *db;
	int fd;

	db = open_db(&reg);
	submit_sample(db, 1, 1, 100);
	wait_done(1);
	cr_expect_eq(mode_of(""), 0600);
	cr_expect_eq(mode_of("-wal"), 0600, "SQLite gives the WAL the database's mode");
	server_db_close(db);
	server_hosts_done(&reg);
	/* a database an older version left readable by all */
	cr_assert_eq(chmod(path, 0644), 0);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	close(fd);
	db = open_db(&reg);
	cr_expect_eq(mode_of(""), 0600, "made private at the next start");
	server_db_close(db);
	server_hosts_done(&reg);
}
