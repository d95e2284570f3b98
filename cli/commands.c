/* The command table: parsing, help and shell completion all come from it. */
#include "cli.h"

const struct cli_command cli_commands[] = {
	{ "fleet", "status", 0, 0, cli_fleet_status, "",
	  "every host: aio-nr, limit, utilisation, last seen, state, labels", "sort" },
	{ "host", "show", 1, 1, cli_host_show, "HOST",
	  "one host: values, AIO users per VM, after-reboot value, recent errors", "" },
	{ "errors", "list", 0, 0, cli_errors, "",
	  "AIO failures and degradations, newest first (also: aioctl errors)",
	  "since host vm limit" },
	{ NULL, NULL, 0, 0, NULL, NULL, NULL, NULL },
};
