/* The flag table (cli/flags.c): each row parses its type within its
 * bounds, only for the commands that take it, and shows in their help. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "flags.h"

static const struct cli_command *command(const char *noun, const char *verb)
{
	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++)
		if (!strcmp(cmd->noun, noun) && !strcmp(cmd->verb, verb))
			return cmd;
	cr_assert_fail("no command %s %s", noun, verb);
	return NULL;
}

/* Parses "aioctl-args..." for noun verb into c: the result of
 * cli_flags_parse. */
static int parse(struct cli *c, const char *noun, const char *verb, const char *args)
{
	char *copy = strdup(args), *argv[128], *save = NULL;
	int argc = 0, r;

	argv[argc++] = (char *)verb;
	for (char *t = strtok_r(copy, " ", &save); t && argc < 127; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	memset(c, 0, sizeof(*c));
	r = cli_flags_parse(c, command(noun, verb), argc, argv, false);
	/* the values point into copy: keep it for the test's life */
	return r;
}

Test(flags, each_type_sets_its_field)
{
	struct cli c;

	cr_assert_eq(parse(&c, "fleet", "set",
	                   "--max 2097152 --batch 25% --canary 2 --max-failures 3 --soak 0s "
	                   "--select rack=a --select role=hv --force -o json"),
	             0);
	cr_assert(c.has_max);
	cr_assert_eq(c.max, 2097152);
	cr_assert(c.has_batch);
	cr_assert_eq(c.batch, 25);
	cr_assert(c.batch_percent);
	cr_assert(c.has_canary);
	cr_assert_eq(c.canary, 2);
	cr_assert(c.has_max_failures);
	cr_assert_not(c.max_failures_percent);
	cr_assert(c.has_soak, "0s is a soak of its own");
	cr_assert_eq(c.soak_ms, 0);
	cr_assert_eq(c.n_select, 2);
	cr_assert_str_eq(c.select[1], "role=hv");
	cr_assert(c.force);
	cr_assert_eq(c.format, CLI_JSON);
}

Test(flags, values_out_of_bounds_are_usage_errors)
{
	struct cli c;

	cr_assert_eq(parse(&c, "fleet", "set", "--max 12abc"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "fleet", "set", "--max 0"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "fleet", "set", "--max 4294967296"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "fleet", "set", "--batch 0"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "fleet", "set", "--batch 101%"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "fleet", "set", "--canary 5%"), CLI_EXIT_USAGE,
	             "no percentage of canaries");
	cr_assert_eq(parse(&c, "errors", "list", "--limit 1001"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "errors", "list", "--since 0s"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "errors", "list", "--since soon"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "report", "trend",
	                   "--group-by "
	                   "a-label-key-longer-than-sixty-three-characters-is-refused-here-ok"),
	             CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "errors", "list", "--output xml"), CLI_EXIT_USAGE);
}

Test(flags, a_flag_is_taken_only_by_its_commands)
{
	struct cli c;

	cr_assert_eq(parse(&c, "errors", "list", "--since 2h --host hv1"), 0);
	cr_assert_eq(c.since_ms, 2 * 3600 * 1000);
	cr_assert_eq(parse(&c, "fleet", "status", "--since 2h"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "fleet", "status", "--max 5"), CLI_EXIT_USAGE);
	cr_assert_eq(parse(&c, "fleet", "status", "--timeout 3s"), 0, "global flags go anywhere");
	cr_assert(c.timeout_given);
	cr_assert_eq(c.timeout_ms, 3000);
}

Test(flags, too_many_selects)
{
	char args[1024] = "";
	struct cli c;

	for (int i = 0; i < 33; i++)
		strcat(args, "--select k=v ");
	cr_assert_eq(parse(&c, "report", "trend", args), CLI_EXIT_USAGE);
}

Test(flags, help_shows_each_commands_flags_from_the_table)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	cli_flags_help(command("report", "rollout"), "  ", 22, out);
	fclose(out);
	cr_assert_not_null(strstr(buf, "--window DUR"));
	cr_assert_null(strstr(buf, "--max"), "%s", buf);
	free(buf);
	for (size_t i = 0; i < cli_n_flags; i++) {
		const struct cli_flag *f = &cli_flags[i];

		cr_assert(f->help && *f->help, "--%s has no help", f->name);
		/* every command a flag names exists */
		for (const char *p = f->commands; p && *p;) {
			char noun[32], verb[32];

			cr_assert_eq(sscanf(p, "%31[a-z].%31[a-z]", noun, verb), 2, "%s", p);
			command(noun, verb);
			p += strcspn(p, " ");
			p += strspn(p, " ");
		}
	}
}
