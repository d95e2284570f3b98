/* aioctl errors: AIO failures and degradations across the fleet. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "names.h"

static const char *const headers[] = { "TIME", "HOST", "KIND", "VM", "DISK", "SOURCE" };
static const char *const csv_headers[] = { "time", "host",   "kind",    "vm",
	                                   "disk", "source", "sources", "line" };

int cli_errors(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__ErrorsRequest in = AIOCTL__V1__ERRORS_REQUEST__INIT;
	Aioctl__V1__ErrorsReply *rep = NULL;
	bool csv = c->format == CLI_CSV;
	struct cli_table t;
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

	if (c->format == CLI_JSON) {
		json_t *root = json_object(), *events = json_array();

		for (size_t i = 0; i < rep->n_events; i++)
			json_array_append_new(events, cli_event_json(rep->events[i]->host,
			                                             rep->events[i]->event));
		json_object_set_new(root, "events", events);
		json_object_set_new(root, "truncated", json_boolean(rep->truncated));
		r = cli_json_print(root, stdout) < 0 ? CLI_EXIT_FAILED : 0;
		goto out_free;
	}
	cli_table_init(&t, csv ? csv_headers : headers, csv ? 8 : 6);
	for (size_t i = 0; i < rep->n_events; i++) {
		const Aioctl__V1__AioEvent *e = rep->events[i]->event;
		char when[40], sources[AIO_EVENT_SOURCES_MAX * (AIO_PATH_MAX + 1)];
		const char *cells[8] = { when,
			                 rep->events[i]->host,
			                 aio_event_kind_name(e->kind),
			                 e->vm ? e->vm : (csv ? "" : "-"),
			                 e->disk ? e->disk : (csv ? "" : "-"),
			                 csv ? e->source : sources,
			                 sources,
			                 e->line ? e->line : "" };

		aio_time_format_rfc3339(e->time_ms, when, sizeof(when));
		cli_event_sources_text(e, sources, sizeof(sources));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, c->format, stdout);
	if (!csv)
		printf("\n%zu event%s%s\n", rep->n_events, rep->n_events == 1 ? "" : "s",
		       rep->truncated ? " (more matched: raise --limit or narrow --since)" : "");
	cli_table_done(&t);
out_free:
	aioctl__v1__errors_reply__free_unpacked(rep, NULL);
	return r;
}
