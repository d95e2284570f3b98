/* aioctl enroll / token / host revoke: who may talk to the server. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "names.h"

int cli_enroll_create(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__EnrollCreateRequest in = AIOCTL__V1__ENROLL_CREATE_REQUEST__INIT;
	Aioctl__V1__EnrollCreateReply *rep = NULL;
	char when[40];
	int r;

	if (c->host && !aio_host_name_valid(c->host)) {
		fprintf(stderr, "aioctl: --host %s: not a host name\n", c->host);
		return CLI_EXIT_USAGE;
	}
	in.host = (char *)c->host;
	if (c->expires_ms) {
		in.has_expires_ms = true;
		in.expires_ms = c->expires_ms;
	}
	if ((r = cli_call(c, "EnrollCreate", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	aio_time_format_rfc3339(rep->expires_ms, when, sizeof(when));
	if (c->format == CLI_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "token", cli_json_text(rep->token));
		json_object_set_new(o, "host", c->host ? cli_json_text(c->host) : json_null());
		json_object_set_new(o, "expires", cli_json_text(when));
		r = cli_json_print(o, stdout) < 0 ? CLI_EXIT_FAILED : 0;
	} else {
		printf("%s\n", rep->token);
		fprintf(stderr,
		        "One-time enrollment token for %s, valid until %s. Give it to the "
		        "agent once:\n  aio-agent --enroll-token-file FILE   (or enroll-token "
		        "= ... in agent.conf)\n",
		        c->host ? c->host : "any host", when);
	}
	aioctl__v1__enroll_create_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_token_create(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__TokenCreateRequest in = AIOCTL__V1__TOKEN_CREATE_REQUEST__INIT;
	Aioctl__V1__TokenCreateReply *rep = NULL;
	int r;

	if (!c->name || !c->role) {
		fprintf(stderr, "aioctl: token create needs --name NAME and --role "
		                "viewer|operator|admin\n");
		return CLI_EXIT_USAGE;
	}
	in.name = (char *)c->name;
	in.role = (char *)c->role;
	if ((r = cli_call(c, "TokenCreate", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	if (c->format == CLI_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "name", cli_json_text(c->name));
		json_object_set_new(o, "role", cli_json_text(c->role));
		json_object_set_new(o, "token", cli_json_text(rep->token));
		r = cli_json_print(o, stdout) < 0 ? CLI_EXIT_FAILED : 0;
	} else {
		printf("%s\n", rep->token);
		fprintf(stderr,
		        "Token %s (%s). Shown once; the server keeps only its hash. Put it "
		        "in a file (mode 0600) for --token-file.\n",
		        c->name, c->role);
	}
	aioctl__v1__token_create_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_token_list(struct cli *c, int argc, char **argv)
{
	enum { NAME, ROLE, CREATED, REVOKED, N_COLS };
	static const struct cli_column cols[N_COLS] = {
		[NAME] = CLI_COL("NAME", "name", CLI_IN_ALL),
		[ROLE] = CLI_COL("ROLE", "role", CLI_IN_ALL),
		[CREATED] = CLI_COL("CREATED", "created", CLI_IN_ALL),
		[REVOKED] = CLI_COL("REVOKED", "revoked", CLI_IN_ALL),
	};
	Aioctl__V1__TokenListRequest in = AIOCTL__V1__TOKEN_LIST_REQUEST__INIT;
	Aioctl__V1__TokenListReply *rep = NULL;
	struct cli_rows rows;
	int r;

	if ((r = cli_call(c, "TokenList", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_tokens);
	for (size_t i = 0; i < rep->n_tokens && cli_rows_add(&rows) == 0; i++) {
		cli_cell_text(&rows, NAME, rep->tokens[i]->name);
		cli_cell_text(&rows, ROLE, rep->tokens[i]->role);
		cli_cell_time(&rows, CREATED, rep->tokens[i]->created_ms);
		cli_cell_time(&rows, REVOKED, rep->tokens[i]->revoked_ms);
	}
	if (cli_rows_print(&rows, "tokens", NULL, stdout) < 0)
		r = CLI_EXIT_FAILED;
	cli_rows_done(&rows);
	aioctl__v1__token_list_reply__free_unpacked(rep, NULL);
	return r;
}

static int by_name(struct cli *c, const char *method, const char *name, const char *done)
{
	Aioctl__V1__NameRequest in = AIOCTL__V1__NAME_REQUEST__INIT;
	ProtobufCMessage *rep = NULL;
	int r;

	in.name = (char *)name;
	if ((r = cli_call(c, method, &in.base, &rep)) != 0)
		return r;
	protobuf_c_message_free_unpacked(rep, NULL);
	if (c->format == CLI_TABLE)
		printf("%s %s\n", name, done);
	return 0;
}

int cli_token_revoke(struct cli *c, int argc, char **argv)
{
	return by_name(c, "TokenRevoke", argv[0], "revoked: it is refused from now on");
}

int cli_host_remove(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__HostRemoveRequest in = AIOCTL__V1__HOST_REMOVE_REQUEST__INIT;
	ProtobufCMessage *rep = NULL;
	int r;

	in.name = argv[0];
	in.has_force = c->force;
	in.force = c->force;
	if ((r = cli_call(c, "HostRemove", &in.base, &rep)) != 0)
		return r;
	protobuf_c_message_free_unpacked(rep, NULL);
	if (c->format == CLI_TABLE)
		printf("%s removed: its history, events and alerts are gone; a new enrollment "
		       "brings it back as a new host\n",
		       argv[0]);
	return 0;
}

int cli_host_revoke(struct cli *c, int argc, char **argv)
{
	return by_name(c, "HostRevoke", argv[0],
	               "revoked: its agent is refused until it enrolls again");
}
