/* aioctl's flags, one row each: its name, short name, type, bounds, the
 * field of struct cli it sets and the commands that take it. Parsing,
 * per-command help and shell completion all come from the table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cli;
struct cli_command;

enum cli_flag_type {
	FLAG_TEXT,     /* const char *; max: its longest (0: any) */
	FLAG_SWITCH,   /* bool, set */
	FLAG_UINT,     /* uint64_t within min..max */
	FLAG_DURATION, /* uint64_t milliseconds, at least min */
	FLAG_COUNT,    /* uint32_t within min..max, or a percentage (extra) */
	FLAG_FORMAT,   /* enum cli_format */
	FLAG_LIST,     /* up to max texts, repeatable; extra counts them */
	FLAG_WATCH,    /* uint64_t ms: an optional duration after it [2s] */
	FLAG_SINCE,    /* uint64_t ms back from now: a duration or a time */
	FLAG_HELP,
	FLAG_VERSION,
};

struct cli_flag {
	const char *name;
	char short_name; /* 0: none */
	enum cli_flag_type type;
	size_t field; /* offsetof(struct cli, ...) */
	size_t given; /* offsetof a bool set when given, + 1; 0: none */
	size_t extra; /* FLAG_COUNT's percent bool or FLAG_LIST's count, + 1 */
	uint64_t min, max;
	const char *metavar, *example, *help;
	/* "noun.verb" names, space separated; NULL: a global flag */
	const char *commands;
};

extern const struct cli_flag cli_flags[];
extern const size_t cli_n_flags;

/* Whether cmd takes flag (global flags: every command). */
bool cli_flag_for(const struct cli_flag *flag, const struct cli_command *cmd);
/* Whether "noun.verb" of cmd is a word of list ("fleet.set rollout.list"). */
bool cli_command_listed(const char *list, const struct cli_command *cmd);
/* getopt_long over argv with the global flags plus cmd's (NULL: global
 * only; stop_at_arg: stop at the first argument). 0; -1 after --help or
 * --version was answered; an exit code after saying what is wrong. */
int cli_flags_parse(struct cli *c, const struct cli_command *cmd, int argc, char **argv,
                    bool stop_at_arg);
/* "  --name ARG   help" lines for cmd's flags (NULL: the global ones). */
void cli_flags_help(const struct cli_command *cmd, const char *indent, int width, FILE *out);
/* Every flag name, "--name" each, space separated. */
void cli_flags_words(FILE *out);
