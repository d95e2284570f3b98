/* The web listener: the HTTP JSON API under /api/v1/ and the console under
 * /ui/. Every API call is an Admin call made in the process
 * (aio_rpc_server_call_local), so the token, role, audit and bounds are
 * those of aioctl's; the answers are the JSON aioctl --output json prints. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

struct aio_rpc_server;
struct nng_http_server;
struct server_config;
struct server_creds;

#define WEB_BODY_MAX      (64 * 1024) /* a request body */
/* what nng reads before refusing with its own 400: past WEB_BODY_MAX up to
 * here, the answer is a JSON 413 */
#define WEB_BODY_READ_MAX (1024 * 1024)
#define WEB_URI_MAX       2048 /* path and query */
#define WEB_INFLIGHT_MAX  64   /* API calls being answered at once */

struct server_web {
	struct aio_rpc_server *admin; /* the Admin service the calls go to */
	struct server_creds *creds;
	const struct server_config *conf;
	struct nng_http_server *http;
	atomic_uint inflight;
	atomic_uint_fast64_t requests_total;
	char url[512];
};

/* Serves on url (admin, creds and conf set) (http:// on loopback, or https:// with the server's
 * certificate); shares the listener when url is http-listen's. */
int server_web_start(struct server_web *w, const char *url);
void server_web_stop(struct server_web *w);
/* Whether a web URL may be served: https, or plain HTTP on loopback, or
 * insecure. */
bool server_web_url_safe(const char *url);
