#include "query.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Bytes of the database the query thread maps (SQLite caps it at its own
 * compile-time maximum). */
#define QUERY_MMAP_SIZE "4294967296"

struct job {
	struct job *next;
	server_query_fn fn;
	void *arg;
};

struct server_query {
	sqlite3 *conn;
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
		j->fn(q->conn, j->arg);
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
	if (sqlite3_open_v2(path, &q->conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(q->conn));
		goto out_free;
	}
	sqlite3_busy_timeout(q->conn, 5000);
	/* reports read months of rollups: map the file instead of a read()
	 * per page, and keep more of it cached */
	sqlite3_exec(q->conn, "PRAGMA mmap_size = " QUERY_MMAP_SIZE "; PRAGMA cache_size = -65536",
	             NULL, NULL, NULL);
	if (pthread_create(&q->thread, NULL, query_thread, q) != 0) {
		snprintf(err, errlen, "cannot start the query thread");
		goto out_free;
	}
	*ret_q = q;
	return 0;

out_free:
	sqlite3_close(q->conn);
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
	sqlite3_close(q->conn);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
