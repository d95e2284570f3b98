#include "query.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sql.h"

/* Bytes of the database the query thread maps (SQLite caps it at its own
 * compile-time maximum). */
#define QUERY_MMAP_SIZE "4294967296"

/* Statements a reader keeps prepared. */
#define READER_STMTS 32

struct server_reader {
	struct server_sql *conn;
	char *path;
	struct {
		const char *sql;
		struct server_sql_stmt *st;
	} stmt[READER_STMTS];
};

struct server_reader *server_reader_open(const char *path, char *err, size_t errlen)
{
	struct server_reader *rd = calloc(1, sizeof(*rd));
	int r;

	if (!rd || !(rd->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		free(rd);
		return NULL;
	}
	if (server_sql_is_postgresql(path))
		r = server_sql_open_postgresql(path, &rd->conn, err, errlen);
	else
		r = server_sql_open_sqlite(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
		                           &rd->conn, err, errlen);
	if (r < 0) {
		server_reader_close(rd);
		return NULL;
	}
	/* reports read months of rollups: map the file instead of a read()
	 * per page, and keep more of it cached */
	if (server_sql_sqlite(rd->conn))
		server_sql_exec(rd->conn, "PRAGMA mmap_size = " QUERY_MMAP_SIZE
		                          "; PRAGMA cache_size = -65536");
	return rd;
}

struct server_reader *server_reader_twin(struct server_reader *rd)
{
	char err[256];

	return server_reader_open(rd->path, err, sizeof(err));
}

void server_reader_close(struct server_reader *rd)
{
	if (!rd)
		return;
	for (int i = 0; i < READER_STMTS; i++)
		server_sql_finalize(rd->stmt[i].st);
	server_sql_close(rd->conn);
	free(rd->path);
	free(rd);
}

struct server_sql *server_reader_conn(struct server_reader *rd)
{
	return rd->conn;
}

const char *server_reader_error(struct server_reader *rd)
{
	return server_sql_errmsg(rd->conn);
}

struct server_sql_stmt *server_reader_stmt(struct server_reader *rd, const char *sql)
{
	int i;

	/* PostgreSQL went away: a new connection, its statements prepare
	 * again */
	if (server_sql_broken(rd->conn))
		server_sql_reconnect(rd->conn);
	for (i = 0; i < READER_STMTS && rd->stmt[i].sql; i++) {
		if (rd->stmt[i].sql == sql) {
			server_sql_reset(rd->stmt[i].st);
			server_sql_clear_bindings(rd->stmt[i].st);
			return rd->stmt[i].st;
		}
	}
	if (i == READER_STMTS)
		return NULL; /* more statements than kept: raise READER_STMTS */
	if (server_sql_prepare(rd->conn, sql, true, &rd->stmt[i].st) != SQLITE_OK)
		return NULL;
	rd->stmt[i].sql = sql;
	return rd->stmt[i].st;
}

struct job {
	struct job *next;
	server_query_fn fn;
	void *arg;
};

struct server_query {
	struct server_reader *rd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *head, **tail;
	size_t queued, queue_max;
	bool stopping;
};

static void *query_thread(void *arg)
{
	struct server_query *q = arg;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&q->lock);
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->wake, &q->lock);
		j = q->head;
		if (j) {
			q->head = j->next;
			if (!q->head)
				q->tail = &q->head;
			q->queued--;
		}
		pthread_mutex_unlock(&q->lock);
		if (!j)
			break;
		j->fn(q->rd, j->arg);
		free(j);
	}
	return NULL;
}

int server_query_open(const char *path, size_t queue_max, struct server_query **ret_q, char *err,
                      size_t errlen)
{
	struct server_query *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->tail = &q->head;
	q->queue_max = queue_max;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	if (!(q->rd = server_reader_open(path, err, errlen)))
		goto out_free;
	if (pthread_create(&q->thread, NULL, query_thread, q) != 0) {
		snprintf(err, errlen, "cannot start the query thread");
		goto out_free;
	}
	*ret_q = q;
	return 0;

out_free:
	server_reader_close(q->rd);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q);
	return -EIO;
}

int server_query_submit(struct server_query *q, server_query_fn fn, void *arg)
{
	struct job *j;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	if (q->stopping)
		r = -ESHUTDOWN;
	else if (q->queued >= q->queue_max)
		r = -EAGAIN;
	else if (!(j = malloc(sizeof(*j))))
		r = -ENOMEM;
	if (r == 0) {
		j->next = NULL;
		j->fn = fn;
		j->arg = arg;
		*q->tail = j;
		q->tail = &j->next;
		q->queued++;
		pthread_cond_signal(&q->wake);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

void server_query_close(struct server_query *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	server_reader_close(q->rd);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
