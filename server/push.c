#include "push.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "rpc_server.h"
#include "status.h"

struct server_hostctl {
	struct server_command *commands;
	size_t n_commands;
	Aioctl__V1__WatchReply_Closure watch; /* the held Watch, or NULL */
	void *watch_data;
	uint64_t watch_deadline_ms;
};

/* A live fleet status: sample_now went to every host; answered when all
 * replied or at the deadline. */
struct server_live {
	Aioctl__V1__FleetStatusReply_Closure closure;
	void *data;
	uint64_t deadline_ms;
	int64_t *hosts; /* asked */
	bool *answered;
	size_t n;
	uint64_t first_id; /* command ids first_id .. first_id + n - 1 */
	char owner[SERVER_PUSH_OWNER_MAX + 1];
	struct server_live *next;
};

void server_push_init(struct server_push *p, struct server_hosts *hosts)
{
	uint64_t seed = 0;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->hosts = hosts;
	/* from a random point: servers on one database relay their live
	 * queries to each other, whose ids must not meet */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = aio_now_ms();
	p->next_ephemeral_id = SERVER_PUSH_EPHEMERAL_BIT | ((seed & 0xffffffffULL) << 24);
}

static struct server_hostctl *ctl_get(struct server_push *p, int64_t host_id)
{
	if (host_id <= 0)
		return NULL;
	if ((size_t)host_id >= p->n_ctl) {
		size_t n = (size_t)host_id * 2 + 16;
		struct server_hostctl *v = realloc(p->ctl, n * sizeof(*v));

		if (!v)
			return NULL;
		memset(v + p->n_ctl, 0, (n - p->n_ctl) * sizeof(*v));
		p->ctl = v;
		p->n_ctl = n;
	}
	return &p->ctl[host_id];
}

static int enqueue(struct server_push *p, int64_t host_id, const struct server_command *tmpl)
{
	struct server_hostctl *ctl = ctl_get(p, host_id);
	struct server_command *c, **tail;

	if (!ctl)
		return -ENOMEM;
	for (c = ctl->commands; c; c = c->next)
		if (c->id == tmpl->id)
			return 0; /* already outstanding */
	if (ctl->n_commands >= SERVER_PUSH_COMMANDS_MAX)
		return -EAGAIN;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	*c = *tmpl;
	c->next = NULL;
	c->sent_ms = 0;
	c->relayed_ms = 0;
	for (tail = &ctl->commands; *tail; tail = &(*tail)->next)
		;
	*tail = c;
	ctl->n_commands++;
	return 1;
}

static void withdraw(struct server_push *p, int64_t host_id, uint64_t command_id)
{
	struct server_hostctl *ctl = ctl_get(p, host_id);

	for (struct server_command **pp = ctl ? &ctl->commands : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->id == command_id) {
			struct server_command *c = *pp;

			*pp = c->next;
			ctl->n_commands--;
			free(c);
			return;
		}
	}
}

/* Answers the host's held Watch with the commands due now (or with none
 * when flush): returns true if it answered. */
static bool deliver(struct server_hostctl *ctl, uint64_t now, bool flush)
{
	Aioctl__V1__WatchReply rep = AIOCTL__V1__WATCH_REPLY__INIT;
	Aioctl__V1__Command cmds[SERVER_PUSH_COMMANDS_MAX], *ptrs[SERVER_PUSH_COMMANDS_MAX];
	Aioctl__V1__SetLimit sets[SERVER_PUSH_COMMANDS_MAX];
	size_t n = 0;

	if (!ctl || !ctl->watch)
		return false;
	for (struct server_command *c = ctl->commands; c && n < SERVER_PUSH_COMMANDS_MAX;
	     c = c->next) {
		if (c->sent_ms && now < c->sent_ms + SERVER_PUSH_RESEND_MS)
			continue;
		aioctl__v1__command__init(&cmds[n]);
		cmds[n].command_id = c->id;
		if (c->sample_now) {
			cmds[n].has_sample_now = true;
			cmds[n].sample_now = true;
		} else {
			aioctl__v1__set_limit__init(&sets[n]);
			sets[n].rollout_id = c->rollout_id;
			sets[n].step_id = c->step_id;
			sets[n].target = c->target;
			sets[n].has_persist = true;
			sets[n].persist = true;
			sets[n].has_force = c->force;
			sets[n].force = c->force;
			sets[n].has_rollback = c->rollback;
			sets[n].rollback = c->rollback;
			cmds[n].set_limit = &sets[n];
		}
		ptrs[n] = &cmds[n];
		c->sent_ms = now;
		n++;
	}
	if (!n && !flush)
		return false;
	rep.commands = ptrs;
	rep.n_commands = n;
	ctl->watch(&rep, ctl->watch_data);
	ctl->watch = NULL;
	ctl->watch_data = NULL;
	return true;
}

void server_push_watch(struct server_push *p, int64_t host_id, uint64_t max_wait_ms,
                       Aioctl__V1__WatchReply_Closure closure, void *data)
{
	struct server_hostctl *ctl;
	uint64_t now = aio_now_ms();

	pthread_mutex_lock(&p->lock);
	ctl = ctl_get(p, host_id);
	if (!ctl || p->stopping) {
		pthread_mutex_unlock(&p->lock);
		AIO_RPC_REFUSE(data, closure, AIO_UNAVAILABLE, "server is shutting down");
		return;
	}
	/* one held Watch per host: a newer one replaces the older */
	deliver(ctl, now, true);
	ctl->watch = closure;
	ctl->watch_data = data;
	if (!max_wait_ms || max_wait_ms > SERVER_PUSH_WATCH_MAX_MS)
		max_wait_ms = SERVER_PUSH_WATCH_MAX_MS;
	ctl->watch_deadline_ms = now + max_wait_ms;
	deliver(ctl, now, false);
	pthread_mutex_unlock(&p->lock);
}

/* Tells the other servers of host_id's queued command id (push lock). */
static void relay(struct server_push *p, int64_t host_id, uint64_t id, uint64_t now_ms)
{
	struct server_hostctl *ctl = ctl_get(p, host_id);

	for (struct server_command *c = ctl ? ctl->commands : NULL; c; c = c->next) {
		if (c->id == id) {
			c->relayed_ms = now_ms ? now_ms : 1;
			p->relay(p->relay_arg, host_id, c);
		}
	}
}

int server_push_send(struct server_push *p, int64_t host_id, const struct server_command *c,
                     uint64_t now_ms)
{
	int r;

	pthread_mutex_lock(&p->lock);
	if ((r = enqueue(p, host_id, c)) >= 0)
		deliver(ctl_get(p, host_id), now_ms, false);
	/* new here: the other servers queue it too, for whichever of them
	 * holds the host's Watch (again each resend time until acked) */
	if (r == 1 && p->relay && !(c->id & SERVER_PUSH_EPHEMERAL_BIT))
		relay(p, host_id, c->id, now_ms);
	pthread_mutex_unlock(&p->lock);
	return r < 0 ? r : 0;
}

int server_push_take(struct server_push *p, int64_t host_id, const struct server_command *c,
                     uint64_t now_ms)
{
	int r;

	pthread_mutex_lock(&p->lock);
	if ((r = enqueue(p, host_id, c)) >= 0)
		deliver(ctl_get(p, host_id), now_ms, false);
	pthread_mutex_unlock(&p->lock);
	return r < 0 ? r : 0;
}

static void live_free(struct server_live *lq)
{
	if (!lq)
		return;
	free(lq->hosts);
	free(lq->answered);
	free(lq);
}

/* Answers lq with the fleet as it stands, naming the hosts that did not
 * answer, and frees it (push lock held). */
static void live_answer(struct server_push *p, struct server_live *lq)
{
	int64_t *silent = calloc(lq->n + 1, sizeof(*silent));
	size_t n = 0;

	for (size_t i = 0; i < lq->n; i++) {
		withdraw(p, lq->hosts[i], lq->first_id + i);
		if (silent && !lq->answered[i])
			silent[n++] = lq->hosts[i];
	}
	server_status_answer(p->hosts, lq->closure, lq->data, silent, n);
	free(silent);
	live_free(lq);
}

bool server_push_ack(struct server_push *p, int64_t host_id, const Aioctl__V1__AckRequest *ack)
{
	bool live = ack->command_id & SERVER_PUSH_EPHEMERAL_BIT;

	pthread_mutex_lock(&p->lock);
	withdraw(p, host_id, ack->command_id);
	for (struct server_live *lq = live ? p->live : NULL; lq; lq = lq->next) {
		uint64_t i = ack->command_id - lq->first_id;

		if (ack->command_id < lq->first_id || i >= lq->n || lq->hosts[i] != host_id)
			continue;
		if (ack->sample && ack->status == AIOCTL__V1__STATUS_CODE__OK) {
			lq->answered[i] = true;
			server_hosts_set_sample(p->hosts, host_id, ack->sample, aio_now_ms());
		}
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return live;
}

int server_push_live(struct server_push *p, const char *owner, uint64_t timeout_ms,
                     Aioctl__V1__FleetStatusReply_Closure closure, void *data)
{
	struct server_live *lq = calloc(1, sizeof(*lq));
	uint64_t now = aio_now_ms();
	size_t n = 0, mine = 0, all = 0;

	if (lq) {
		n = server_hosts_ids(p->hosts, &lq->hosts);
		lq->n = n;
		lq->answered = calloc(n + 1, sizeof(*lq->answered));
		snprintf(lq->owner, sizeof(lq->owner), "%s", owner ? owner : "");
	}
	pthread_mutex_lock(&p->lock);
	for (struct server_live *q = p->live; lq && q; q = q->next) {
		all++;
		mine += strcmp(q->owner, lq->owner) == 0;
	}
	if (!lq || !lq->hosts || !lq->answered || p->stopping ||
	    mine >= SERVER_PUSH_LIVE_PER_OWNER || all >= SERVER_PUSH_LIVE_MAX) {
		int r = !lq || !lq->hosts || !lq->answered ? -ENOMEM
		        : p->stopping                      ? -ESHUTDOWN
		                                           : -EBUSY;

		pthread_mutex_unlock(&p->lock);
		live_free(lq);
		return r;
	}
	lq->closure = closure;
	lq->data = data;
	lq->deadline_ms = now + timeout_ms;
	lq->first_id = p->next_ephemeral_id;
	p->next_ephemeral_id += n;
	for (size_t i = 0; i < n; i++) {
		struct server_command c = { 0 };

		c.id = lq->first_id + i;
		c.sample_now = true;
		if (enqueue(p, lq->hosts[i], &c) >= 0)
			deliver(ctl_get(p, lq->hosts[i]), now, false);
		/* a host another server holds answers through it */
		if (p->relay)
			relay(p, lq->hosts[i], c.id, now);
	}
	lq->next = p->live;
	p->live = lq;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void server_push_tick(struct server_push *p, uint64_t now_ms)
{
	pthread_mutex_lock(&p->lock);
	/* held Watches past their time get an empty answer */
	for (size_t i = 0; i < p->n_ctl; i++) {
		struct server_hostctl *ctl = &p->ctl[i];

		if (ctl->watch && !deliver(ctl, now_ms, false) && now_ms >= ctl->watch_deadline_ms)
			deliver(ctl, now_ms, true);
		/* a relay may have found a server down, or the host moving */
		for (struct server_command *c = p->relay ? ctl->commands : NULL; c; c = c->next) {
			if (c->relayed_ms && now_ms >= c->relayed_ms + SERVER_PUSH_RESEND_MS) {
				c->relayed_ms = now_ms;
				p->relay(p->relay_arg, (int64_t)i, c);
			}
		}
	}
	for (struct server_live **pp = &p->live; *pp;) {
		struct server_live *lq = *pp;
		bool all = true;

		for (size_t i = 0; i < lq->n; i++)
			all &= lq->answered[i];
		if (!all && now_ms < lq->deadline_ms) {
			pp = &lq->next;
			continue;
		}
		*pp = lq->next;
		live_answer(p, lq);
	}
	pthread_mutex_unlock(&p->lock);
}

size_t server_push_watches(struct server_push *p)
{
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_ctl; i++)
		n += p->ctl[i].watch != NULL;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void server_push_stop(struct server_push *p)
{
	uint64_t now = aio_now_ms();

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	for (size_t i = 0; i < p->n_ctl; i++)
		deliver(&p->ctl[i], now, true);
	while (p->live) {
		struct server_live *lq = p->live;

		p->live = lq->next;
		live_answer(p, lq);
	}
	pthread_mutex_unlock(&p->lock);
}

void server_push_done(struct server_push *p)
{
	for (size_t i = 0; i < p->n_ctl; i++) {
		struct server_command *c = p->ctl[i].commands;

		while (c) {
			struct server_command *next = c->next;

			free(c);
			c = next;
		}
	}
	free(p->ctl);
	p->ctl = NULL;
	p->n_ctl = 0;
	pthread_mutex_destroy(&p->lock);
}
