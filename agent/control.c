/* The control thread: holds a Watch on the server, carries out what comes
 * back, and acknowledges it. The server answers a Watch when it has a
 * command or after watch-max; nng must not resend a held call. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 2000
#define ACK_TRIES      5

static Aioctl__V1__AckRequest *sample_now(struct agent *a, uint64_t command_id)
{
	Aioctl__V1__AckRequest *ack = calloc(1, sizeof(*ack));
	Aioctl__V1__Sample *s = calloc(1, sizeof(*s));
	uint64_t nr = 0, max = 0;

	if (!ack || !s) {
		free(ack);
		free(s);
		return NULL;
	}
	aioctl__v1__ack_request__init(ack);
	aioctl__v1__sample__init(s);
	ack->command_id = command_id;
	if (aio_file_read_u64(a->sampler.nr_path, &nr) < 0 ||
	    aio_file_read_u64(a->sampler.max_path, &max) < 0) {
		ack->status = AIOCTL__V1__STATUS_CODE__UNAVAILABLE;
		ack->message = strdup("cannot read the counters");
		free(s);
		return ack;
	}
	s->time_ms = aio_now_ms();
	s->aio_nr = s->aio_nr_min = s->aio_nr_max = nr;
	s->aio_max_nr = max;
	s->has_reads = true;
	s->reads = 1;
	ack->sample = s;
	return ack;
}

/* Sends ack, retrying a little; the server re-sends an unacknowledged
 * command anyway, and a step's answer is kept for that. */
static void send_ack(struct agent *a, Aioctl__V1__AckRequest *ack)
{
	uint64_t backoff = BACKOFF_MIN_MS;

	for (int i = 0; i < ACK_TRIES; i++) {
		ProtobufCMessage *out = NULL;
		struct aio_rpc_status st;
		int code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "Ack", &ack->base,
		                          a->conf.call_timeout_ms, false, &out, &st);

		if (code == AIO_OK) {
			protobuf_c_message_free_unpacked(out, NULL);
			return;
		}
		log_debug("ack %" PRIu64 ": %s: %s", ack->command_id, aio_status_name(code),
		          st.message);
		if (code == AIO_CANCELLED || code == AIO_INVALID_ARGUMENT ||
		    agent_wait_until(a, aio_mono_ms() + backoff))
			return;
		backoff *= 2;
	}
}

static void run_command(struct agent *a, const Aioctl__V1__Command *cmd)
{
	Aioctl__V1__AckRequest *ack = NULL;

	if (cmd->set_limit)
		ack = agent_apply(&a->applier, cmd->command_id, cmd->set_limit);
	else if (cmd->has_sample_now && cmd->sample_now)
		ack = sample_now(a, cmd->command_id);
	if (!ack) {
		log_warn("command %" PRIu64 ": nothing this agent can do", cmd->command_id);
		return;
	}
	send_ack(a, ack);
	aioctl__v1__ack_request__free_unpacked(ack, NULL);
}

void *agent_control_thread(void *arg)
{
	struct agent *a = arg;
	uint64_t backoff = BACKOFF_MIN_MS;

	for (;;) {
		Aioctl__V1__WatchRequest in = AIOCTL__V1__WATCH_REQUEST__INIT;
		Aioctl__V1__WatchReply *out = NULL;
		struct aio_rpc_status st;
		int code;

		in.has_max_wait_ms = true;
		in.max_wait_ms = a->conf.watch_max_ms;
		/* a held call: no resend, and time for the server to answer */
		code = aio_rpc_invoke(a->rpc, &aioctl__v1__agent__descriptor, "Watch", &in.base,
		                      a->conf.watch_max_ms + a->conf.call_timeout_ms, true,
		                      (ProtobufCMessage **)&out, &st);
		if (code == AIO_CANCELLED)
			break;
		if (code != AIO_OK) {
			log_debug("Watch call: %s: %s", aio_status_name(code), st.message);
			if (agent_wait_until(a, aio_mono_ms() + backoff))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		backoff = BACKOFF_MIN_MS;
		for (size_t i = 0; i < out->n_commands; i++)
			run_command(a, out->commands[i]);
		aioctl__v1__watch_reply__free_unpacked(out, NULL);
	}
	return NULL;
}
