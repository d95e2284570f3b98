/* gRPC-style RPC client over nng REQ. One client is safe to use from many
 * threads: each call runs on its own nng context. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "rpc.h"
#include "tls.h"

struct aio_rpc_client;

struct aio_rpc_client_opts {
	const char *url;
	size_t recv_max;             /* 0: AIO_RPC_RECV_MAX_DEFAULT */
	bool wait_connect;           /* connect now and fail if refused (CLI) */
	uint64_t connect_timeout_ms; /* with wait_connect: at most this long; 0 nng's */
	uint64_t reconnect_min_ms;   /* back-off between connection attempts */
	uint64_t reconnect_max_ms;
	const char *admin_token;
	const char *host_id;
	const char *host_secret;
	struct aio_tls_opts tls; /* its strings outlive the client (a redial's) */
};

struct aio_rpc_status {
	int code; /* enum aio_status */
	char message[AIO_RPC_STATUS_MESSAGE_MAX];
};

int aio_rpc_client_open(const struct aio_rpc_client_opts *opts, struct aio_rpc_client **ret,
                        char *err, size_t errlen);
/* Presents secret as the host secret from the next call on. */
int aio_rpc_client_set_secret(struct aio_rpc_client *c, const char *secret);
/* Dials url instead (another server of several): the connection to the
 * one before closes, and calls go to url once it is up. url must outlive
 * the client, or the next redial. */
int aio_rpc_client_redial(struct aio_rpc_client *c, const char *url, char *err, size_t errlen);
/* Aborts calls in flight (they end CANCELLED); they may be freed after. */
void aio_rpc_client_close(struct aio_rpc_client *c);
void aio_rpc_client_free(struct aio_rpc_client *c);
const char *aio_rpc_client_url(const struct aio_rpc_client *c);

/* Calls svc/method with in, waiting at most timeout_ms. Returns the status
 * code; on AIO_OK *ret_out holds the reply (free with
 * protobuf_c_message_free_unpacked). Transport failures map to
 * DEADLINE_EXCEEDED, UNAVAILABLE or CANCELLED with a message naming the URL.
 * no_resend: never let nng repeat the request (long polls). */
int aio_rpc_invoke(struct aio_rpc_client *c, const ProtobufCServiceDescriptor *svc,
                   const char *method, const ProtobufCMessage *in, uint64_t timeout_ms,
                   bool no_resend, ProtobufCMessage **ret_out, struct aio_rpc_status *ret_st);
