/* The command table: parsing, help and shell completion all come from it. */
#include "cli.h"

const struct cli_command cli_commands[] = {
	{ "fleet", "status", 0, 0, cli_fleet_status, "",
	  "every host: aio-nr, limit, utilisation, last seen, state, labels", "sort" },
	{ "host", "show", 1, 1, cli_host_show, "HOST", "one host in detail", "" },
	{ NULL, NULL, 0, 0, NULL, NULL, NULL, NULL },
};
