/* aioctl --help and its bash completion, from the command and flag
 * tables. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "flags.h"

void cli_usage(FILE *f)
{
	fprintf(f, "Usage: aioctl [OPTIONS] NOUN VERB [ARGS]\n"
	           "The console for a fleet's Linux AIO limits (fs.aio-max-nr).\n\nCommands:\n");
	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++) {
		char head[64];

		snprintf(head, sizeof(head), "%s %s %s", cmd->noun, cmd->verb, cmd->args);
		fprintf(f, "  %-26s %s\n", head, cmd->help);
		cli_flags_help(cmd, "      ", 22, f);
	}
	fprintf(f, "  %-26s %s\n\nOptions:\n", "completion bash", "print a bash completion script");
	cli_flags_help(NULL, "  ", 26, f);
	fprintf(f, "\nExit codes: 0 ok, 1 failed, 2 server unreachable or no answer in time,\n"
	           "3 not found, 4 not authorised, 64 bad command line; rollouts: 5 paused,\n"
	           "6 rolled back, 7 aborted, 8 still running at --wait-timeout, 9 done but\n"
	           "for offline hosts.\n");
}

bool cli_noun_usage(const char *noun, FILE *f)
{
	bool any = false;

	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++) {
		char head[64];

		if (strcmp(cmd->noun, noun) != 0)
			continue;
		if (!any)
			fprintf(f, "Usage: aioctl %s VERB [ARGS] [OPTIONS]\n\nVerbs:\n", noun);
		any = true;
		snprintf(head, sizeof(head), "%s %s", cmd->verb, cmd->args);
		fprintf(f, "  %-20s %s\n", head, cmd->help);
	}
	if (any)
		fprintf(f, "\nSee aioctl help %s VERB for a verb's options and examples.\n", noun);
	return any;
}

void cli_command_usage(const struct cli_command *cmd, FILE *f)
{
	fprintf(f, "Usage: aioctl %s %s%s%s [OPTIONS]\n%c%s.\n\n", cmd->noun, cmd->verb,
	        cmd->args[0] ? " " : "", cmd->args, toupper((unsigned char)cmd->help[0]),
	        cmd->help + 1);
	fprintf(f, "Options:\n");
	cli_flags_help(cmd, "  ", 26, f);
	fprintf(f, "\nGlobal options:\n");
	cli_flags_help(NULL, "  ", 26, f);
	if (cmd->examples) {
		fprintf(f, "\nExamples:\n");
		for (const char *p = cmd->examples; *p;) {
			size_t n = strcspn(p, "\n");

			fprintf(f, "  %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
	}
}

/* The first command of cmd's noun in the table. */
static bool first_of_noun(const struct cli_command *cmd)
{
	for (const struct cli_command *c = cli_commands; c != cmd; c++)
		if (!strcmp(c->noun, cmd->noun))
			return false;
	return true;
}

void cli_completion_bash(FILE *out)
{
	fprintf(out, "_aioctl() {\n  local cur=${COMP_WORDS[COMP_CWORD]} words=\"\"\n"
	             "  case $COMP_CWORD in\n  1) words=\"");
	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++)
		if (first_of_noun(cmd))
			fprintf(out, "%s ", cmd->noun);
	fprintf(out, "completion\" ;;\n  2) case ${COMP_WORDS[1]} in\n");
	for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++) {
		if (!first_of_noun(cmd))
			continue;
		fprintf(out, "    %s) words=\"", cmd->noun);
		for (const struct cli_command *v = cmd; v->noun; v++)
			if (!strcmp(v->noun, cmd->noun))
				fprintf(out, "%s ", v->verb);
		fprintf(out, "\" ;;\n");
	}
	fprintf(out, "    completion) words=\"bash\" ;;\n    esac ;;\n  *) words=\"");
	cli_flags_words(out);
	fprintf(out, "\" ;;\n  esac\n  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n"
	             "complete -F _aioctl aioctl\n");
}
