/* TLS settings for tls+tcp:// endpoints (mutual certificates). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct nng_tls_config;

struct aio_tls_opts {
	const char *ca_file;     /* peers must chain to this CA */
	const char *cert_file;   /* our certificate, PEM, key may follow */
	const char *key_file;    /* our key, PEM; NULL: inside cert_file */
	const char *server_name; /* clients: name to verify, always set */
	bool no_peer_cert;       /* servers: peers show none (browsers); no ca_file */
};

/* Builds an nng TLS config for a server (server=true) or client. Checks
 * every file is readable first so errors name the file. The caller frees
 * with nng_tls_config_free. */
int aio_tls_config_new(const struct aio_tls_opts *opts, bool server,
                       struct nng_tls_config **ret_cfg, char *err, size_t errlen);
