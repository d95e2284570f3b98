/* The command table: parsing, help and shell completion all come from it
 * (the flags each command takes are in flags.c). */
#include "cli.h"

const struct cli_command cli_commands[] = {
	{ "fleet", "status", 0, 0, cli_fleet_status, "",
	  "every host: aio-nr, limit, utilisation, after-reboot value, errors, state" },
	{ "fleet", "set", 0, 0, cli_fleet_set, "",
	  "change fs.aio-max-nr across hosts: canaries, batches, gates, rollback" },
	{ "fleet", "drift", 0, 0, cli_fleet_drift, "",
	  "hosts whose live or after-reboot value left what a rollout set" },
	{ "fleet", "reconcile", 0, 0, cli_fleet_reconcile, "",
	  "put drifted hosts back to their desired value (a rollout)" },
	{ "host", "show", 1, 1, cli_host_show, "HOST",
	  "one host: values, AIO users per VM, after-reboot value, recent errors" },
	{ "errors", "list", 0, 0, cli_errors, "",
	  "AIO failures and degradations, newest first (also: aioctl errors)" },
	{ "history", "show", 1, 1, cli_history, "HOST",
	  "a host's aio-nr over time: min, mean, max, last, limit per step; with --vm, that "
	  "VM's AIO contexts at each change (also: aioctl history HOST)" },
	{ "report", "trend", 0, 0, cli_report_trend, "",
	  "capacity review: peak, p95, growth per day, projected exhaustion, recommended "
	  "limit and a verdict per host, group and fleet" },
	{ "report", "rollout", 1, 1, cli_report_rollout, "ID",
	  "did it help: each host's limit, peak utilisation and AIO errors in equal windows "
	  "before and after its change" },
	{ "rollout", "list", 0, 0, cli_rollout_list, "", "rollouts, newest first" },
	{ "rollout", "show", 1, 1, cli_rollout_show, "ID", "per host: state, before and after" },
	{ "rollout", "pause", 1, 1, cli_rollout_pause, "ID", "start no more hosts" },
	{ "rollout", "resume", 1, 1, cli_rollout_resume, "ID",
	  "go on (the failures so far are accepted)" },
	{ "rollout", "abort", 1, 1, cli_rollout_abort, "ID",
	  "stop for good; changed hosts keep the change" },
	{ "rollout", "rollback", 1, 1, cli_rollout_rollback, "ID",
	  "restore every changed host's previous live value and file" },
	{ "alerts", "list", 0, 0, cli_alerts, "",
	  "alerts active now and those cleared recently, with when each started and cleared "
	  "(also: aioctl alerts)" },
	{ "audit", "list", 0, 0, cli_audit, "",
	  "who changed what, when, with what result (also: aioctl audit)" },
	{ "host", "revoke", 1, 1, cli_host_revoke, "HOST",
	  "refuse this host's agent from now on (until it enrolls again)" },
	{ "host", "remove", 1, 1, cli_host_remove, "HOST",
	  "forget a decommissioned host: its history, events and alerts go (it enrolls again "
	  "as a new host)" },
	{ "enroll", "create", 0, 0, cli_enroll_create, "",
	  "a one-time token an agent trades for its host secret" },
	{ "token", "create", 0, 0, cli_token_create, "",
	  "a token for people: viewer, operator, admin" },
	{ "token", "list", 0, 0, cli_token_list, "", "tokens, their roles, revoked or not" },
	{ "token", "revoke", 1, 1, cli_token_revoke, "NAME", "refuse this token from now on" },
	{ NULL, NULL, 0, 0, NULL, NULL, NULL },
};
