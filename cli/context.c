/* The client config: named servers ("contexts"), so that remote TLS use is
 * one --context, not four flags on every call. An ini file (libinih),
 * $AIOCTL_CONFIG or ~/.config/aioctl/config:
 *
 *   context = prod              # used when no --context is given
 *   [context prod]
 *   server = tls+tcp://aio.example.net:7701
 *   token-file = /home/alice/.config/aioctl/prod.token
 *   tls-ca = ... / tls-cert = ... / tls-key = ... / tls-server-name = ...
 *
 * A flag or AIOCTL_SERVER / AIOCTL_TOKEN_FILE wins over the context. */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct load {
	struct cli *c;
	const char *want; /* the context asked for */
	bool found;
	char dflt[CLI_CONTEXT_NAME_MAX + 1];
	char err[300];
	/* the wanted context's values, until they are taken */
	char *v[6];
};

static const char *const keys[6] = { "server",   "token-file", "tls-ca",
	                             "tls-cert", "tls-key",    "tls-server-name" };

static int on_line(void *arg, const char *section, const char *name, const char *value)
{
	struct load *l = arg;
	const char *ctx = !strncmp(section, "context ", 8) ? section + 8 : NULL;

	if (!*section) {
		if (strcmp(name, "context") != 0 || strlen(value) > CLI_CONTEXT_NAME_MAX) {
			snprintf(l->err, sizeof(l->err),
			         "%s: only 'context = NAME' goes before the first [context NAME]",
			         name);
			return 0;
		}
		snprintf(l->dflt, sizeof(l->dflt), "%s", value);
		return 1;
	}
	if (!ctx) {
		snprintf(l->err, sizeof(l->err), "[%s]: sections are [context NAME]", section);
		return 0;
	}
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(name, keys[i]) != 0)
			continue;
		if (l->want && !strcmp(ctx, l->want)) {
			l->found = true;
			free(l->v[i]);
			if (!(l->v[i] = strdup(value)))
				return 0;
		}
		return 1;
	}
	snprintf(l->err, sizeof(l->err), "%s: not a key (use %s, %s, %s, %s, %s or %s)", name,
	         keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]);
	return 0;
}

static int load(struct load *l, const char *path)
{
	FILE *f = fopen(path, "r");
	int r;

	if (!f)
		return -errno;
	r = ini_parse_file(f, on_line, l);
	fclose(f);
	return r;
}

int cli_context_apply(struct cli *c)
{
	const char *env = getenv("AIOCTL_CONFIG"), *home = getenv("HOME");
	char path[1024];
	struct load l = { .c = c, .want = c->context };
	const char **to[6] = { &c->server,        &c->token_file,   &c->tls.ca_file,
		               &c->tls.cert_file, &c->tls.key_file, &c->tls.server_name };
	bool given[6] = { c->server_given,         c->token_file_explicit,
		          c->tls.ca_file != NULL,  c->tls.cert_file != NULL,
		          c->tls.key_file != NULL, c->tls.server_name != NULL };
	int r;

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.config/aioctl/config", home);
	else
		path[0] = '\0';
	r = path[0] ? load(&l, path) : -ENOENT;
	if (r == -ENOENT && !c->context && !(env && *env))
		return 0; /* no config: the flags and defaults */
	if (r < 0 || r > 0 || l.err[0]) {
		if (r < 0)
			fprintf(stderr, "aioctl: %s: %s\n", path, strerror(-r));
		else
			fprintf(stderr, "aioctl: %s: %s\n", path,
			        l.err[0] ? l.err : "not an ini file");
		r = CLI_EXIT_USAGE;
		goto out;
	}
	if (!c->context && l.dflt[0]) { /* the file's own choice: read again for it */
		l.want = c->context = c->context_buf;
		snprintf(c->context_buf, sizeof(c->context_buf), "%s", l.dflt);
		load(&l, path);
	}
	if (c->context && !l.found) {
		fprintf(stderr, "aioctl: --context %s: no [context %s] in %s\n", c->context,
		        c->context, path);
		r = CLI_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < 6; i++) {
		if (l.v[i] && !given[i]) {
			*to[i] = c->owned[i] = l.v[i];
			l.v[i] = NULL;
			if (i == 1)
				c->token_file_explicit = true;
		}
	}
	r = 0;
out:
	for (size_t i = 0; i < 6; i++)
		free(l.v[i]);
	return r;
}
