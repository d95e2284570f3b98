#include "rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const status_names[] = {
	[AIO_OK] = "OK",
	[AIO_CANCELLED] = "CANCELLED",
	[AIO_UNKNOWN] = "UNKNOWN",
	[AIO_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[AIO_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[AIO_NOT_FOUND] = "NOT_FOUND",
	[AIO_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[AIO_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[AIO_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[AIO_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[AIO_ABORTED] = "ABORTED",
	[AIO_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[AIO_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[AIO_INTERNAL] = "INTERNAL",
	[AIO_UNAVAILABLE] = "UNAVAILABLE",
	[AIO_DATA_LOSS] = "DATA_LOSS",
	[AIO_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *aio_status_name(int status)
{
	static _Thread_local char other[32];

	if (status >= 0 && (size_t)status < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[status];
	snprintf(other, sizeof(other), "STATUS_%d", status);
	return other;
}

const char *aio_event_kind_name(int kind)
{
	switch (kind) {
	case AIOCTL__V1__EVENT_KIND__EVENT_FAILED:
		return "failed";
	case AIOCTL__V1__EVENT_KIND__EVENT_HOTPLUG_FAILED:
		return "hotplug-failed";
	case AIOCTL__V1__EVENT_KIND__EVENT_DEGRADED:
		return "degraded";
	case AIOCTL__V1__EVENT_KIND__EVENT_MULTIPATH:
		return "multipath";
	case AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED:
		return "guard-raised";
	case AIOCTL__V1__EVENT_KIND__EVENT_GUARD_REFUSED:
		return "guard-refused";
	case AIOCTL__V1__EVENT_KIND__EVENT_GUARD_WARNED:
		return "guard-warned";
	default:
		return "unknown";
	}
}

bool aio_event_is_error(int kind)
{
	/* what the guard let through, or made room for, did not fail */
	return kind != AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED &&
	       kind != AIOCTL__V1__EVENT_KIND__EVENT_GUARD_WARNED;
}

const char *aio_counting_name(int mode)
{
	switch (mode) {
	case AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE:
		return "single";
	case AIOCTL__V1__COUNTING_MODE__COUNTING_DOUBLE:
		return "double";
	default:
		return "unknown";
	}
}

int aio_rpc_pack(const ProtobufCMessage *m, nng_msg **ret_msg)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	nng_msg *msg;

	if (nng_msg_alloc(&msg, len) != 0)
		return -ENOMEM;
	protobuf_c_message_pack(m, nng_msg_body(msg));
	*ret_msg = msg;
	return 0;
}

int aio_rpc_pack_payload(const ProtobufCMessage *m, ProtobufCBinaryData *ret_payload)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	ret_payload->data = buf;
	ret_payload->len = len;
	return 0;
}

ProtobufCMessage *aio_rpc_dup(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t stack[512], *buf = len <= sizeof(stack) ? stack : malloc(len);
	ProtobufCMessage *copy;

	if (!buf)
		return NULL;
	protobuf_c_message_pack(m, buf);
	copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	if (buf != stack)
		free(buf);
	return copy;
}

int aio_rpc_errno(int nng_err)
{
	switch (nng_err) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return -ECANCELED;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_EADDRINUSE:
		return -EADDRINUSE;
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
		return -EINVAL;
	case NNG_ENOTSUP:
		return -ENOTSUP;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		return -ECONNRESET;
	case NNG_EPERM:
		return -EPERM;
	case NNG_EUNREACHABLE:
		return -EHOSTUNREACH;
	case NNG_ENOENT:
		return -ENOENT;
	default:
		return -EIO;
	}
}
