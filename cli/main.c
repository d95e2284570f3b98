/* aioctl: the operator's console for a fleet's Linux AIO limits. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "flags.h"

/* NOUN VERB; or NOUN alone when it has a "list" verb ("aioctl errors") or
 * just one command ("aioctl history HOST"). *ret_verb_given says whether
 * a verb was consumed. */
static const struct cli_command *find_command(const char *noun, const char *verb,
                                              bool *ret_verb_given)
{
	const struct cli_command *fallback = NULL, *only = NULL;
	size_t n_verbs = 0;

	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++) {
		if (strcmp(cmd->noun, noun) != 0)
			continue;
		n_verbs++;
		only = cmd;
		if (verb && strcmp(cmd->verb, verb) == 0) {
			*ret_verb_given = true;
			return cmd;
		}
		if (strcmp(cmd->verb, "list") == 0)
			fallback = cmd;
	}
	if (n_verbs == 1)
		fallback = only;
	if (fallback && (!verb || verb[0] == '-' || n_verbs == 1)) {
		*ret_verb_given = false;
		return fallback;
	}
	if (!n_verbs)
		fprintf(stderr, "aioctl: unknown command '%s' (see aioctl --help)\n", noun);
	else
		fprintf(stderr, "aioctl: '%s %s' is not a command (see aioctl --help)\n", noun,
		        verb ? verb : "");
	return NULL;
}

static int run(struct cli *c, int argc, char **argv)
{
	const struct cli_command *cmd;
	bool verb_given;
	int r, nargs, skip;

	if ((r = cli_flags_parse(c, NULL, argc, argv, true)) != 0)
		return r < 0 ? 0 : r;
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[0], "completion") == 0) {
		if (argc != 2 || strcmp(argv[1], "bash") != 0) {
			fprintf(stderr, "aioctl: usage: aioctl completion bash\n");
			return CLI_EXIT_USAGE;
		}
		cli_completion_bash(stdout);
		return 0;
	}
	if (!(cmd = find_command(argv[0], argc > 1 ? argv[1] : NULL, &verb_given)))
		return CLI_EXIT_USAGE;
	/* the noun or verb stands where getopt expects the program name */
	skip = verb_given ? 1 : 0;
	if ((r = cli_flags_parse(c, cmd, argc - skip, argv + skip, false)) != 0)
		return r < 0 ? 0 : r;
	nargs = argc - skip - optind;
	if (c->format == CLI_HTML && cmd->run != cli_report_trend) {
		fprintf(stderr, "aioctl: --output html: only for report trend\n");
		return CLI_EXIT_USAGE;
	}
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "aioctl: usage: aioctl %s %s %s\n", cmd->noun, cmd->verb,
		        cmd->args);
		return CLI_EXIT_USAGE;
	}
	return cmd->run(c, nargs, argv + skip + optind);
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	const char *env;
	int r;

	c.server = (env = getenv("AIOCTL_SERVER")) && *env ? env : CLI_DEFAULT_SERVER;
	c.token_file = CLI_DEFAULT_TOKEN_FILE;
	if ((env = getenv("AIOCTL_TOKEN_FILE")) && *env) {
		c.token_file = env;
		c.token_file_explicit = true;
	}
	c.timeout_ms = 10000;
	r = run(&c, argc, argv);
	aio_rpc_client_free(c.rpc);
	/* no nng_fini(): after a failed TLS handshake nng 1.5 may still be
	 * tearing the connection down on its own threads, and finishing the
	 * library under them panics ("pthread_mutex_lock: Invalid argument",
	 * about one run in 50). The exit reclaims it all. */
	return r;
}
