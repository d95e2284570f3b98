/* A thread that runs a job once per interval (the first an interval after
 * start) until stopped; a stop wakes it at once. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct aio_periodic {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* on the monotonic clock */
	uint64_t interval_ms;
	void (*fn)(void *arg);
	void *arg;
	bool started, stopping;
};

/* 0, or -EAGAIN when no thread could be made (p needs no stop then). */
int aio_periodic_start(struct aio_periodic *p, uint64_t interval_ms, void (*fn)(void *arg),
                       void *arg);
/* Whether a stop was asked; a long job asks between its steps. */
bool aio_periodic_stopping(struct aio_periodic *p);
/* Wakes the thread, waits for the job under way, joins. Accepts a p never
 * started (zeroed). */
void aio_periodic_stop(struct aio_periodic *p);
