/* libFuzzer: the RPC envelope, then the payload of whichever method it
 * names, in either service, then the server's own checks of agent
 * messages. Nothing a peer sends may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void payload(const ProtobufCServiceDescriptor *svc, const Aioctl__V1__Request *req)
{
	size_t n = strlen(svc->name);
	const ProtobufCMethodDescriptor *m;
	ProtobufCMessage *in;
	size_t cleaned;

	if (strncmp(req->method, svc->name, n) != 0 || req->method[n] != '/')
		return;
	if (!(m = protobuf_c_service_descriptor_get_method_by_name(svc, req->method + n + 1)))
		return;
	in = protobuf_c_message_unpack(m->input, NULL, req->payload.len, req->payload.data);
	if (!in)
		return;
	if (m->input == &aioctl__v1__hello_request__descriptor)
		server_agent_check_hello((Aioctl__V1__HelloRequest *)in);
	else if (m->input == &aioctl__v1__report_request__descriptor)
		server_agent_check_report((Aioctl__V1__ReportRequest *)in, 1700000000000ULL,
		                          &cleaned);
	protobuf_c_message_free_unpacked(in, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Aioctl__V1__Request *req = aioctl__v1__request__unpack(NULL, size, data);

	if (!req)
		return 0;
	payload(&aioctl__v1__agent__descriptor, req);
	payload(&aioctl__v1__admin__descriptor, req);
	aioctl__v1__request__free_unpacked(req, NULL);
	return 0;
}
