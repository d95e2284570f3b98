/* aioctl's shared state, exit codes and the command table. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bounds.h"
#include "output.h"
#include "rpc_client.h"
#include "view.h"

/* Exit codes, documented in the README and `aioctl --help`. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,       /* the server refused or the operation failed */
	CLI_EXIT_UNREACHABLE = 2,  /* no server at --server, or no answer in time */
	CLI_EXIT_NOT_FOUND = 3,    /* unknown host, rollout, ... */
	CLI_EXIT_DENIED = 4,       /* token missing, wrong, or not allowed */
	CLI_EXIT_PAUSED = 5,       /* the rollout paused (failures, or by hand) */
	CLI_EXIT_ROLLED_BACK = 6,  /* the rollout was rolled back */
	CLI_EXIT_ABORTED = 7,      /* the rollout was aborted or superseded */
	CLI_EXIT_WAIT_TIMEOUT = 8, /* still running when --wait-timeout passed */
	CLI_EXIT_OFFLINE = 9,      /* done but for offline hosts, still pending */
	CLI_EXIT_USAGE = 64,       /* bad command line (sysexits EX_USAGE) */
};

#define CLI_DEFAULT_SERVER     "tcp://127.0.0.1:7701"
#define CLI_RECV_MAX           (64 << 20) /* largest reply aioctl accepts */
#define CLI_DEFAULT_TOKEN_FILE "/var/lib/aio-server/admin.token"
#define CLI_CONTEXT_NAME_MAX   63

struct cli {
	const char *server;
	bool server_given;   /* by --server or AIOCTL_SERVER */
	const char *context; /* --context, or the config file's own */
	char context_buf[CLI_CONTEXT_NAME_MAX + 1];
	char *owned[6]; /* values taken from the config file */
	const char *token_file;
	bool token_file_explicit;
	enum cli_format format;
	uint64_t timeout_ms;
	bool timeout_given;
	struct aio_tls_opts tls;
	struct aio_rpc_client *rpc;
	bool no_headers;
	uint64_t watch_ms; /* --watch: redraw every watch_ms; 0: once */
	/* command options */
	const char *sort;
	bool reverse;
	uint64_t since_ms;      /* a duration back from now; 0: none given */
	uint64_t since_at_ms;   /* the same as a time */
	bool since_is_duration; /* written as one: history takes it back from --until */
	const char *host;
	const char *vm;
	const char *until;
	uint64_t step_ms;
	uint64_t limit;
	bool live;
	/* fleet set / reconcile */
	bool has_max;
	uint64_t max;
	const char *select[32];
	size_t n_select;
	const char *hosts_glob;
	bool has_canary, has_batch, has_max_failures, has_soak, has_offline_timeout;
	uint32_t canary, batch, max_failures;
	bool batch_percent, max_failures_percent;
	uint64_t soak_ms, offline_timeout_ms, wait_timeout_ms;
	const char *on_failure;
	bool force, dry_run, yes, no_wait, supersede, allow_lower;
	/* enroll, token */
	uint64_t expires_ms;
	const char *name;
	const char *role;
	/* report trend */
	const char *group_by;
	uint64_t top;
	uint64_t window_ms; /* report rollout */
};

/* --select and --hosts as a request's selector. */
struct cli_selector {
	Aioctl__V1__Selector sel;
	Aioctl__V1__Label labels[32], *lp[32];
	char keys[32][AIO_LABEL_KEY_MAX + 1], values[32][AIO_LABEL_VALUE_MAX + 1];
};

/* Fills ret from c; prints why and returns -1 on a bad --select. */
int cli_selector(const struct cli *c, struct cli_selector *ret);

struct cli_command {
	const char *noun;
	const char *verb;
	int min_args, max_args;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *args;
	const char *help;
	const char *examples; /* "aioctl ..." lines for its help, '\n'-separated */
};

extern const struct cli_command cli_commands[];
extern const char cli_csv_commands[];

/* Every command and option, to f (help.c). */
void cli_usage(FILE *f);
/* A noun's verbs; false if there is no such noun. */
bool cli_noun_usage(const char *noun, FILE *f);
/* One command: its usage, options (its own, then the global ones) and
 * examples. */
void cli_command_usage(const struct cli_command *cmd, FILE *f);
/* A bash completion script for aioctl, to out. */
void cli_completion_bash(FILE *out);

/* The client config's context (context.c) for what no flag or variable
 * gave; 0, or an exit code after saying why. */
int cli_context_apply(struct cli *c);

/* Calls an Admin method; on failure prints why and returns the exit code. */
int cli_call(struct cli *c, const char *method, const ProtobufCMessage *in,
             ProtobufCMessage **ret_out);

int cli_fleet_status(struct cli *c, int argc, char **argv);
/* What a command prints of its reply, in c->format, to out: aioctl prints
 * to stdout, aio-server's HTTP API answers with the same JSON. */
bool cli_fleet_sort_known(const char *sort);
int cli_fleet_print(struct cli *c, const Aioctl__V1__FleetStatusReply *rep, FILE *out);
int cli_errors_print(struct cli *c, const Aioctl__V1__ErrorsReply *rep, FILE *out);
int cli_alerts_print(struct cli *c, const Aioctl__V1__AlertsReply *rep, FILE *out);
int cli_history_print(struct cli *c, const char *host, const Aioctl__V1__HistoryReply *rep,
                      FILE *out);
int cli_trend_print(struct cli *c, const Aioctl__V1__TrendReply *rep, FILE *out);
int cli_drift_print(struct cli *c, const Aioctl__V1__DriftReply *rep, FILE *out);
int cli_rollouts_print(struct cli *c, const Aioctl__V1__RolloutListReply *rep, FILE *out);
int cli_audit_print(struct cli *c, const Aioctl__V1__AuditReply *rep, FILE *out);
int cli_host_show(struct cli *c, int argc, char **argv);
int cli_errors(struct cli *c, int argc, char **argv);
int cli_history(struct cli *c, int argc, char **argv);
int cli_report_trend(struct cli *c, int argc, char **argv);
int cli_report_rollout(struct cli *c, int argc, char **argv);
/* The trend report as one HTML page with inline SVG charts. */
int cli_trend_html(const struct cli *c, const Aioctl__V1__TrendReply *rep, size_t act, size_t watch,
                   FILE *out);
int cli_fleet_set(struct cli *c, int argc, char **argv);
int cli_fleet_drift(struct cli *c, int argc, char **argv);
int cli_fleet_reconcile(struct cli *c, int argc, char **argv);
int cli_rollout_list(struct cli *c, int argc, char **argv);
int cli_rollout_show(struct cli *c, int argc, char **argv);
int cli_rollout_pause(struct cli *c, int argc, char **argv);
int cli_rollout_resume(struct cli *c, int argc, char **argv);
int cli_rollout_abort(struct cli *c, int argc, char **argv);
int cli_rollout_rollback(struct cli *c, int argc, char **argv);
int cli_audit(struct cli *c, int argc, char **argv);
int cli_alerts(struct cli *c, int argc, char **argv);
int cli_enroll_create(struct cli *c, int argc, char **argv);
int cli_token_create(struct cli *c, int argc, char **argv);
int cli_token_list(struct cli *c, int argc, char **argv);
int cli_server_list(struct cli *c, int argc, char **argv);
int cli_token_revoke(struct cli *c, int argc, char **argv);
int cli_host_revoke(struct cli *c, int argc, char **argv);
int cli_host_remove(struct cli *c, int argc, char **argv);

/* A --since or --until value (times.c: durations back from now_ms, today,
 * yesterday, dates, RFC 3339 with any offset) as ms since the epoch (a
 * duration past it: the epoch); 0 or -EINVAL. */
int cli_time_parse(const char *s, uint64_t now_ms, uint64_t *ret_ms);
