#include "periodic.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void *periodic_thread(void *arg)
{
	struct aio_periodic *p = arg;

	for (;;) {
		struct timespec ts;
		bool stop;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(p->interval_ms / 1000);
		ts.tv_nsec += (long)(p->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&p->lock);
		while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->lock, &ts) == 0)
			;
		stop = p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
		p->fn(p->arg);
	}
	return NULL;
}

int aio_periodic_start(struct aio_periodic *p, uint64_t interval_ms, void (*fn)(void *arg),
                       void *arg)
{
	pthread_condattr_t attr;

	memset(p, 0, sizeof(*p));
	p->interval_ms = interval_ms;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&p->thread, NULL, periodic_thread, p) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		return -EAGAIN;
	}
	p->started = true;
	return 0;
}

bool aio_periodic_stopping(struct aio_periodic *p)
{
	bool stop;

	pthread_mutex_lock(&p->lock);
	stop = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

void aio_periodic_stop(struct aio_periodic *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	p->started = false;
}
