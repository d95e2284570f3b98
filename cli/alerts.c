/* aioctl alerts: what the server's thresholds caught, active ones first. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "clock.h"

static const char *const headers[] = {
	"STATE", "KIND", "SUBJECT", "STARTED", "CLEARED", "MESSAGE"
};
static const char *const csv_headers[] = { "state",   "kind",  "subject",   "started",
	                                   "cleared", "value", "threshold", "message" };

int cli_alerts(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__AlertsRequest in = AIOCTL__V1__ALERTS_REQUEST__INIT;
	Aioctl__V1__AlertsReply *rep = NULL;
	bool csv = c->format == CLI_CSV;
	size_t active = 0;
	struct cli_table t;
	int r;

	in.has_since_ms = true;
	in.since_ms = aio_now_ms() - (c->since_ms ? c->since_ms : AIO_DAY_MS);
	if (c->limit) {
		in.has_limit = true;
		in.limit = (uint32_t)c->limit;
	}
	if ((r = cli_call(c, "Alerts", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	for (size_t i = 0; i < rep->n_alerts; i++)
		active += !rep->alerts[i]->has_cleared_ms;
	if (c->format == CLI_JSON) {
		json_t *root = json_object(), *list = json_array();

		for (size_t i = 0; i < rep->n_alerts; i++) {
			const Aioctl__V1__Alert *a = rep->alerts[i];
			json_t *o = json_object();

			json_object_set_new(o, "state",
			                    json_string(a->has_cleared_ms ? "cleared" : "active"));
			json_object_set_new(o, "kind", json_string(a->kind));
			json_object_set_new(o, "subject", json_string(a->subject));
			json_object_set_new(o, "started", cli_time_json(a->started_ms));
			json_object_set_new(o, "started_ms",
			                    json_integer((json_int_t)a->started_ms));
			json_object_set_new(o, "cleared",
			                    a->has_cleared_ms ? cli_time_json(a->cleared_ms)
			                                      : json_null());
			json_object_set_new(o, "value", json_real(a->value));
			json_object_set_new(o, "threshold", json_real(a->threshold));
			json_object_set_new(o, "message",
			                    json_string(a->message ? a->message : ""));
			json_array_append_new(list, o);
		}
		json_object_set_new(root, "active", json_integer((json_int_t)active));
		json_object_set_new(root, "alerts", list);
		json_object_set_new(root, "truncated", json_boolean(rep->truncated));
		r = cli_json_print(root, stdout) < 0 ? CLI_EXIT_FAILED : 0;
		goto out_free;
	}
	cli_table_init(&t, csv ? csv_headers : headers, csv ? 8 : 6);
	for (size_t i = 0; i < rep->n_alerts; i++) {
		const Aioctl__V1__Alert *a = rep->alerts[i];
		char started[40], cleared[40], value[32], threshold[32];
		const char *state = a->has_cleared_ms ? "cleared" : "ACTIVE";
		const char *msg = a->message ? a->message : "";
		const char *cells[8] = { state,   a->kind,           a->subject, started,
			                 cleared, csv ? value : msg, threshold,  msg };

		aio_time_format_rfc3339(a->started_ms, started, sizeof(started));
		if (a->has_cleared_ms)
			aio_time_format_rfc3339(a->cleared_ms, cleared, sizeof(cleared));
		else
			snprintf(cleared, sizeof(cleared), csv ? "" : "-");
		snprintf(value, sizeof(value), "%.6g", a->value);
		snprintf(threshold, sizeof(threshold), "%.6g", a->threshold);
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, c->format, stdout);
	if (c->format == CLI_TABLE)
		printf("\n%zu active, %zu cleared%s\n", active, rep->n_alerts - active,
		       rep->truncated ? " (more: raise --limit)" : "");
	cli_table_done(&t);
out_free:
	aioctl__v1__alerts_reply__free_unpacked(rep, NULL);
	return r;
}
