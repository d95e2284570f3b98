/* The command table: parsing, help and shell completion all come from it. */
#include "cli.h"

const struct cli_command cli_commands[] = {
	{ "fleet", "status", 0, 0, cli_fleet_status, "",
	  "every host: aio-nr, limit, utilisation, after-reboot value, errors, state",
	  "sort live" },
	{ "fleet", "set", 0, 0, cli_fleet_set, "",
	  "change fs.aio-max-nr across hosts: canaries, batches, gates, rollback",
	  "max select hosts canary batch max-failures soak on-failure offline-timeout force "
	  "dry-run yes no-wait supersede wait-timeout" },
	{ "fleet", "drift", 0, 0, cli_fleet_drift, "",
	  "hosts whose live or after-reboot value left what a rollout set", "" },
	{ "fleet", "reconcile", 0, 0, cli_fleet_reconcile, "",
	  "put drifted hosts back to their desired value (a rollout)",
	  "hosts dry-run yes no-wait supersede wait-timeout" },
	{ "host", "show", 1, 1, cli_host_show, "HOST",
	  "one host: values, AIO users per VM, after-reboot value, recent errors", "" },
	{ "errors", "list", 0, 0, cli_errors, "",
	  "AIO failures and degradations, newest first (also: aioctl errors)",
	  "since host vm limit" },
	{ "rollout", "list", 0, 0, cli_rollout_list, "", "rollouts, newest first", "limit" },
	{ "rollout", "show", 1, 1, cli_rollout_show, "ID", "per host: state, before and after", "" },
	{ "rollout", "pause", 1, 1, cli_rollout_pause, "ID", "start no more hosts", "" },
	{ "rollout", "resume", 1, 1, cli_rollout_resume, "ID",
	  "go on (the failures so far are accepted)", "" },
	{ "rollout", "abort", 1, 1, cli_rollout_abort, "ID",
	  "stop for good; changed hosts keep the change", "" },
	{ "rollout", "rollback", 1, 1, cli_rollout_rollback, "ID",
	  "restore every changed host's previous live value and file", "no-wait wait-timeout" },
	{ "audit", "list", 0, 0, cli_audit, "",
	  "who changed what, when, with what result (also: aioctl audit)", "since limit" },
	{ NULL, NULL, 0, 0, NULL, NULL, NULL, NULL },
};
