/* What the server sends agents (server/push.c), with closures standing in
 * for the calls nng holds: a held Watch gets its host's commands, once,
 * again after the resend time, never another host's; live queries name
 * the hosts that did not answer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "push.h"

static struct server_hosts reg;
static struct server_push push;

/* what a held Watch was answered with */
struct answer {
	int calls;
	size_t n;
	uint64_t ids[SERVER_PUSH_COMMANDS_MAX];
	bool sample_now[SERVER_PUSH_COMMANDS_MAX];
	uint64_t targets[SERVER_PUSH_COMMANDS_MAX];
};

static void watch_answered(const Aioctl__V1__WatchReply *rep, void *data)
{
	struct answer *a = data;

	cr_assert_not_null(rep);
	a->calls++;
	a->n = rep->n_commands;
	for (size_t i = 0; i < rep->n_commands; i++) {
		a->ids[i] = rep->commands[i]->command_id;
		a->sample_now[i] = rep->commands[i]->sample_now;
		a->targets[i] =
		        rep->commands[i]->set_limit ? rep->commands[i]->set_limit->target : 0;
	}
}

static void setup(void)
{
	cr_assert_eq(server_hosts_init(&reg), 0);
	cr_assert(server_hosts_add(&reg, "hv1", 0));
	cr_assert(server_hosts_add(&reg, "hv2", 0));
	server_push_init(&push, &reg);
}

static void teardown(void)
{
	server_push_stop(&push);
	server_push_done(&push);
	server_hosts_done(&reg);
}

TestSuite(push, .init = setup, .fini = teardown, .timeout = 10);

static struct server_command step(uint64_t id, uint64_t target)
{
	struct server_command c = { 0 };

	c.id = id;
	c.rollout_id = 1;
	c.step_id = id / 2;
	c.target = target;
	return c;
}

Test(push, a_held_watch_gets_its_hosts_command_once)
{
	struct answer a1 = { 0 }, a2 = { 0 };
	struct server_command c = step(20, 131072);
	uint64_t now = aio_now_ms();

	server_push_watch(&push, 1, 30000, watch_answered, &a1);
	server_push_watch(&push, 2, 30000, watch_answered, &a2);
	cr_assert_eq(server_push_watches(&push), 2);
	cr_assert_eq(server_push_send(&push, 1, &c, now), 0);
	cr_assert_eq(a1.calls, 1, "delivered at once to the held Watch");
	cr_assert_eq(a1.n, 1);
	cr_assert_eq(a1.ids[0], 20);
	cr_assert_eq(a1.targets[0], 131072);
	cr_assert_eq(a2.calls, 0, "another host's Watch stays held");
	/* sending it again while outstanding queues nothing new */
	cr_assert_eq(server_push_send(&push, 1, &c, now), 0);
	server_push_watch(&push, 1, 30000, watch_answered, &a1);
	server_push_tick(&push, now + 1);
	cr_assert_eq(a1.calls, 1, "not again before the resend time");
	server_push_tick(&push, now + SERVER_PUSH_RESEND_MS);
	cr_assert_eq(a1.calls, 2, "unacknowledged: sent again");
	cr_assert_eq(a1.ids[0], 20);
	server_push_stop(&push); /* the answers live on this stack */
}

Test(push, an_ack_settles_the_command)
{
	Aioctl__V1__AckRequest ack = AIOCTL__V1__ACK_REQUEST__INIT;
	struct answer a = { 0 };
	struct server_command c = step(30, 262144);
	uint64_t now = aio_now_ms();

	cr_assert_eq(server_push_send(&push, 1, &c, now), 0);
	ack.command_id = 30;
	cr_assert_eq(server_push_ack(&push, 1, &ack), false, "a step's ack is the engine's");
	server_push_watch(&push, 1, 30000, watch_answered, &a);
	server_push_tick(&push, now + SERVER_PUSH_RESEND_MS);
	cr_assert_eq(a.calls, 0, "nothing left to send");
	server_push_stop(&push);
}

Test(push, a_full_queue_refuses_more)
{
	uint64_t now = aio_now_ms();

	for (uint64_t i = 0; i < SERVER_PUSH_COMMANDS_MAX; i++) {
		struct server_command c = step(100 + 2 * i, 65536);

		cr_assert_eq(server_push_send(&push, 2, &c, now), 0);
	}
	struct server_command more = step(500, 65536);

	cr_assert_eq(server_push_send(&push, 2, &more, now), -EAGAIN);
}

Test(push, a_newer_watch_answers_the_older_and_stop_answers_all)
{
	struct answer old = { 0 }, young = { 0 };

	server_push_watch(&push, 1, 30000, watch_answered, &old);
	server_push_watch(&push, 1, 30000, watch_answered, &young);
	cr_assert_eq(old.calls, 1);
	cr_assert_eq(old.n, 0, "the older Watch ends empty");
	cr_assert_eq(young.calls, 0);
	server_push_stop(&push);
	cr_assert_eq(young.calls, 1, "stopping answers every held Watch");
	cr_assert_eq(server_push_watches(&push), 0);
}

Test(push, a_watch_past_its_time_ends_empty)
{
	struct answer a = { 0 };
	uint64_t now = aio_now_ms();

	server_push_watch(&push, 1, 1000, watch_answered, &a);
	server_push_tick(&push, now + 500);
	cr_assert_eq(a.calls, 0);
	server_push_tick(&push, now + 1500);
	cr_assert_eq(a.calls, 1);
	cr_assert_eq(a.n, 0);
}

/* what a live query was answered with */
struct status {
	int calls;
	size_t n_hosts, n_silent;
	char silent[4][32];
	uint64_t hv1_nr;
};

static void status_answered(const Aioctl__V1__FleetStatusReply *rep, void *data)
{
	struct status *st = data;

	cr_assert_not_null(rep);
	st->calls++;
	st->n_hosts = rep->n_hosts;
	st->n_silent = rep->n_not_answered;
	for (size_t i = 0; i < rep->n_not_answered && i < 4; i++)
		snprintf(st->silent[i], sizeof(st->silent[i]), "%s", rep->not_answered[i]);
	for (size_t i = 0; i < rep->n_hosts; i++)
		if (!strcmp(rep->hosts[i]->host, "hv1") && rep->hosts[i]->sample)
			st->hv1_nr = rep->hosts[i]->sample->aio_nr;
}

Test(push, a_live_query_names_the_hosts_that_did_not_answer)
{
	Aioctl__V1__AckRequest ack = AIOCTL__V1__ACK_REQUEST__INIT;
	Aioctl__V1__Sample sample = AIOCTL__V1__SAMPLE__INIT;
	struct answer w1 = { 0 }, w2 = { 0 };
	struct status st = { 0 };
	uint64_t now = aio_now_ms();

	server_push_watch(&push, 1, 30000, watch_answered, &w1);
	server_push_watch(&push, 2, 30000, watch_answered, &w2);
	cr_assert_eq(server_push_live(&push, "ops", 2000, status_answered, &st), 0);
	cr_assert_eq(w1.calls, 1);
	cr_assert(w1.sample_now[0], "each host is asked for a sample now");
	cr_assert(w2.sample_now[0]);
	cr_assert(w1.ids[0] & SERVER_PUSH_EPHEMERAL_BIT);
	/* hv1 answers with its sample; hv2 stays silent */
	ack.command_id = w1.ids[0];
	ack.status = AIOCTL__V1__STATUS_CODE__OK;
	sample.time_ms = now;
	sample.aio_nr = 4242;
	sample.aio_max_nr = 65536;
	ack.sample = &sample;
	cr_assert_eq(server_push_ack(&push, 1, &ack), true, "a live query's ack stays in push");
	server_push_tick(&push, now + 100);
	cr_assert_eq(st.calls, 0, "waits for hv2 until the deadline");
	server_push_tick(&push, now + 2500);
	cr_assert_eq(st.calls, 1);
	cr_assert_eq(st.n_hosts, 2);
	cr_assert_eq(st.n_silent, 1);
	cr_assert_str_eq(st.silent[0], "hv2");
	cr_assert_eq(st.hv1_nr, 4242, "the answer carries the fresh sample");
	server_push_stop(&push);
}

Test(push, a_live_query_answered_by_all_returns_at_once)
{
	Aioctl__V1__AckRequest ack = AIOCTL__V1__ACK_REQUEST__INIT;
	Aioctl__V1__Sample sample = AIOCTL__V1__SAMPLE__INIT;
	struct answer w[2] = { { 0 } };
	struct status st = { 0 };
	uint64_t now = aio_now_ms();

	for (int h = 0; h < 2; h++)
		server_push_watch(&push, h + 1, 30000, watch_answered, &w[h]);
	cr_assert_eq(server_push_live(&push, "ops", 60000, status_answered, &st), 0);
	sample.time_ms = now;
	for (int h = 0; h < 2; h++) {
		ack.command_id = w[h].ids[0];
		ack.sample = &sample;
		server_push_ack(&push, h + 1, &ack);
	}
	server_push_tick(&push, now + 1);
	cr_assert_eq(st.calls, 1);
	cr_assert_eq(st.n_silent, 0);
	server_push_stop(&push);
}

Test(push, live_queries_are_bounded_per_credential)
{
	struct status st[SERVER_PUSH_LIVE_MAX + 2];
	int accepted = 0;

	memset(st, 0, sizeof(st));
	for (int i = 0; i < SERVER_PUSH_LIVE_PER_OWNER; i++)
		cr_assert_eq(server_push_live(&push, "viewer", 60000, status_answered, &st[i]), 0);
	cr_expect_eq(server_push_live(&push, "viewer", 60000, status_answered, &st[9]), -EBUSY,
	             "one token cannot hold more");
	cr_expect_eq(st[9].calls, 0, "a refused one is not answered here");
	for (int i = 0; i < SERVER_PUSH_LIVE_MAX + 1; i++) {
		char owner[16];

		snprintf(owner, sizeof(owner), "t%d", i);
		accepted += server_push_live(&push, owner, 60000, status_answered,
		                             &st[i % (SERVER_PUSH_LIVE_MAX + 2)]) == 0;
	}
	cr_expect_eq(accepted, SERVER_PUSH_LIVE_MAX - SERVER_PUSH_LIVE_PER_OWNER,
	             "and all of them");
	server_push_stop(&push); /* answers them all */
	cr_expect_eq(st[0].calls >= 1, true);
}
