/* aioctl: the operator's console for a fleet's Linux AIO limits. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	if (n_verbs && (!verb || !strcmp(verb, "--help") || !strcmp(verb, "-h")))
		return NULL; /* the caller lists the verbs */
	if (!n_verbs)
		fprintf(stderr, "aioctl: unknown command '%s' (see aioctl --help)\n", noun);
	else
		fprintf(stderr, "aioctl: '%s %s' is not a command (see aioctl --help)\n", noun,
		        verb ? verb : "");
	return NULL;
}

/* --watch: the command again every c->watch_ms until interrupted; on a
 * terminal each time redrawn in place under a header, otherwise appended
 * (a JSON document or a table per turn). A server that went away is said
 * and tried again; a command that cannot work (not found, denied) stops. */
static int watch(struct cli *c, const struct cli_command *cmd, int argc, char **argv)
{
	bool tty = isatty(STDOUT_FILENO);

	for (unsigned turn = 0;; turn++) {
		struct timespec ts = { (time_t)(c->watch_ms / 1000),
			               (long)(c->watch_ms % 1000) * 1000000 };
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		int r;

		if (tty) {
			localtime_r(&now, &tm);
			strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
			printf("\033[H\033[2JEvery %.1fs: aioctl %s %s%*s%s\n\n",
			       (double)c->watch_ms / 1000.0, cmd->noun, cmd->verb, 8, "", stamp);
		} else if (turn && c->format == CLI_TABLE) {
			putchar('\n');
		}
		r = cmd->run(c, argc, argv);
		fflush(stdout);
		if (r == CLI_EXIT_USAGE || r == CLI_EXIT_NOT_FOUND || r == CLI_EXIT_DENIED)
			return r;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
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
	if (strcmp(argv[0], "help") == 0) {
		bool given;

		cmd = NULL;
		if (argc == 1) {
			cli_usage(stdout);
			return 0;
		}
		if (argc == 2 && cli_noun_usage(argv[1], stdout))
			return 0;
		if (argc == 3 && (cmd = find_command(argv[1], argv[2], &given)) && given) {
			cli_command_usage(cmd, stdout);
			return 0;
		}
		if (argc > 3 || !cmd)
			fprintf(stderr, "aioctl: usage: aioctl help [NOUN [VERB]]\n");
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
	if (!(cmd = find_command(argv[0], argc > 1 ? argv[1] : NULL, &verb_given))) {
		/* "aioctl fleet", "aioctl fleet --help": the noun's verbs */
		if ((argc == 1 ||
		     (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))) &&
		    cli_noun_usage(argv[0], stdout))
			return 0;
		return CLI_EXIT_USAGE;
	}
	/* the noun or verb stands where getopt expects the program name */
	skip = verb_given ? 1 : 0;
	if ((r = cli_flags_parse(c, cmd, argc - skip, argv + skip, false)) != 0)
		return r < 0 ? 0 : r;
	nargs = argc - skip - optind;
	if (c->format == CLI_CSV && !cli_command_listed(cli_csv_commands, cmd)) {
		fprintf(stderr,
		        "aioctl: %s %s: no CSV output, it prints no rows (use --output json)\n",
		        cmd->noun, cmd->verb);
		return CLI_EXIT_USAGE;
	}
	if (c->format == CLI_HTML && cmd->run != cli_report_trend) {
		fprintf(stderr, "aioctl: --output html: only for report trend\n");
		return CLI_EXIT_USAGE;
	}
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "aioctl: usage: aioctl %s %s %s\n", cmd->noun, cmd->verb,
		        cmd->args);
		return CLI_EXIT_USAGE;
	}
	cli_no_headers = c->no_headers;
	if (c->watch_ms)
		return watch(c, cmd, nargs, argv + skip + optind);
	return cmd->run(c, nargs, argv + skip + optind);
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	const char *env;
	int r;

	c.server = (env = getenv("AIOCTL_SERVER")) && *env ? env : CLI_DEFAULT_SERVER;
	c.server_given = env && *env;
	c.token_file = CLI_DEFAULT_TOKEN_FILE;
	if ((env = getenv("AIOCTL_TOKEN_FILE")) && *env) {
		c.token_file = env;
		c.token_file_explicit = true;
	}
	c.timeout_ms = 10000;
	r = run(&c, argc, argv);
	aio_rpc_client_free(c.rpc);
	for (size_t i = 0; i < sizeof(c.owned) / sizeof(c.owned[0]); i++)
		free(c.owned[i]);
	/* no nng_fini(): after a failed TLS handshake nng 1.5 may still be
	 * tearing the connection down on its own threads, and finishing the
	 * library under them panics ("pthread_mutex_lock: Invalid argument",
	 * about one run in 50). The exit reclaims it all. */
	return r;
}
