#include "pipes.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "periodic.h"

/* One open connection: an open-addressing table keyed by nng's pipe id
 * (never 0), linear probing, deletion by moving the cluster back. */
struct slot {
	uint32_t id;
	uint32_t calls; /* under way */
	uint64_t last_ms;
};

struct aio_pipes {
	pthread_mutex_t lock;
	struct slot *v;
	size_t cap, n; /* cap a power of two, kept at least twice n */
	size_t max;
	uint64_t idle_ms;
	uint64_t refused, idled, refused_logged, next_log_ms;
	char what[32];
	struct aio_periodic sweep;
};

static size_t home(const struct aio_pipes *p, uint32_t id)
{
	return (size_t)(id * 2654435761u) & (p->cap - 1);
}

static struct slot *find(struct aio_pipes *p, uint32_t id)
{
	for (size_t i = home(p, id);; i = (i + 1) & (p->cap - 1)) {
		if (p->v[i].id == id)
			return &p->v[i];
		if (!p->v[i].id)
			return NULL;
	}
}

static void put(struct slot *v, size_t cap, struct slot s)
{
	size_t i = (size_t)(s.id * 2654435761u) & (cap - 1);

	while (v[i].id)
		i = (i + 1) & (cap - 1);
	v[i] = s;
}

static int grow(struct aio_pipes *p)
{
	size_t cap = p->cap ? p->cap * 2 : 256;
	struct slot *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < p->cap; i++)
		if (p->v[i].id)
			put(v, cap, p->v[i]);
	free(p->v);
	p->v = v;
	p->cap = cap;
	return 0;
}

static void drop(struct aio_pipes *p, struct slot *s)
{
	size_t i = (size_t)(s - p->v), j = i;

	p->v[i].id = 0;
	p->n--;
	/* move back what probed past i, so every id stays reachable */
	for (;;) {
		size_t k;

		j = (j + 1) & (p->cap - 1);
		if (!p->v[j].id)
			return;
		k = home(p, p->v[j].id);
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			p->v[i] = p->v[j];
			p->v[j].id = 0;
			i = j;
		}
	}
}

static void added(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct aio_pipes *p = arg;
	uint64_t now = aio_mono_ms();
	bool refuse;

	(void)ev;
	pthread_mutex_lock(&p->lock);
	refuse = (p->max && p->n >= p->max) || (p->n * 2 >= p->cap && grow(p) < 0);
	if (!refuse) {
		put(p->v, p->cap, (struct slot){ (uint32_t)nng_pipe_id(pipe), 0, now });
		p->n++;
	} else {
		p->refused++;
	}
	if (refuse && now >= p->next_log_ms) {
		log_warn("%s: %zu connections, the cap (max-connections): refusing new ones "
		         "(%" PRIu64 " refused since the last message)",
		         p->what, p->n, p->refused - p->refused_logged);
		p->refused_logged = p->refused;
		p->next_log_ms = now + 10000;
	}
	pthread_mutex_unlock(&p->lock);
	if (refuse)
		nng_pipe_close(pipe);
}

static void removed(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct aio_pipes *p = arg;
	struct slot *s;

	(void)ev;
	pthread_mutex_lock(&p->lock);
	if (p->cap && (s = find(p, (uint32_t)nng_pipe_id(pipe))))
		drop(p, s);
	pthread_mutex_unlock(&p->lock);
}

static void mark(struct aio_pipes *p, nng_pipe pipe, int delta)
{
	struct slot *s;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->cap && (s = find(p, (uint32_t)nng_pipe_id(pipe)))) {
		if (delta > 0 || s->calls > 0)
			s->calls += (uint32_t)delta;
		s->last_ms = aio_mono_ms();
	}
	pthread_mutex_unlock(&p->lock);
}

void aio_pipes_call_begin(struct aio_pipes *p, nng_pipe pipe)
{
	mark(p, pipe, 1);
}

void aio_pipes_call_end(struct aio_pipes *p, nng_pipe pipe)
{
	mark(p, pipe, -1);
}

/* Closes every connection with no call under way for idle_ms. */
static void sweep(void *arg)
{
	struct aio_pipes *p = arg;
	uint64_t now = aio_mono_ms();
	uint32_t *ids = NULL;
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	if (p->n && (ids = malloc(p->n * sizeof(*ids))))
		for (size_t i = 0; i < p->cap; i++)
			if (p->v[i].id && !p->v[i].calls && now - p->v[i].last_ms >= p->idle_ms)
				ids[n++] = p->v[i].id;
	p->idled += n;
	pthread_mutex_unlock(&p->lock);
	/* outside the lock: closing calls removed() */
	for (size_t i = 0; i < n; i++) {
		nng_pipe pipe = NNG_PIPE_INITIALIZER;

		pipe.id = ids[i];
		nng_pipe_close(pipe);
	}
	if (n)
		log_debug("%s: %zu idle connections closed", p->what, n);
	free(ids);
}

int aio_pipes_start(nng_socket sock, const char *what, size_t max, uint64_t idle_ms,
                    struct aio_pipes **ret)
{
	struct aio_pipes *p = calloc(1, sizeof(*p));
	int r;

	if (!p || grow(p) < 0) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->max = max;
	p->idle_ms = idle_ms;
	snprintf(p->what, sizeof(p->what), "%s", what);
	if ((r = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, added, p)) != 0 ||
	    (r = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, removed, p)) != 0) {
		aio_pipes_free(p);
		return -EIO;
	}
	if (idle_ms && aio_periodic_start(&p->sweep, idle_ms / 4 ? idle_ms / 4 : 1, sweep, p) < 0) {
		aio_pipes_free(p);
		return -EAGAIN;
	}
	*ret = p;
	return 0;
}

void aio_pipes_free(struct aio_pipes *p)
{
	if (!p)
		return;
	aio_periodic_stop(&p->sweep);
	pthread_mutex_destroy(&p->lock);
	free(p->v);
	free(p);
}

void aio_pipes_counts(struct aio_pipes *p, struct aio_pipes_counts *ret)
{
	pthread_mutex_lock(&p->lock);
	*ret = (struct aio_pipes_counts){ p->n, p->refused, p->idled };
	pthread_mutex_unlock(&p->lock);
}
