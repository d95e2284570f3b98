#include "flags.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "conf.h"
#include "duration.h"

#define AT(f)      (offsetof(struct cli, f) + 1)
#define FIELD(f)   offsetof(struct cli, f)
#define SELECT_MAX (sizeof(((struct cli *)0)->select) / sizeof(((struct cli *)0)->select[0]))

#define ROLLOUT_CMDS "fleet.set fleet.reconcile"

const struct cli_flag cli_flags[] = {
	/* global */
	{ "context", 0, FLAG_TEXT, FIELD(context), 0, 0, 1, CLI_CONTEXT_NAME_MAX, "NAME", "prod",
	  "a server from ~/.config/aioctl/config ($AIOCTL_CONFIG)", NULL },
	{ "server", 0, FLAG_TEXT, FIELD(server), AT(server_given), 0, 0, 0, "URL",
	  "tcp://127.0.0.1:7701", "aio-server admin URL [$AIOCTL_SERVER or " CLI_DEFAULT_SERVER "]",
	  NULL },
	{ "token-file", 0, FLAG_TEXT, FIELD(token_file), AT(token_file_explicit), 0, 0, 0, "FILE",
	  "/var/lib/aio-server/admin.token",
	  "admin token [$AIOCTL_TOKEN_FILE or " CLI_DEFAULT_TOKEN_FILE "]", NULL },
	{ "output", 'o', FLAG_FORMAT, FIELD(format), 0, 0, 0, 0, "FMT", "json",
	  "table, json or csv; html for report trend [table]", NULL },
	{ "timeout", 0, FLAG_DURATION, FIELD(timeout_ms), AT(timeout_given), 0, 1, 0, "DUR", "5s",
	  "wait at most DUR [10s]", NULL },
	{ "tls-ca", 0, FLAG_TEXT, FIELD(tls.ca_file), 0, 0, 0, 0, "FILE", "ca.pem",
	  "CA of the server (tls+tcp://)", NULL },
	{ "tls-cert", 0, FLAG_TEXT, FIELD(tls.cert_file), 0, 0, 0, 0, "FILE", "client.pem",
	  "client certificate", NULL },
	{ "tls-key", 0, FLAG_TEXT, FIELD(tls.key_file), 0, 0, 0, 0, "FILE", "client.key",
	  "client key", NULL },
	{ "tls-server-name", 0, FLAG_TEXT, FIELD(tls.server_name), 0, 0, 0, 0, "NAME", "aio-server",
	  "name in the server's certificate", NULL },
	{ "no-headers", 0, FLAG_SWITCH, FIELD(no_headers), 0, 0, 0, 0, "", "",
	  "tables and CSV: no header line", NULL },
	{ "help", 'h', FLAG_HELP, 0, 0, 0, 0, 0, "", "", "show help", NULL },
	{ "version", 0, FLAG_VERSION, 0, 0, 0, 0, 0, "", "", "show the version", NULL },
	/* reading */
	{ "sort", 0, FLAG_TEXT, FIELD(sort), 0, 0, 0, 16, "COL", "util",
	  "sort by room (least first), util, nr, max, seen (longest silent first) or name",
	  "fleet.status" },
	{ "reverse", 'r', FLAG_SWITCH, FIELD(reverse), 0, 0, 0, 0, "", "", "the other way round",
	  "fleet.status" },
	{ "watch", 'w', FLAG_WATCH, FIELD(watch_ms), 0, 0, 100, 0, "[DUR]", "5s",
	  "show it again every DUR [2s] until interrupted (redrawn on a terminal)",
	  "fleet.status rollout.show alerts.list" },
	{ "live", 0, FLAG_SWITCH, FIELD(live), 0, 0, 0, 0, "", "",
	  "ask every agent for a fresh sample now", "fleet.status" },
	{ "since", 0, FLAG_SINCE, FIELD(since_ms), 0, 0, 1, 0, "TIME", "7d",
	  "from this time (2026-12-01, today, 2026-12-01T05:00:00+01:00) or this long ago "
	  "(90min, 1w) [24h; report trend 30d]",
	  "errors.list history.show report.trend alerts.list audit.list" },
	{ "until", 0, FLAG_TEXT, FIELD(until), 0, 0, 0, 64, "TIME", "2h",
	  "up to this time (as --since takes it) or this long ago (2h) [now]", "history.show" },
	{ "step", 0, FLAG_DURATION, FIELD(step_ms), 0, 0, 1, 0, "DUR", "5m",
	  "one row per DUR [range/200]", "history.show" },
	{ "host", 0, FLAG_TEXT, FIELD(host), 0, 0, 0, AIO_HOST_NAME_MAX, "HOST", "hv1",
	  "only this host", "errors.list enroll.create" },
	{ "vm", 0, FLAG_TEXT, FIELD(vm), 0, 0, 0, AIO_VM_NAME_MAX, "NAME", "instance-0001",
	  "only this VM", "errors.list history.show" },
	{ "limit", 0, FLAG_UINT, FIELD(limit), 0, 0, 1, 1000, "N", "50",
	  "at most N rows [100, max 1000]", "errors.list rollout.list alerts.list audit.list" },
	{ "group-by", 0, FLAG_TEXT, FIELD(group_by), 0, 0, 1, AIO_LABEL_KEY_MAX, "LABEL", "rack",
	  "roll hosts up by this label's value", "report.trend" },
	{ "top", 0, FLAG_UINT, FIELD(top), 0, 0, 1, 100000, "N", "20",
	  "the N most urgent hosts [20 in a table, all otherwise]", "report.trend" },
	{ "window", 0, FLAG_DURATION, FIELD(window_ms), 0, 0, 1, 0, "DUR", "6h",
	  "compare this long before and after each change [24h]", "report.rollout" },
	/* rollouts */
	{ "max", 0, FLAG_UINT, FIELD(max), AT(has_max), 0, 1, UINT32_MAX, "N", "2097152",
	  "the new fs.aio-max-nr", "fleet.set" },
	{ "select", 'l', FLAG_LIST, FIELD(select), 0, AT(n_select), 0, SELECT_MAX, "K=V", "rack=a",
	  "only hosts with this label (repeatable: all must match)",
	  "fleet.set report.trend fleet.status" },
	{ "hosts", 0, FLAG_TEXT, FIELD(hosts_glob), 0, 0, 0, AIO_HOSTS_GLOB_MAX, "GLOB[,GLOB]",
	  "hv-1*,hv-20", "only hosts whose name matches one of these globs",
	  ROLLOUT_CMDS " report.trend fleet.status" },
	{ "canary", 0, FLAG_COUNT, FIELD(canary), AT(has_canary), 0, 0, 100000, "N", "1",
	  "hosts in the first wave [1]", "fleet.set" },
	{ "batch", 0, FLAG_COUNT, FIELD(batch), AT(has_batch), AT(batch_percent), 1, 100000, "N|P%",
	  "10%", "hosts per later wave [10%]", "fleet.set" },
	{ "max-failures", 0, FLAG_COUNT, FIELD(max_failures), AT(has_max_failures),
	  AT(max_failures_percent), 0, 100000, "N|P%", "2",
	  "failures tolerated before stopping [0]", "fleet.set" },
	{ "soak", 0, FLAG_DURATION, FIELD(soak_ms), AT(has_soak), 0, 0, 0, "DUR", "30s",
	  "a host passes after this long with no AIO error and the value in place [30s]",
	  "fleet.set" },
	{ "on-failure", 0, FLAG_TEXT, FIELD(on_failure), 0, 0, 0, 16, "WHAT", "rollback",
	  "pause or rollback [pause]", "fleet.set" },
	{ "offline-timeout", 0, FLAG_DURATION, FIELD(offline_timeout_ms), AT(has_offline_timeout),
	  0, 0, 0, "DUR", "2h", "offline hosts get the change if back within this [24h]",
	  "fleet.set" },
	{ "force", 0, FLAG_SWITCH, FIELD(force), 0, 0, 0, 0, "", "",
	  "allow a limit below current usage; host remove: even a host that reported lately",
	  "fleet.set host.remove" },
	{ "dry-run", 0, FLAG_SWITCH, FIELD(dry_run), 0, 0, 0, 0, "", "",
	  "show the plan, each host's before and after, change nothing", ROLLOUT_CMDS },
	{ "allow-lower", 0, FLAG_SWITCH, FIELD(allow_lower), 0, 0, 0, 0, "", "",
	  "allow a rollout that lowers a host's live or after-reboot limit", ROLLOUT_CMDS },
	{ "yes", 0, FLAG_SWITCH, FIELD(yes), 0, 0, 0, 0, "", "", "do not ask", ROLLOUT_CMDS },
	{ "no-wait", 0, FLAG_SWITCH, FIELD(no_wait), 0, 0, 0, 0, "", "",
	  "print the rollout id and exit", ROLLOUT_CMDS " rollout.rollback" },
	{ "supersede", 0, FLAG_SWITCH, FIELD(supersede), 0, 0, 0, 0, "", "",
	  "abort rollouts still changing these hosts", ROLLOUT_CMDS },
	{ "wait-timeout", 0, FLAG_DURATION, FIELD(wait_timeout_ms), 0, 0, 0, 0, "DUR", "10m",
	  "stop following after this long (exit 8) [none]", ROLLOUT_CMDS " rollout.rollback" },
	/* credentials */
	{ "expires", 0, FLAG_DURATION, FIELD(expires_ms), 0, 0, 1, 0, "DUR", "2h",
	  "the enrollment token is good for this long [24h]", "enroll.create" },
	{ "name", 0, FLAG_TEXT, FIELD(name), 0, 0, 0, 63, "NAME", "alice", "the token's name",
	  "token.create" },
	{ "role", 0, FLAG_TEXT, FIELD(role), 0, 0, 0, 16, "ROLE", "viewer",
	  "viewer, operator or admin", "token.create" },
};

const size_t cli_n_flags = sizeof(cli_flags) / sizeof(cli_flags[0]);

bool cli_command_listed(const char *list, const struct cli_command *cmd)
{
	char name[64];
	size_t n = (size_t)snprintf(name, sizeof(name), "%s.%s", cmd->noun, cmd->verb);

	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

bool cli_flag_for(const struct cli_flag *flag, const struct cli_command *cmd)
{
	if (!flag->commands)
		return true;
	return cmd && cli_command_listed(flag->commands, cmd);
}

static void *at(struct cli *c, size_t off)
{
	return (char *)c + off;
}

static void mark(struct cli *c, size_t given)
{
	if (given)
		*(bool *)at(c, given - 1) = true;
}

/* "5" or "10%" (when a percentage may be given). */
static int parse_count(const char *arg, uint64_t max, bool percent_ok, uint32_t *ret,
                       bool *ret_percent)
{
	char buf[32];
	size_t len = strlen(arg);
	uint64_t v;
	bool pct = len > 1 && arg[len - 1] == '%';

	if (len >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(pct ? len - 1 : len), arg);
	if ((pct && !percent_ok) || aio_uint_parse(buf, &v) < 0 || v > (pct ? 100 : max))
		return -EINVAL;
	*ret = (uint32_t)v;
	*ret_percent = pct;
	return 0;
}

/* Sets what f names from arg: 0, or an exit code after saying why. */
static int set(struct cli *c, const struct cli_flag *f, const char *arg)
{
	uint64_t v = 0;

	switch (f->type) {
	case FLAG_TEXT:
		if (f->max && (strlen(arg) < f->min || strlen(arg) > f->max)) {
			fprintf(stderr,
			        "aioctl: --%s: %" PRIu64 " to %" PRIu64 " characters "
			        "(example: --%s %s)\n",
			        f->name, f->min, f->max, f->name, f->example);
			return CLI_EXIT_USAGE;
		}
		*(const char **)at(c, f->field) = arg;
		break;
	case FLAG_SWITCH:
		*(bool *)at(c, f->field) = true;
		break;
	case FLAG_UINT:
		if (aio_uint_parse(arg, &v) < 0 || v < f->min || v > f->max) {
			fprintf(stderr,
			        "aioctl: --%s %s: not a number from %" PRIu64 " to %" PRIu64
			        " (example: --%s %s)\n",
			        f->name, arg, f->min, f->max, f->name, f->example);
			return CLI_EXIT_USAGE;
		}
		*(uint64_t *)at(c, f->field) = v;
		break;
	case FLAG_DURATION:
		if (aio_duration_parse(arg, &v) < 0 || v < f->min) {
			fprintf(stderr, "aioctl: --%s %s: not a duration%s (example: --%s %s)\n",
			        f->name, arg, f->min ? " above 0" : "", f->name, f->example);
			return CLI_EXIT_USAGE;
		}
		*(uint64_t *)at(c, f->field) = v;
		break;
	case FLAG_COUNT: {
		uint32_t n;
		bool pct = false;

		if (parse_count(arg, f->max, f->extra != 0, &n, &pct) < 0 || n < f->min) {
			fprintf(stderr,
			        "aioctl: --%s %s: not a count%s from %" PRIu64
			        " (example: --%s %s)\n",
			        f->name, arg, f->extra ? " or percentage" : "", f->min, f->name,
			        f->example);
			return CLI_EXIT_USAGE;
		}
		*(uint32_t *)at(c, f->field) = n;
		if (f->extra)
			*(bool *)at(c, f->extra - 1) = pct;
		break;
	}
	case FLAG_FORMAT: {
		static const char *const names[] = { [CLI_TABLE] = "table",
			                             [CLI_JSON] = "json",
			                             [CLI_CSV] = "csv",
			                             [CLI_HTML] = "html" };
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(arg, names[i]) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0])) {
			fprintf(stderr,
			        "aioctl: --output %s: not a format (use table, json or csv; html "
			        "for report trend)\n",
			        arg);
			return CLI_EXIT_USAGE;
		}
		*(enum cli_format *)at(c, f->field) = (enum cli_format)i;
		break;
	}
	case FLAG_LIST: {
		size_t *n = at(c, f->extra - 1);

		if (*n >= f->max) {
			fprintf(stderr, "aioctl: --%s: at most %" PRIu64 "\n", f->name, f->max);
			return CLI_EXIT_USAGE;
		}
		((const char **)at(c, f->field))[(*n)++] = arg;
		break;
	}
	case FLAG_SINCE: {
		uint64_t now = aio_now_ms(), t;

		if (cli_time_parse(arg, now, &t) < 0 || t >= now) {
			fprintf(stderr,
			        "aioctl: --%s %s: not a time in the past (examples: --%s 90min, "
			        "1w, today, 2026-12-01, 2026-12-01T05:00:00Z)\n",
			        f->name, arg, f->name);
			return CLI_EXIT_USAGE;
		}
		*(uint64_t *)at(c, f->field) = now - t;
		c->since_at_ms = t;
		c->since_is_duration = aio_duration_parse(arg, &v) == 0;
		break;
	}
	case FLAG_WATCH:
		v = 2000;
		if (arg && (aio_duration_parse(arg, &v) < 0 || v < f->min)) {
			fprintf(stderr,
			        "aioctl: --%s %s: not a duration of 100ms or more (example: --%s "
			        "%s)\n",
			        f->name, arg, f->name, f->example);
			return CLI_EXIT_USAGE;
		}
		*(uint64_t *)at(c, f->field) = v;
		break;
	case FLAG_HELP:
	case FLAG_VERSION:
		break;
	}
	mark(c, f->given);
	return 0;
}

int cli_flags_parse(struct cli *c, const struct cli_command *cmd, int argc, char **argv,
                    bool stop_at_arg)
{
	struct option opts[sizeof(cli_flags) / sizeof(cli_flags[0]) + 1];
	char shorts[2 * sizeof(cli_flags) / sizeof(cli_flags[0]) + 3];
	size_t n = 0, ns = 0;
	int id, r;

	if (stop_at_arg)
		shorts[ns++] = '+';
	shorts[ns++] = ':'; /* a missing value is ':', not '?' */
	for (size_t i = 0; i < cli_n_flags; i++) {
		const struct cli_flag *f = &cli_flags[i];
		bool arg =
		        f->type != FLAG_SWITCH && f->type != FLAG_HELP && f->type != FLAG_VERSION;
		bool optional = f->type == FLAG_WATCH;

		if (!cli_flag_for(f, cmd))
			continue;
		opts[n++] = (struct option){ f->name,
			                     optional ? optional_argument
			                     : arg    ? required_argument
			                              : no_argument,
			                     NULL, 0x100 + (int)i };
		if (f->short_name) {
			shorts[ns++] = f->short_name;
			if (arg)
				shorts[ns++] = ':';
			if (optional)
				shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	memset(&opts[n], 0, sizeof(opts[n]));

	opterr = 0;
	optind = 0;
	while ((id = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		const struct cli_flag *f = NULL;

		if (id >= 0x100)
			f = &cli_flags[id - 0x100];
		for (size_t i = 0; !f && i < cli_n_flags && id != '?' && id != ':'; i++)
			if (cli_flags[i].short_name == id)
				f = &cli_flags[i];
		if (!f) {
			const char *bad = argv[optind - 1];

			if (id == ':')
				fprintf(stderr, "aioctl: %s needs a value (see aioctl --help)\n",
				        bad);
			else
				fprintf(stderr,
				        "aioctl: unknown option %s%s%s (see aioctl --help)\n", bad,
				        cmd ? " for " : "", cmd ? cmd->noun : "");
			return CLI_EXIT_USAGE;
		}
		if (f->type == FLAG_HELP) {
			if (cmd)
				cli_command_usage(cmd, stdout);
			else
				cli_usage(stdout);
			return -1;
		}
		if (f->type == FLAG_VERSION) {
			printf("aioctl %s\n", AIO_VERSION);
			return -1;
		}
		/* "--watch 5s" as well as "--watch=5s": a duration after it is its */
		if (f->type == FLAG_WATCH && !optarg && optind < argc &&
		    aio_duration_parse(argv[optind], &(uint64_t){ 0 }) == 0)
			optarg = argv[optind++];
		if ((r = set(c, f, optarg)) != 0)
			return r;
	}
	return 0;
}

void cli_flags_help(const struct cli_command *cmd, const char *indent, int width, FILE *out)
{
	for (size_t i = 0; i < cli_n_flags; i++) {
		const struct cli_flag *f = &cli_flags[i];
		char head[64];

		if (cmd ? !f->commands || !cli_flag_for(f, cmd) : f->commands != NULL)
			continue;
		if (f->short_name)
			snprintf(head, sizeof(head), "-%c, --%s %s", f->short_name, f->name,
			         f->metavar);
		else
			snprintf(head, sizeof(head), "--%s %s", f->name, f->metavar);
		fprintf(out, "%s%-*s %s\n", indent, width, head, f->help);
	}
}

void cli_flags_words(FILE *out)
{
	for (size_t i = 0; i < cli_n_flags; i++)
		fprintf(out, "--%s ", cli_flags[i].name);
}
