/* Connecting to the server, turning statuses into exit codes, and the
 * parts of requests several commands share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileio.h"
#include "names.h"

#define TOKEN_FILE_MAX 4096

static int read_token(struct cli *c, char **ret_token)
{
	char *text = NULL;
	int r;

	*ret_token = NULL;
	r = aio_file_read_all(c->token_file, TOKEN_FILE_MAX, &text, NULL);
	if (r == -ENOENT && !c->token_file_explicit)
		return 0; /* no local server's token: the server will say so */
	if (r < 0) {
		fprintf(stderr, "aioctl: --token-file %s: %s\n", c->token_file, strerror(-r));
		return r == -EACCES ? CLI_EXIT_DENIED : CLI_EXIT_USAGE;
	}
	text[strcspn(text, "\r\n")] = '\0';
	*ret_token = text;
	return 0;
}

static int connect_server(struct cli *c)
{
	struct aio_rpc_client_opts o = { 0 };
	char err[512], url[600], *token = NULL;
	int r;

	if ((r = cli_context_apply(c)) != 0 || (r = read_token(c, &token)) != 0)
		return r;
	/* "127.0.0.1:7701" and "aio.example.net:7701" mean tcp:// */
	snprintf(url, sizeof(url), "%s%s", strstr(c->server, "://") ? "" : "tcp://", c->server);
	o.url = url;
	o.wait_connect = true;
	o.connect_timeout_ms = c->timeout_ms; /* --timeout covers connecting too */
	/* a fleet status of 10,000 hosts is a few MB; this bound is ours */
	o.recv_max = CLI_RECV_MAX;
	o.admin_token = token;
	o.tls = c->tls;
	r = aio_rpc_client_open(&o, &c->rpc, err, sizeof(err));
	free(token);
	if (r == -EINVAL) {
		fprintf(stderr, "aioctl: --server %s: %s\n", c->server, err);
		return CLI_EXIT_USAGE;
	}
	if (r < 0) {
		if (strncmp(c->server, "tls+", 4) == 0 && r != -ECONNREFUSED)
			fprintf(stderr,
			        "aioctl: %s (TLS handshake refused: check --tls-ca, "
			        "--tls-cert/--tls-key and --tls-server-name)\n",
			        err);
		else
			fprintf(stderr,
			        "aioctl: %s (is aio-server running there? set --server URL)\n",
			        err);
		return CLI_EXIT_UNREACHABLE;
	}
	return 0;
}

static int exit_code(int status)
{
	switch (status) {
	case AIO_OK:
		return CLI_EXIT_OK;
	case AIO_NOT_FOUND:
		return CLI_EXIT_NOT_FOUND;
	case AIO_UNAUTHENTICATED:
	case AIO_PERMISSION_DENIED:
		return CLI_EXIT_DENIED;
	case AIO_DEADLINE_EXCEEDED:
	case AIO_UNAVAILABLE:
		return CLI_EXIT_UNREACHABLE;
	case AIO_INVALID_ARGUMENT:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_FAILED;
	}
}

int cli_call(struct cli *c, const char *method, const ProtobufCMessage *in,
             ProtobufCMessage **ret_out)
{
	struct aio_rpc_status st;
	int code, r;

	if (!c->rpc && (r = connect_server(c)) != 0)
		return r;
	code = aio_rpc_invoke(c->rpc, &aioctl__v1__admin__descriptor, method, in, c->timeout_ms,
	                      false, ret_out, &st);
	if (code == AIO_OK)
		return 0;
	fprintf(stderr, "aioctl: %s", st.message);
	if (code == AIO_UNAUTHENTICATED)
		fprintf(stderr, " (the token is in the server's state dir, admin.token)");
	fputc('\n', stderr);
	return exit_code(code);
}

int cli_selector(const struct cli *c, struct cli_selector *ret)
{
	aioctl__v1__selector__init(&ret->sel);
	for (size_t i = 0; i < c->n_select; i++) {
		if (aio_label_parse(c->select[i], ret->keys[i], sizeof(ret->keys[i]),
		                    ret->values[i], sizeof(ret->values[i])) < 0) {
			fprintf(stderr,
			        "aioctl: --select %s: not KEY=VALUE (example: --select rack=r12)\n",
			        c->select[i]);
			return -1;
		}
		aioctl__v1__label__init(&ret->labels[i]);
		ret->labels[i].key = ret->keys[i];
		ret->labels[i].value = ret->values[i];
		ret->lp[i] = &ret->labels[i];
	}
	ret->sel.labels = ret->lp;
	ret->sel.n_labels = c->n_select;
	ret->sel.hosts_glob = (char *)c->hosts_glob;
	return 0;
}
