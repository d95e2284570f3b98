/* aioctl alerts: what the server's thresholds caught, active ones first. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "clock.h"

enum { STATE, KIND, SUBJECT, STARTED, STARTED_MS, CLEARED, VALUE, THRESHOLD, MESSAGE, N_COLS };

static const struct cli_column cols[N_COLS] = {
	[STATE] = CLI_COL("STATE", "state", CLI_IN_ALL),
	[KIND] = CLI_COL("KIND", "kind", CLI_IN_ALL),
	[SUBJECT] = CLI_COL("SUBJECT", "subject", CLI_IN_ALL),
	[STARTED] = CLI_COL("STARTED", "started", CLI_IN_ALL),
	[STARTED_MS] = CLI_COL(NULL, "started_ms", CLI_IN_JSON),
	[CLEARED] = CLI_COL("CLEARED", "cleared", CLI_IN_ALL),
	[VALUE] = CLI_COL("VALUE", "value", CLI_IN_CSV | CLI_IN_JSON),
	[THRESHOLD] = CLI_COL("THRESHOLD", "threshold", CLI_IN_CSV | CLI_IN_JSON),
	[MESSAGE] = CLI_COL("MESSAGE", "message", CLI_IN_ALL),
};

int cli_alerts(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__AlertsRequest in = AIOCTL__V1__ALERTS_REQUEST__INIT;
	Aioctl__V1__AlertsReply *rep = NULL;
	int r;

	in.has_since_ms = true;
	in.since_ms = aio_now_ms() - (c->since_ms ? c->since_ms : AIO_DAY_MS);
	if (c->limit) {
		in.has_limit = true;
		in.limit = (uint32_t)c->limit;
	}
	if ((r = cli_call(c, "Alerts", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	r = cli_alerts_print(c, rep, stdout);
	aioctl__v1__alerts_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_alerts_print(struct cli *c, const Aioctl__V1__AlertsReply *rep, FILE *out)
{
	struct cli_rows rows;
	size_t active = 0;
	json_t *root;
	int r = 0;

	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_alerts);
	for (size_t i = 0; i < rep->n_alerts; i++) {
		const Aioctl__V1__Alert *a = rep->alerts[i];
		bool cleared = a->has_cleared_ms;

		active += !cleared;
		if (cli_rows_add(&rows) < 0)
			break;
		cli_cell_forms(&rows, STATE, cleared ? "cleared" : "ACTIVE", NULL,
		               cli_json_text(cleared ? "cleared" : "active"));
		cli_cell_text(&rows, KIND, a->kind);
		cli_cell_text(&rows, SUBJECT, a->subject);
		cli_cell_time(&rows, STARTED, a->started_ms);
		cli_cell_uint(&rows, STARTED_MS, true, a->started_ms);
		cli_cell_time(&rows, CLEARED, cleared ? a->cleared_ms : 0);
		cli_cell_real(&rows, VALUE, true, a->value, 2);
		cli_cell_real(&rows, THRESHOLD, true, a->threshold, 2);
		cli_cell_text(&rows, MESSAGE, a->message ? a->message : "");
	}
	root = json_object();
	json_object_set_new(root, "active", json_integer((json_int_t)active));
	json_object_set_new(root, "alerts", json_array());
	json_object_set_new(root, "truncated", json_boolean(rep->truncated));
	if (cli_rows_print(&rows, "alerts", root, out) < 0)
		r = CLI_EXIT_FAILED;
	if (c->format == CLI_TABLE)
		fprintf(out, "\n%zu active, %zu cleared%s\n", active, rep->n_alerts - active,
		        rep->truncated ? " (more: raise --limit)" : "");
	cli_rows_done(&rows);
	return r;
}
