#include "tls.h"

#include "fileio.h"

#include <errno.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_file(const char *what, const char *path, char *err, size_t errlen)
{
	if (!path || !*path) {
		snprintf(err, errlen, "TLS needs %s", what);
		return -EINVAL;
	}
	if (access(path, R_OK) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
		return -e;
	}
	return 0;
}

/* PEM files are small; a larger one is not a certificate or key. */
#define PEM_FILE_MAX (256 * 1024)

/* nng takes a certificate and a key that do not belong together and
 * fails later, at every handshake; say so at start instead. */
static int check_pair(const char *cert_path, const char *cert, const char *key_path,
                      const char *key, char *err, size_t errlen)
{
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	int r = -EINVAL;

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&pk);
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert, strlen(cert) + 1) != 0)
		snprintf(err, errlen, "certificate %s: not a PEM certificate", cert_path);
	else if (mbedtls_pk_parse_key(&pk, (const unsigned char *)key, strlen(key) + 1, NULL, 0) !=
	         0)
		snprintf(err, errlen, "key %s: not a PEM private key (or encrypted)", key_path);
	else if (mbedtls_pk_check_pair(&crt.pk, &pk) != 0)
		snprintf(err, errlen, "certificate %s and key %s do not belong together", cert_path,
		         key_path);
	else
		r = 0;
	mbedtls_pk_free(&pk);
	mbedtls_x509_crt_free(&crt);
	return r;
}

static int load_own_cert(nng_tls_config *cfg, const struct aio_tls_opts *opts, char *err,
                         size_t errlen)
{
	const char *key_path = opts->key_file ? opts->key_file : opts->cert_file;
	char *cert = NULL, *key = NULL;
	int r, rv = NNG_EINVAL;

	r = aio_file_read_all(opts->cert_file, PEM_FILE_MAX, &cert, NULL);
	if (r < 0) {
		snprintf(err, errlen, "certificate %s: %s", opts->cert_file, strerror(-r));
		goto out_free;
	}
	r = aio_file_read_all(key_path, PEM_FILE_MAX, &key, NULL);
	if (r < 0) {
		snprintf(err, errlen, "key %s: %s", key_path, strerror(-r));
		goto out_free;
	}
	if (check_pair(opts->cert_file, cert, key_path, key, err, errlen) < 0)
		goto out_free;
	rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
	if (rv != 0)
		snprintf(err, errlen, "certificate %s with key %s: %s (not PEM, or not a pair?)",
		         opts->cert_file, key_path, nng_strerror(rv));
out_free:
	free(cert);
	free(key);
	return rv;
}

int aio_tls_config_new(const struct aio_tls_opts *opts, bool server,
                       struct nng_tls_config **ret_cfg, char *err, size_t errlen)
{
	nng_tls_config *cfg;
	int r, rv;

	if ((!opts->no_peer_cert &&
	     (r = check_file("a CA file (--tls-ca)", opts->ca_file, err, errlen)) < 0) ||
	    (r = check_file("a certificate (--tls-cert)", opts->cert_file, err, errlen)) < 0)
		return r;
	if (opts->key_file &&
	    (r = check_file("a key (--tls-key)", opts->key_file, err, errlen)) < 0)
		return r;
	if (!server && (!opts->server_name || !*opts->server_name)) {
		/* nng 1.5 skips the host-name check without one */
		snprintf(err, errlen, "TLS needs the server name to verify (--tls-server-name)");
		return -EINVAL;
	}
	rv = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
	if (rv != 0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		return -ENOMEM;
	}
	rv = nng_tls_config_auth_mode(cfg, opts->no_peer_cert ? NNG_TLS_AUTH_MODE_NONE
	                                                      : NNG_TLS_AUTH_MODE_REQUIRED);
	if (rv == 0 && !opts->no_peer_cert &&
	    (rv = nng_tls_config_ca_file(cfg, opts->ca_file)) != 0) {
		snprintf(err, errlen, "CA file %s: %s", opts->ca_file, nng_strerror(rv));
		goto out_free;
	}
	if (rv == 0 && (rv = load_own_cert(cfg, opts, err, errlen)) != 0)
		goto out_free;
	if (rv == 0 && !server && (rv = nng_tls_config_server_name(cfg, opts->server_name)) != 0) {
		snprintf(err, errlen, "server name %s: %s", opts->server_name, nng_strerror(rv));
		goto out_free;
	}
	if (rv != 0)
		goto out_free;
	*ret_cfg = cfg;
	return 0;

out_free:
	nng_tls_config_free(cfg);
	return -EINVAL;
}
