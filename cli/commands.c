/* The command table: parsing, help and shell completion all come from it
 * (the flags each command takes are in flags.c). */
#include "cli.h"

const struct cli_command cli_commands[] = {
	{ "fleet", "status", 0, 0, cli_fleet_status, "",
	  "every host: aio-nr, limit, utilisation, after-reboot value, errors, state",
	  "aioctl fleet status\naioctl fleet status --sort util -r --select rack=r12\naioctl fleet "
	  "status --hosts 'hv-1*,hv-20' -o csv --no-headers\naioctl fleet status -w 5s" },
	{ "fleet", "set", 0, 0, cli_fleet_set, "",
	  "change fs.aio-max-nr across hosts: canaries, batches, gates, rollback",
	  "aioctl fleet set --max 2097152 --dry-run\naioctl fleet set --max 2097152 --select "
	  "rack=r12 --canary 2 --batch 20% --soak 5m --yes" },
	{ "fleet", "drift", 0, 0, cli_fleet_drift, "",
	  "hosts whose live or after-reboot value left what a rollout set",
	  "aioctl fleet drift\naioctl fleet drift -o json" },
	{ "fleet", "reconcile", 0, 0, cli_fleet_reconcile, "",
	  "put drifted hosts back to their desired value (a rollout)",
	  "aioctl fleet reconcile --dry-run\naioctl fleet reconcile --hosts 'hv-1*' --yes" },
	{ "host", "show", 1, 1, cli_host_show, "HOST",
	  "one host: values, AIO users per VM, after-reboot value, recent errors",
	  "aioctl host show hv17\naioctl host show hv17 -o json" },
	{ "errors", "list", 0, 0, cli_errors, "",
	  "AIO failures and degradations, newest first (also: aioctl errors)",
	  "aioctl errors\naioctl errors --since yesterday --host hv17\naioctl errors --since 1w -o "
	  "csv" },
	{ "history", "show", 1, 1, cli_history, "HOST",
	  "a host's aio-nr over time: min, mean, max, last, limit per step; with --vm, that "
	  "VM's AIO contexts at each change (also: aioctl history HOST)",
	  "aioctl history hv17\naioctl history hv17 --since 2026-12-01 --until 2026-12-02 --step "
	  "1h\naioctl history hv17 --vm instance-0001" },
	{ "report", "trend", 0, 0, cli_report_trend, "",
	  "capacity review: peak, p95, growth per day, projected exhaustion, recommended "
	  "limit and a verdict per host, group and fleet",
	  "aioctl report trend --since 30d\naioctl report trend --group-by rack --top 10\naioctl "
	  "report trend -o html > trend.html" },
	{ "report", "rollout", 1, 1, cli_report_rollout, "ID",
	  "did it help: each host's limit, peak utilisation and AIO errors in equal windows "
	  "before and after its change",
	  "aioctl report rollout 3\naioctl report rollout 3 --window 6h -o json" },
	{ "rollout", "list", 0, 0, cli_rollout_list, "", "rollouts, newest first",
	  "aioctl rollout list\naioctl rollout list --limit 10 -o json" },
	{ "rollout", "show", 1, 1, cli_rollout_show, "ID", "per host: state, before and after",
	  "aioctl rollout show 3\naioctl rollout show 3 -w" },
	{ "rollout", "pause", 1, 1, cli_rollout_pause, "ID", "start no more hosts",
	  "aioctl rollout pause 3" },
	{ "rollout", "resume", 1, 1, cli_rollout_resume, "ID",
	  "go on (the failures so far are accepted)", "aioctl rollout resume 3" },
	{ "rollout", "abort", 1, 1, cli_rollout_abort, "ID",
	  "stop for good; changed hosts keep the change", "aioctl rollout abort 3" },
	{ "rollout", "rollback", 1, 1, cli_rollout_rollback, "ID",
	  "restore every changed host's previous live value and file",
	  "aioctl rollout rollback 3\naioctl rollout rollback 3 --no-wait" },
	{ "alerts", "list", 0, 0, cli_alerts, "",
	  "alerts active now and those cleared recently, with when each started and cleared "
	  "(also: aioctl alerts)",
	  "aioctl alerts\naioctl alerts --since 1w -o csv\naioctl alerts -w 10s" },
	{ "audit", "list", 0, 0, cli_audit, "",
	  "who changed what, when, with what result (also: aioctl audit)",
	  "aioctl audit\naioctl audit --since today -o json" },
	{ "host", "revoke", 1, 1, cli_host_revoke, "HOST",
	  "refuse this host's agent from now on (until it enrolls again)",
	  "aioctl host revoke hv17" },
	{ "host", "remove", 1, 1, cli_host_remove, "HOST",
	  "forget a decommissioned host: its history, events and alerts go (it enrolls again "
	  "as a new host)",
	  "aioctl host remove hv17\naioctl host remove hv17 --force" },
	{ "enroll", "create", 0, 0, cli_enroll_create, "",
	  "a one-time token an agent trades for its host secret",
	  "aioctl enroll create --host hv17 > hv17.token\naioctl enroll create --expires 2h" },
	{ "token", "create", 0, 0, cli_token_create, "",
	  "a token for people: viewer, operator, admin",
	  "aioctl token create --name alice --role viewer > alice.token" },
	{ "token", "list", 0, 0, cli_token_list, "", "tokens, their roles, revoked or not",
	  "aioctl token list" },
	{ "token", "revoke", 1, 1, cli_token_revoke, "NAME", "refuse this token from now on",
	  "aioctl token revoke alice" },
	{ "server", "list", 0, 0, cli_server_list, "",
	  "the aio-servers on this fleet's database, who leads, their agents",
	  "aioctl server list\naioctl server list -o json" },
	{ NULL, NULL, 0, 0, NULL, NULL, NULL, NULL },
};

/* The commands that print rows, and so CSV; the others (a rollout, a
 * token) refuse --output csv. */
const char cli_csv_commands[] = "fleet.status fleet.drift host.show errors.list history.show "
                                "report.trend report.rollout rollout.list alerts.list "
                                "audit.list token.list server.list";
