/* aioctl errors: AIO failures and degradations across the fleet. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "names.h"

enum { TIME, HOST, KIND, VM, DISK, SOURCE, SOURCES, LINE, N_COLS };

/* the table's SOURCE lists every source of the incident */
static const struct cli_column cols[N_COLS] = {
	[TIME] = CLI_COL("TIME", "time", CLI_IN_ALL),
	[HOST] = CLI_COL("HOST", "host", CLI_IN_ALL),
	[KIND] = CLI_COL("KIND", "kind", CLI_IN_ALL),
	[VM] = CLI_COL("VM", "vm", CLI_IN_ALL),
	[DISK] = CLI_COL("DISK", "disk", CLI_IN_ALL),
	[SOURCE] = CLI_COL(NULL, "source", CLI_IN_CSV | CLI_IN_JSON),
	[SOURCES] = CLI_COL("SOURCE", "sources", CLI_IN_ALL),
	[LINE] = CLI_COL(NULL, "line", CLI_IN_CSV | CLI_IN_JSON),
};

int cli_errors(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__ErrorsRequest in = AIOCTL__V1__ERRORS_REQUEST__INIT;
	Aioctl__V1__ErrorsReply *rep = NULL;
	int r;

	if (c->host && !aio_host_name_valid(c->host)) {
		fprintf(stderr, "aioctl: --host %s: not a host name\n", c->host);
		return CLI_EXIT_USAGE;
	}
	in.has_since_ms = true;
	in.since_ms = c->since_ms ? aio_now_ms() - c->since_ms : aio_now_ms() - AIO_DAY_MS;
	in.host = (char *)c->host;
	in.vm = (char *)c->vm;
	if (c->limit) {
		in.has_limit = true;
		in.limit = (uint32_t)c->limit;
	}
	if ((r = cli_call(c, "Errors", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	r = cli_errors_print(c, rep, stdout);
	aioctl__v1__errors_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_errors_print(struct cli *c, const Aioctl__V1__ErrorsReply *rep, FILE *out)
{
	struct cli_rows rows;
	json_t *root;
	int r = 0;

	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_events);
	for (size_t i = 0; i < rep->n_events && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__AioEvent *e = rep->events[i]->event;
		char sources[AIO_EVENT_SOURCES_MAX * (AIO_PATH_MAX + 1)];

		cli_event_sources_text(e, sources, sizeof(sources));
		cli_cell_time(&rows, TIME, e->time_ms);
		cli_cell_text(&rows, HOST, rep->events[i]->host);
		cli_cell_text(&rows, KIND, aio_event_kind_name(e->kind));
		cli_cell_text(&rows, VM, e->vm);
		cli_cell_text(&rows, DISK, e->disk);
		cli_cell_text(&rows, SOURCE, e->source);
		cli_cell_forms(&rows, SOURCES, sources, NULL, cli_event_sources_json(e));
		cli_cell_text(&rows, LINE, e->line);
	}
	root = json_object();
	json_object_set_new(root, "events", json_array());
	json_object_set_new(root, "truncated", json_boolean(rep->truncated));
	if (cli_rows_print(&rows, "events", root, out) < 0)
		r = CLI_EXIT_FAILED;
	if (c->format == CLI_TABLE)
		fprintf(out, "\n%zu event%s%s\n", rep->n_events, rep->n_events == 1 ? "" : "s",
		        rep->truncated ? " (more matched: raise --limit or narrow --since)" : "");
	cli_rows_done(&rows);
	return r;
}
