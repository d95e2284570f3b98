/* gRPC-style RPC server over nng REP with a pool of contexts.
 *
 * Handlers are the generated protobuf-c service functions. A handler answers
 * by calling its closure with the reply (or NULL after aio_rpc_call_fail),
 * now or later from any thread: a call not answered when the handler returns
 * is held, keeps its context, and a fresh context joins the pool. The input
 * message is freed when the handler returns; a holding handler copies what it
 * needs. */
#pragma once

#include <stdint.h>

#include "pipes.h"
#include "rpc.h"
#include "tls.h"

struct aio_rpc_server;
struct aio_rpc_call;

/* Runs before every handler; returns AIO_OK to let the call through, else
 * a status after aio_rpc_call_fail. */
typedef int (*aio_rpc_auth_fn)(struct aio_rpc_call *call, void *arg);

struct aio_rpc_server_opts {
	const char *url;
	ProtobufCService *service;
	aio_rpc_auth_fn authorize; /* NULL: everyone */
	void *arg;                 /* given to handlers via aio_rpc_call_arg */
	size_t recv_max;           /* 0: AIO_RPC_RECV_MAX_DEFAULT */
	unsigned pool;             /* contexts waiting for requests; 0: 16 */
	struct aio_tls_opts tls;   /* used for tls+tcp:// */
	const char *name;          /* in the log ("agents"); NULL: the URL */
	size_t max_connections;    /* open at once; 0: no cap */
	uint64_t idle_ms;          /* close a connection with no call for this long; 0: never */
};

int aio_rpc_server_start(const struct aio_rpc_server_opts *opts, struct aio_rpc_server **ret_srv,
                         char *err, size_t errlen);
/* Stops listening; calls still held fail when their owners answer them. */
void aio_rpc_server_close(struct aio_rpc_server *srv);
/* Closes, then waits until every held call was answered, and frees. */
void aio_rpc_server_free(struct aio_rpc_server *srv);
/* Its connections (counts for /metrics). */
struct aio_pipes *aio_rpc_server_pipes(struct aio_rpc_server *srv);
/* The port a tcp:// listener bound (useful with port 0). */
int aio_rpc_server_port(struct aio_rpc_server *srv);

/* How a local call is answered: its status, message (NULL: none) and the
 * packed reply (NULL unless AIO_OK), valid during the callback. */
typedef void (*aio_rpc_local_done)(void *arg, int status, const char *message,
                                   const ProtobufCBinaryData *payload);
/* Serves method ("FleetStatus") of the service as if a peer called it with
 * token, through the same checks, authorization and handler: another
 * front end of the process (HTTP) speaks the same protocol. peer names the
 * caller in the log and the audit ("127.0.0.1 (web)"). done runs once, now
 * or later from any thread. */
int aio_rpc_server_call_local(struct aio_rpc_server *srv, const char *method, const char *token,
                              const char *peer, uint64_t deadline_ms, const ProtobufCMessage *in,
                              aio_rpc_local_done done, void *arg);
void *aio_rpc_call_arg(struct aio_rpc_call *call);
/* Valid until the call is answered; never NULL (empty when absent). */
const Aioctl__V1__Credentials *aio_rpc_call_creds(struct aio_rpc_call *call);
const char *aio_rpc_call_method(struct aio_rpc_call *call);
/* The caller's deadline in Unix ms, 0 if none. */
uint64_t aio_rpc_call_deadline(struct aio_rpc_call *call);
/* A pointer the authorize callback leaves for the handler (who called);
 * NULL unless set. */
void aio_rpc_call_set_user(struct aio_rpc_call *call, void *user);
void *aio_rpc_call_user(struct aio_rpc_call *call);
/* The caller's address ("127.0.0.1"), or "?". */
void aio_rpc_call_peer(struct aio_rpc_call *call, char *buf, size_t len);
/* Takes the input message from the call: the server will not free it when
 * the handler returns; the caller frees it with
 * protobuf_c_message_free_unpacked. Valid only inside the handler. */
ProtobufCMessage *aio_rpc_call_take_input(struct aio_rpc_call *call);
/* Sets the status sent when the closure is called with NULL. */
/* Fails the call and answers it at once: closure(NULL, data). */
#define AIO_RPC_REFUSE(data, closure, status, ...)                \
	do {                                                      \
		aio_rpc_call_fail((data), (status), __VA_ARGS__); \
		(closure)(NULL, (data));                          \
	} while (0)
void aio_rpc_call_fail(struct aio_rpc_call *call, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
