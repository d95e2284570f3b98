/* What the RPC client and server share: status codes (gRPC's numbers, the
 * generated StatusCode enum), limits, and packing into nng messages. */
#pragma once

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "aioctl.pb-c.h"

enum aio_status {
	AIO_OK = AIOCTL__V1__STATUS_CODE__OK,
	AIO_CANCELLED = AIOCTL__V1__STATUS_CODE__CANCELLED,
	AIO_UNKNOWN = AIOCTL__V1__STATUS_CODE__UNKNOWN,
	AIO_INVALID_ARGUMENT = AIOCTL__V1__STATUS_CODE__INVALID_ARGUMENT,
	AIO_DEADLINE_EXCEEDED = AIOCTL__V1__STATUS_CODE__DEADLINE_EXCEEDED,
	AIO_NOT_FOUND = AIOCTL__V1__STATUS_CODE__NOT_FOUND,
	AIO_ALREADY_EXISTS = AIOCTL__V1__STATUS_CODE__ALREADY_EXISTS,
	AIO_PERMISSION_DENIED = AIOCTL__V1__STATUS_CODE__PERMISSION_DENIED,
	AIO_RESOURCE_EXHAUSTED = AIOCTL__V1__STATUS_CODE__RESOURCE_EXHAUSTED,
	AIO_FAILED_PRECONDITION = AIOCTL__V1__STATUS_CODE__FAILED_PRECONDITION,
	AIO_ABORTED = AIOCTL__V1__STATUS_CODE__ABORTED,
	AIO_OUT_OF_RANGE = AIOCTL__V1__STATUS_CODE__OUT_OF_RANGE,
	AIO_UNIMPLEMENTED = AIOCTL__V1__STATUS_CODE__UNIMPLEMENTED,
	AIO_INTERNAL = AIOCTL__V1__STATUS_CODE__INTERNAL,
	AIO_UNAVAILABLE = AIOCTL__V1__STATUS_CODE__UNAVAILABLE,
	AIO_DATA_LOSS = AIOCTL__V1__STATUS_CODE__DATA_LOSS,
	AIO_UNAUTHENTICATED = AIOCTL__V1__STATUS_CODE__UNAUTHENTICATED,
};

/* Bounds on what a peer may send. */
#define AIO_RPC_RECV_MAX_DEFAULT   (1024 * 1024) /* bytes per message */
#define AIO_RPC_METHOD_MAX         128           /* "aioctl.v1.Agent/Report" */
#define AIO_RPC_STATUS_MESSAGE_MAX 512
#define AIO_RPC_CRED_MAX           256 /* each credential string */

/* "UNAUTHENTICATED"; unknown numbers give "STATUS_<n>" in a static buffer. */
const char *aio_status_name(int status);
/* "failed", "hotplug-failed", "degraded", "multipath", "guard-raised",
 * "guard-refused", "guard-warned" or "unknown". */
const char *aio_event_kind_name(int kind);
/* Whether an event of kind is an AIO error (counted in errors, alerts and
 * trends): all but the guard's raised and warned. */
bool aio_event_is_error(int kind);
/* "single", "double" or "unknown". */
const char *aio_counting_name(int mode);
/* Packs m into a new nng message; the caller owns it (nng_msg_free). */
int aio_rpc_pack(const ProtobufCMessage *m, nng_msg **ret_msg);
/* Packs m into a malloc'd buffer for an envelope's payload field; the
 * caller frees data. */
int aio_rpc_pack_payload(const ProtobufCMessage *m, ProtobufCBinaryData *ret_payload);
/* A deep copy of m (pack, then unpack); free with
 * protobuf_c_message_free_unpacked. NULL when out of memory. */
ProtobufCMessage *aio_rpc_dup(const ProtobufCMessage *m);
/* Maps an nng error to an errno for callers that speak errno. */
int aio_rpc_errno(int nng_err);
