/* Reads that go to disk (history, errors) run here, on a thread with its
 * own read-only connection, never on nng's callback threads. WAL lets them
 * run beside the writer. */
#pragma once

#include <stddef.h>

struct server_query;
/* A read connection to the database; the table owners' read functions
 * take it. */
struct server_reader;
typedef void (*server_query_fn)(struct server_reader *rd, void *arg);

int server_query_open(const char *path, size_t queue_max, struct server_query **ret_q, char *err,
                      size_t errlen);
/* Runs fn(reader, arg) on the query thread; -EAGAIN when the queue is full,
 * -ESHUTDOWN when closing. fn owns arg. */
int server_query_submit(struct server_query *q, server_query_fn fn, void *arg);
/* Runs what is queued, then stops. */
void server_query_close(struct server_query *q);

/* A read-only connection of its own (the query thread has one; a helper
 * thread may open a twin): NULL with a message in err. */
struct server_reader *server_reader_open(const char *path, char *err, size_t errlen);
struct server_reader *server_reader_twin(struct server_reader *rd);
void server_reader_close(struct server_reader *rd);
/* The last error on the reader's connection. */
const char *server_reader_error(struct server_reader *rd);
