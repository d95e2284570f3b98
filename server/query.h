/* Reads that go to disk (history, errors) run here, on a thread with its
 * own read-only connection, never on nng's callback threads. WAL lets them
 * run beside the writer. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>

struct server_query;

typedef void (*server_query_fn)(sqlite3 *conn, void *arg);

int server_query_open(const char *path, size_t queue_max, struct server_query **ret_q, char *err,
                      size_t errlen);
/* Runs fn(conn, arg) on the query thread; -EAGAIN when the queue is full,
 * -ESHUTDOWN when closing. fn owns arg. */
int server_query_submit(struct server_query *q, server_query_fn fn, void *arg);
/* Runs what is queued, then stops. */
void server_query_close(struct server_query *q);
