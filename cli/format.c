/* Formatting shared by commands, and the JSON views (view.h). */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "clock.h"
#include "duration.h"
#include "rpc.h"
#include "states.h"

double cli_utilization(const Aioctl__V1__Sample *s)
{
	if (!s || !s->aio_max_nr)
		return 0.0;
	return (double)s->aio_nr / (double)s->aio_max_nr;
}

uint32_t cli_largest_demand(const Aioctl__V1__HostStatus *h)
{
	uint32_t vm = h->has_largest_vm_contexts ? h->largest_vm_contexts : 0;
	uint32_t demand = h->has_largest_demand_contexts ? h->largest_demand_contexts : 0;

	return vm > demand ? vm : demand;
}

void cli_labels_text(Aioctl__V1__Label *const *labels, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", labels[i]->key,
		                 labels[i]->value);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

void cli_host_write(struct cli_jw *w, const Aioctl__V1__HostStatus *h)
{
	const Aioctl__V1__Sample *s = h->sample;
	const Aioctl__V1__Persisted *p = h->persisted;

	cli_jw_object(w, NULL);
	cli_jw_text(w, "host", h->host);
	cli_jw_uint(w, "aio_nr", s, s ? s->aio_nr : 0);
	cli_jw_uint(w, "aio_max_nr", s, s ? s->aio_max_nr : 0);
	cli_jw_uint(w, "aio_nr_min", s, s ? s->aio_nr_min : 0);
	cli_jw_uint(w, "aio_nr_max", s, s ? s->aio_nr_max : 0);
	cli_jw_real(w, "utilization", s, cli_utilization(s));
	cli_jw_uint(w, "room", h->has_room_contexts, h->room_contexts);
	cli_jw_uint(w, "largest_vm_contexts", h->has_largest_vm_contexts, h->largest_vm_contexts);
	cli_jw_uint(w, "largest_demand_contexts", h->has_largest_demand_contexts,
	            h->largest_demand_contexts);
	cli_jw_time(w, "sampled_at", s ? s->time_ms : 0);
	cli_jw_time(w, "last_seen", h->last_seen_ms);
	cli_jw_time(w, "first_seen", h->first_seen_ms);
	cli_jw_bool(w, "online", h->online);
	cli_jw_object(w, "labels");
	for (size_t i = 0; i < h->n_labels; i++)
		cli_jw_text(w, h->labels[i]->key, h->labels[i]->value);
	cli_jw_end(w, '}');
	cli_jw_text(w, "kernel", h->kernel);
	cli_jw_text(w, "agent_version", h->agent_version);
	cli_jw_int(w, "interval_ms", h->interval_ms);
	cli_jw_uint(w, "last_seq", true, h->last_seq);
	cli_jw_int(w, "errors_24h", h->errors_24h);
	cli_jw_text(w, "counting", aio_counting_name(h->counting));
	if (!p) {
		cli_jw_null(w, "persisted");
	} else {
		cli_jw_object(w, "persisted");
		cli_jw_uint(w, "value", p->has_value, p->value);
		cli_jw_text(w, "file", p->file);
		cli_jw_uint(w, "after_reboot", true, cli_reboot_value(p));
		cli_jw_array(w, "settings");
		for (size_t i = 0; i < p->n_settings; i++) {
			cli_jw_object(w, NULL);
			cli_jw_text(w, "file", p->settings[i]->file);
			cli_jw_int(w, "line", p->settings[i]->line);
			cli_jw_uint(w, "value", true, p->settings[i]->value);
			cli_jw_end(w, '}');
		}
		cli_jw_end(w, ']');
		cli_jw_uint(w, "procps_value", p->has_procps_value, p->procps_value);
		cli_jw_text(w, "procps_file", p->procps_file);
		cli_jw_end(w, '}');
	}
	if (p && s)
		cli_jw_bool(w, "persisted_differs", cli_persisted_differs(h));
	else
		cli_jw_null(w, "persisted_differs");
	cli_jw_uint(w, "dropped_reports", true, h->dropped);
	cli_jw_end(w, '}');
}

json_t *cli_host_json(const Aioctl__V1__HostStatus *h)
{
	struct cli_jw w;
	char *text = NULL;
	size_t len = 0;
	json_t *o = NULL;
	FILE *f = open_memstream(&text, &len);

	if (f) {
		cli_jw_init(&w, f);
		cli_host_write(&w, h);
		if (fclose(f) == 0)
			o = json_loadb(text, len, 0, NULL);
	}
	free(text);
	return o ? o : json_object();
}

/* What fs.aio-max-nr is after a reboot: the persisted value, or the
 * kernel's default when nothing sets it. */
uint64_t cli_reboot_value(const Aioctl__V1__Persisted *p)
{
	return p && p->has_value ? p->value : AIO_KERNEL_DEFAULT_MAX;
}

bool cli_persisted_differs(const Aioctl__V1__HostStatus *h)
{
	return h->persisted && h->sample && cli_reboot_value(h->persisted) != h->sample->aio_max_nr;
}

json_t *cli_event_sources_json(const Aioctl__V1__AioEvent *e)
{
	json_t *a = json_array();

	json_array_append_new(a, cli_json_text(e->source));
	for (size_t i = 0; i < e->n_sources; i++)
		json_array_append_new(a, cli_json_text(e->sources[i]));
	return a;
}

void cli_event_sources_text(const Aioctl__V1__AioEvent *e, char *buf, size_t len)
{
	int off = snprintf(buf, len, "%s", e->source);

	for (size_t i = 0; i < e->n_sources && off >= 0 && (size_t)off < len; i++)
		off += snprintf(buf + off, len - (size_t)off, ",%s", e->sources[i]);
}

json_t *cli_event_json(const char *host, const Aioctl__V1__AioEvent *e)
{
	json_t *o = json_object();

	if (host)
		json_object_set_new(o, "host", cli_json_text(host));
	json_object_set_new(o, "time", cli_time_json(e->time_ms));
	json_object_set_new(o, "kind", cli_json_text(aio_event_kind_name(e->kind)));
	json_object_set_new(o, "vm", e->vm ? cli_json_text(e->vm) : json_null());
	json_object_set_new(o, "disk", e->disk ? cli_json_text(e->disk) : json_null());
	json_object_set_new(o, "source", cli_json_text(e->source));
	json_object_set_new(o, "sources", cli_event_sources_json(e));
	json_object_set_new(o, "line", e->line ? cli_json_text(e->line) : json_null());
	return o;
}

json_t *cli_user_json(const Aioctl__V1__AioUser *u)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", cli_json_text(u->name));
	json_object_set_new(o, "pid", json_integer(u->pid));
	json_object_set_new(o, "vm", json_boolean(u->is_vm));
	json_object_set_new(o, "contexts", json_integer(u->contexts));
	json_object_set_new(o, "events", json_integer((json_int_t)u->events));
	json_object_set_new(o, "events_exact", json_boolean(u->events_exact));
	json_object_set_new(o, "events_basis",
	                    u->events_basis ? cli_json_text(u->events_basis) : json_null());
	return o;
}

/* The events the listed users hold: exact for QEMU of a known version. */
static uint64_t explained(const Aioctl__V1__HostShowReply *rep)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < rep->n_users; i++)
		sum += rep->users[i]->events;
	return sum;
}

json_t *cli_host_show_json(const Aioctl__V1__HostShowReply *rep)
{
	json_t *o = cli_host_json(rep->status), *users = json_array(), *events = json_array();

	for (size_t i = 0; i < rep->n_users; i++)
		json_array_append_new(users, cli_user_json(rep->users[i]));
	for (size_t i = 0; i < rep->n_recent_events; i++)
		json_array_append_new(events, cli_event_json(NULL, rep->recent_events[i]));
	json_object_set_new(o, "users", users);
	json_object_set_new(o, "explained", json_integer((json_int_t)explained(rep)));
	json_object_set_new(o, "unexplained",
	                    rep->has_unexplained ? json_integer((json_int_t)rep->unexplained)
	                                         : json_null());
	json_object_set_new(o, "users_counted_at",
	                    cli_time_json(rep->has_users_time_ms ? rep->users_time_ms : 0));
	json_object_set_new(o, "recent_errors", events);
	return o;
}

json_t *cli_rollout_json(const Aioctl__V1__Rollout *r)
{
	json_t *o = json_object(), *steps = json_array(), *skipped = json_array(),
	       *refused = json_array();

	json_object_set_new(o, "id", json_integer((json_int_t)r->id));
	json_object_set_new(o, "state",
	                    cli_json_text(cli_rollout_state_name(CLI_ROLLOUT_STATE(r))));
	json_object_set_new(o, "target", json_integer((json_int_t)r->target));
	json_object_set_new(o, "message", r->message ? cli_json_text(r->message) : json_null());
	json_object_set_new(o, "created_by",
	                    r->created_by ? cli_json_text(r->created_by) : json_null());
	json_object_set_new(o, "created", cli_time_json(r->created_ms));
	json_object_set_new(o, "finished", cli_time_json(r->has_finished_ms ? r->finished_ms : 0));
	json_object_set_new(o, "waves", json_integer(r->waves));
	json_object_set_new(o, "wave", json_integer(r->wave));
	json_object_set_new(o, "offline_deadline", cli_time_json(r->offline_deadline_ms));
	json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
	for (size_t i = 0; i < r->n_steps; i++) {
		const Aioctl__V1__RolloutStep *p = r->steps[i];
		json_t *st = json_object();

		json_object_set_new(st, "host", cli_json_text(p->host));
		json_object_set_new(st, "state",
		                    cli_json_text(cli_step_state_name(CLI_STEP_STATE(p))));
		json_object_set_new(st, "wave", json_integer(p->wave));
		json_object_set_new(st, "target", json_integer((json_int_t)p->target));
		json_object_set_new(st, "runtime_before",
		                    p->has_runtime_before
		                            ? json_integer((json_int_t)p->runtime_before)
		                            : json_null());
		json_object_set_new(st, "runtime_after",
		                    p->has_runtime_after
		                            ? json_integer((json_int_t)p->runtime_after)
		                            : json_null());
		json_object_set_new(st, "persisted_before",
		                    p->has_persisted_before
		                            ? json_integer((json_int_t)p->persisted_before)
		                            : json_null());
		json_object_set_new(st, "persisted_after",
		                    p->has_persisted_after
		                            ? json_integer((json_int_t)p->persisted_after)
		                            : json_null());
		json_object_set_new(st, "message",
		                    p->message ? cli_json_text(p->message) : json_null());
		json_object_set_new(st, "rollback",
		                    cli_json_text(cli_rollback_state_name(cli_rollback_state(p))));
		json_object_set_new(st, "started",
		                    cli_time_json(p->has_started_ms ? p->started_ms : 0));
		json_object_set_new(st, "finished",
		                    cli_time_json(p->has_finished_ms ? p->finished_ms : 0));
		json_array_append_new(steps, st);
	}
	for (size_t i = 0; i < r->n_skipped; i++)
		json_array_append_new(skipped, cli_json_text(r->skipped[i]));
	for (size_t i = 0; i < r->n_refused; i++)
		json_array_append_new(refused, cli_json_text(r->refused[i]));
	json_object_set_new(o, "steps", steps);
	json_object_set_new(o, "skipped", skipped);
	json_object_set_new(o, "refused", refused);
	return o;
}
