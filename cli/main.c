/* aioctl: the operator's console for a fleet's Linux AIO limits. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conf.h"
#include "duration.h"

enum opt_id {
	OPT_SERVER = 0x100,
	OPT_TOKEN_FILE,
	OPT_OUTPUT,
	OPT_TIMEOUT,
	OPT_TLS_CA,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_SERVER_NAME,
	OPT_HELP,
	OPT_VERSION,
	/* command options */
	OPT_SORT,
	OPT_SINCE,
	OPT_HOST,
	OPT_VM,
	OPT_LIMIT,
	OPT_LIVE,
	OPT_MAX,
	OPT_SELECT,
	OPT_HOSTS,
	OPT_CANARY,
	OPT_BATCH,
	OPT_MAX_FAILURES,
	OPT_SOAK,
	OPT_ON_FAILURE,
	OPT_OFFLINE_TIMEOUT,
	OPT_FORCE,
	OPT_DRY_RUN,
	OPT_YES,
	OPT_NO_WAIT,
	OPT_SUPERSEDE,
	OPT_WAIT_TIMEOUT,
	OPT_EXPIRES,
	OPT_NAME,
	OPT_ROLE,
	OPT_UNTIL,
	OPT_STEP,
	OPT_GROUP_BY,
	OPT_TOP,
	OPT_WINDOW,
};

struct opt_doc {
	struct option opt;
	const char *metavar;
	const char *help;
};

static const struct opt_doc global_opts[] = {
	{ { "server", required_argument, NULL, OPT_SERVER },
	  "URL",
	  "aio-server admin URL [$AIOCTL_SERVER or " CLI_DEFAULT_SERVER "]" },
	{ { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	  "FILE",
	  "admin token [$AIOCTL_TOKEN_FILE or " CLI_DEFAULT_TOKEN_FILE "]" },
	{ { "output", required_argument, NULL, OPT_OUTPUT },
	  "FMT",
	  "table, json or csv; html for report trend [table]" },
	{ { "timeout", required_argument, NULL, OPT_TIMEOUT }, "DUR", "wait at most DUR [10s]" },
	{ { "tls-ca", required_argument, NULL, OPT_TLS_CA },
	  "FILE",
	  "CA of the server (tls+tcp://)" },
	{ { "tls-cert", required_argument, NULL, OPT_TLS_CERT }, "FILE", "client certificate" },
	{ { "tls-key", required_argument, NULL, OPT_TLS_KEY }, "FILE", "client key" },
	{ { "tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME },
	  "NAME",
	  "name in the server's certificate" },
	{ { "help", no_argument, NULL, OPT_HELP }, "", "show help" },
	{ { "version", no_argument, NULL, OPT_VERSION }, "", "show the version" },
};

static const struct opt_doc command_opts[] = {
	{ { "sort", required_argument, NULL, OPT_SORT },
	  "COL",
	  "sort by room (least first), util or name" },
	{ { "since", required_argument, NULL, OPT_SINCE },
	  "DUR",
	  "this far back [24h; report trend 30d]" },
	{ { "host", required_argument, NULL, OPT_HOST }, "HOST", "only this host" },
	{ { "vm", required_argument, NULL, OPT_VM }, "NAME", "only this VM" },
	{ { "limit", required_argument, NULL, OPT_LIMIT }, "N", "at most N rows [100, max 1000]" },
	{ { "live", no_argument, NULL, OPT_LIVE }, "", "ask every agent for a fresh sample now" },
	{ { "max", required_argument, NULL, OPT_MAX }, "N", "the new fs.aio-max-nr" },
	{ { "select", required_argument, NULL, OPT_SELECT },
	  "K=V",
	  "only hosts with this label (repeatable: all must match)" },
	{ { "hosts", required_argument, NULL, OPT_HOSTS },
	  "GLOB",
	  "only hosts whose name matches" },
	{ { "canary", required_argument, NULL, OPT_CANARY }, "N", "hosts in the first wave [1]" },
	{ { "batch", required_argument, NULL, OPT_BATCH }, "N|P%", "hosts per later wave [10%]" },
	{ { "max-failures", required_argument, NULL, OPT_MAX_FAILURES },
	  "N|P%",
	  "failures tolerated before stopping [0]" },
	{ { "soak", required_argument, NULL, OPT_SOAK },
	  "DUR",
	  "a host passes after this long with no AIO error and the value in place [30s]" },
	{ { "on-failure", required_argument, NULL, OPT_ON_FAILURE },
	  "WHAT",
	  "pause or rollback [pause]" },
	{ { "offline-timeout", required_argument, NULL, OPT_OFFLINE_TIMEOUT },
	  "DUR",
	  "offline hosts get the change if back within this [24h]" },
	{ { "force", no_argument, NULL, OPT_FORCE }, "", "allow a limit below current usage" },
	{ { "dry-run", no_argument, NULL, OPT_DRY_RUN }, "", "show the plan, change nothing" },
	{ { "yes", no_argument, NULL, OPT_YES }, "", "do not ask" },
	{ { "no-wait", no_argument, NULL, OPT_NO_WAIT }, "", "print the rollout id and exit" },
	{ { "supersede", no_argument, NULL, OPT_SUPERSEDE },
	  "",
	  "abort rollouts still changing these hosts" },
	{ { "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
	  "DUR",
	  "stop following after this long (exit 8) [none]" },
	{ { "expires", required_argument, NULL, OPT_EXPIRES },
	  "DUR",
	  "the enrollment token is good for this long [24h]" },
	{ { "name", required_argument, NULL, OPT_NAME }, "NAME", "the token's name" },
	{ { "role", required_argument, NULL, OPT_ROLE }, "ROLE", "viewer, operator or admin" },
	{ { "until", required_argument, NULL, OPT_UNTIL },
	  "TIME",
	  "up to this time (2026-11-26T05:00:00Z) or this long ago (2h) [now]" },
	{ { "step", required_argument, NULL, OPT_STEP }, "DUR", "one row per DUR [range/200]" },
	{ { "group-by", required_argument, NULL, OPT_GROUP_BY },
	  "LABEL",
	  "roll hosts up by this label's value" },
	{ { "top", required_argument, NULL, OPT_TOP },
	  "N",
	  "the N most urgent hosts [20 in a table, all otherwise]" },
	{ { "window", required_argument, NULL, OPT_WINDOW },
	  "DUR",
	  "compare this long before and after each change [24h]" },
};

#define N_GLOBAL  (sizeof(global_opts) / sizeof(global_opts[0]))
#define N_COMMAND (sizeof(command_opts) / sizeof(command_opts[0]))

static bool cmd_has_opt(const struct cli_command *cmd, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = cmd->opts; (p = strstr(p, name)); p += n)
		if ((p == cmd->opts || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: aioctl [OPTIONS] NOUN VERB [ARGS]\n"
	           "The console for a fleet's Linux AIO limits (fs.aio-max-nr).\n\nCommands:\n");
	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++) {
		char head[64];

		snprintf(head, sizeof(head), "%s %s %s", cmd->noun, cmd->verb, cmd->args);
		fprintf(f, "  %-26s %s\n", head, cmd->help);
		for (size_t i = 0; i < N_COMMAND; i++) {
			if (!cmd_has_opt(cmd, command_opts[i].opt.name))
				continue;
			snprintf(head, sizeof(head), "--%s %s", command_opts[i].opt.name,
			         command_opts[i].metavar);
			fprintf(f, "      %-22s %s\n", head, command_opts[i].help);
		}
	}
	fprintf(f, "  %-26s %s\n\nOptions:\n", "completion bash", "print a bash completion script");
	for (size_t i = 0; i < N_GLOBAL; i++) {
		char head[64];

		snprintf(head, sizeof(head), "--%s %s", global_opts[i].opt.name,
		         global_opts[i].metavar);
		fprintf(f, "  %-26s %s\n", head, global_opts[i].help);
	}
	fprintf(f, "\nExit codes: 0 ok, 1 failed, 2 server unreachable or no answer in time,\n"
	           "3 not found, 4 not authorised, 64 bad command line; rollouts: 5 paused,\n"
	           "6 rolled back, 7 aborted, 8 still running at --wait-timeout, 9 done but\n"
	           "for offline hosts.\n");
}

static void completion_bash(void)
{
	printf("_aioctl() {\n  local cur=${COMP_WORDS[COMP_CWORD]} words=\"\"\n"
	       "  case $COMP_CWORD in\n  1) words=\"");
	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++)
		if (cmd == cli_commands || strcmp(cmd->noun, cmd[-1].noun) != 0)
			printf("%s ", cmd->noun);
	printf("completion\" ;;\n  2) case ${COMP_WORDS[1]} in\n");
	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++) {
		if (cmd != cli_commands && strcmp(cmd->noun, cmd[-1].noun) == 0)
			continue;
		printf("    %s) words=\"", cmd->noun);
		for (const struct cli_command *v = cmd; v->noun && !strcmp(v->noun, cmd->noun); v++)
			printf("%s ", v->verb);
		printf("\" ;;\n");
	}
	printf("    completion) words=\"bash\" ;;\n    esac ;;\n  *) words=\"");
	for (size_t i = 0; i < N_GLOBAL; i++)
		printf("--%s ", global_opts[i].opt.name);
	for (size_t i = 0; i < N_COMMAND; i++)
		printf("--%s ", command_opts[i].opt.name);
	printf("\" ;;\n  esac\n  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n"
	       "complete -F _aioctl aioctl\n");
}

/* "5" or "10%" (when percent may be given); -EINVAL after saying why. */
static int parse_count(const char *arg, const char *flag, uint32_t *ret, bool *ret_percent)
{
	char buf[32];
	size_t len = strlen(arg);
	uint64_t v;
	bool pct = len > 1 && arg[len - 1] == '%';

	snprintf(buf, sizeof(buf), "%.*s", (int)(pct ? len - 1 : len), arg);
	if ((pct && !ret_percent) || aio_uint_parse(buf, &v) < 0 || v > (pct ? 100 : 100000)) {
		fprintf(stderr, "aioctl: %s %s: not a count%s\n", flag, arg,
		        ret_percent ? " or percentage (examples: 5, 10%)" : " (example: 1)");
		return -EINVAL;
	}
	*ret = (uint32_t)v;
	if (ret_percent)
		*ret_percent = pct;
	return 0;
}

/* Applies one option; returns 0, or an exit code after printing why. */
static int set_option(struct cli *c, int id, const char *arg)
{
	int r;

	switch (id) {
	case OPT_SERVER:
		c->server = arg;
		break;
	case OPT_TOKEN_FILE:
		c->token_file = arg;
		c->token_file_explicit = true;
		break;
	case OPT_OUTPUT:
		if (strcmp(arg, "table") == 0)
			c->format = CLI_TABLE;
		else if (strcmp(arg, "json") == 0)
			c->format = CLI_JSON;
		else if (strcmp(arg, "csv") == 0)
			c->format = CLI_CSV;
		else if (strcmp(arg, "html") == 0)
			c->format = CLI_HTML;
		else {
			fprintf(stderr,
			        "aioctl: --output %s: not a format (use table, json or csv; html "
			        "for report trend)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		break;
	case OPT_TIMEOUT:
		c->timeout_given = true;
		if ((r = aio_duration_parse(arg, &c->timeout_ms)) < 0 || c->timeout_ms == 0) {
			fprintf(stderr,
			        "aioctl: --timeout %s: not a duration (example: --timeout 5s)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		break;
	case OPT_TLS_CA:
		c->tls.ca_file = arg;
		break;
	case OPT_TLS_CERT:
		c->tls.cert_file = arg;
		break;
	case OPT_TLS_KEY:
		c->tls.key_file = arg;
		break;
	case OPT_TLS_SERVER_NAME:
		c->tls.server_name = arg;
		break;
	case OPT_SORT:
		c->sort = arg;
		break;
	case OPT_SINCE:
		if (aio_duration_parse(arg, &c->since_ms) < 0 || c->since_ms == 0) {
			fprintf(stderr,
			        "aioctl: --since %s: not a duration (example: --since 7d)\n", arg);
			return CLI_EXIT_USAGE;
		}
		break;
	case OPT_HOST:
		c->host = arg;
		break;
	case OPT_VM:
		c->vm = arg;
		break;
	case OPT_LIVE:
		c->live = true;
		break;
	case OPT_MAX:
		if (aio_uint_parse(arg, &c->max) < 0 || c->max == 0 || c->max > UINT32_MAX) {
			fprintf(stderr, "aioctl: --max %s: not a number (example: --max 2097152)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		c->has_max = true;
		break;
	case OPT_SELECT:
		if (c->n_select == sizeof(c->select) / sizeof(c->select[0])) {
			fprintf(stderr, "aioctl: --select: at most 32\n");
			return CLI_EXIT_USAGE;
		}
		c->select[c->n_select++] = arg;
		break;
	case OPT_HOSTS:
		c->hosts_glob = arg;
		break;
	case OPT_CANARY:
		if (parse_count(arg, "--canary", &c->canary, NULL) < 0)
			return CLI_EXIT_USAGE;
		c->has_canary = true;
		break;
	case OPT_BATCH:
		if (parse_count(arg, "--batch", &c->batch, &c->batch_percent) < 0 || !c->batch) {
			fprintf(stderr, "aioctl: --batch %s: at least 1 (examples: 5, 10%%)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		c->has_batch = true;
		break;
	case OPT_MAX_FAILURES:
		if (parse_count(arg, "--max-failures", &c->max_failures, &c->max_failures_percent) <
		    0)
			return CLI_EXIT_USAGE;
		c->has_max_failures = true;
		break;
	case OPT_SOAK:
	case OPT_OFFLINE_TIMEOUT:
	case OPT_WAIT_TIMEOUT: {
		uint64_t ms;

		if (aio_duration_parse(arg, &ms) < 0) {
			fprintf(stderr, "aioctl: %s: not a duration (examples: 0s, 30s, 5m)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		if (id == OPT_SOAK) {
			c->soak_ms = ms;
			c->has_soak = true;
		} else if (id == OPT_OFFLINE_TIMEOUT) {
			c->offline_timeout_ms = ms;
			c->has_offline_timeout = true;
		} else {
			c->wait_timeout_ms = ms;
		}
		break;
	}
	case OPT_EXPIRES:
		if (aio_duration_parse(arg, &c->expires_ms) < 0 || !c->expires_ms) {
			fprintf(stderr,
			        "aioctl: --expires %s: not a duration (example: --expires "
			        "2h)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		break;
	case OPT_UNTIL:
		c->until = arg;
		break;
	case OPT_STEP:
		if (aio_duration_parse(arg, &c->step_ms) < 0 || !c->step_ms) {
			fprintf(stderr, "aioctl: --step %s: not a duration (example: --step 5m)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		break;
	case OPT_NAME:
		c->name = arg;
		break;
	case OPT_ROLE:
		c->role = arg;
		break;
	case OPT_ON_FAILURE:
		c->on_failure = arg;
		break;
	case OPT_FORCE:
		c->force = true;
		break;
	case OPT_DRY_RUN:
		c->dry_run = true;
		break;
	case OPT_YES:
		c->yes = true;
		break;
	case OPT_NO_WAIT:
		c->no_wait = true;
		break;
	case OPT_SUPERSEDE:
		c->supersede = true;
		break;
	case OPT_GROUP_BY:
		if (!*arg || strlen(arg) > AIO_LABEL_KEY_MAX) {
			fprintf(stderr, "aioctl: --group-by %s: not a label key\n", arg);
			return CLI_EXIT_USAGE;
		}
		c->group_by = arg;
		break;
	case OPT_WINDOW:
		if (aio_duration_parse(arg, &c->window_ms) < 0 || c->window_ms == 0) {
			fprintf(stderr,
			        "aioctl: --window %s: not a duration (example: --window 6h)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		break;
	case OPT_TOP:
		if (aio_uint_parse(arg, &c->top) < 0 || c->top == 0 || c->top > 100000) {
			fprintf(stderr, "aioctl: --top %s: not a number from 1 to 100000\n", arg);
			return CLI_EXIT_USAGE;
		}
		break;
	case OPT_LIMIT:
		if (aio_uint_parse(arg, &c->limit) < 0 || c->limit == 0 || c->limit > 1000) {
			fprintf(stderr, "aioctl: --limit %s: not a number from 1 to 1000\n", arg);
			return CLI_EXIT_USAGE;
		}
		break;
	}
	return 0;
}

/* getopt_long over argv with the global options plus cmd's (if any). */
static int parse_options(struct cli *c, const struct cli_command *cmd, int argc, char **argv,
                         bool stop_at_arg)
{
	struct option opts[N_GLOBAL + N_COMMAND + 1];
	size_t n = 0;
	int id, r;

	for (size_t i = 0; i < N_GLOBAL; i++)
		opts[n++] = global_opts[i].opt;
	for (size_t i = 0; cmd && i < N_COMMAND; i++)
		if (cmd_has_opt(cmd, command_opts[i].opt.name))
			opts[n++] = command_opts[i].opt;
	memset(&opts[n], 0, sizeof(opts[n]));

	opterr = 0;
	optind = 0;
	while ((id = getopt_long(argc, argv, stop_at_arg ? "+" : "", opts, NULL)) != -1) {
		if (id == '?' || id == ':') {
			const char *bad = argv[optind - 1];

			if (id == ':' || (optopt && optopt != '?'))
				fprintf(stderr, "aioctl: %s needs a value (see aioctl --help)\n",
				        bad);
			else
				fprintf(stderr,
				        "aioctl: unknown option %s%s%s (see aioctl --help)\n", bad,
				        cmd ? " for " : "", cmd ? cmd->noun : "");
			return CLI_EXIT_USAGE;
		}
		if (id == OPT_HELP) {
			usage(stdout);
			return -1;
		}
		if (id == OPT_VERSION) {
			printf("aioctl %s\n", AIO_VERSION);
			return -1;
		}
		if ((r = set_option(c, id, optarg)) != 0)
			return r;
	}
	return 0;
}

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

	if ((r = parse_options(c, NULL, argc, argv, true)) != 0)
		return r < 0 ? 0 : r;
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[0], "completion") == 0) {
		if (argc != 2 || strcmp(argv[1], "bash") != 0) {
			fprintf(stderr, "aioctl: usage: aioctl completion bash\n");
			return CLI_EXIT_USAGE;
		}
		completion_bash();
		return 0;
	}
	if (!(cmd = find_command(argv[0], argc > 1 ? argv[1] : NULL, &verb_given)))
		return CLI_EXIT_USAGE;
	/* the noun or verb stands where getopt expects the program name */
	skip = verb_given ? 1 : 0;
	if ((r = parse_options(c, cmd, argc - skip, argv + skip, false)) != 0)
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
