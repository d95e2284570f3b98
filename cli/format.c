/* Formatting shared by commands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "duration.h"

double cli_utilization(const Aioctl__V1__Sample *s)
{
	if (!s || !s->aio_max_nr)
		return 0.0;
	return (double)s->aio_nr / (double)s->aio_max_nr;
}

void cli_ago(uint64_t then_ms, uint64_t now_ms, char *buf, size_t len)
{
	char d[32];

	if (!then_ms) {
		snprintf(buf, len, "never");
		return;
	}
	if (then_ms >= now_ms) {
		snprintf(buf, len, "now");
		return;
	}
	/* whole seconds are enough for people */
	aio_duration_format((now_ms - then_ms) / 1000 * 1000, d, sizeof(d));
	snprintf(buf, len, "%s ago", strcmp(d, "0s") ? d : "<1s");
}

json_t *cli_labels_json(Aioctl__V1__Label *const *labels, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, labels[i]->key, json_string(labels[i]->value));
	return o;
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

json_t *cli_time_json(uint64_t unix_ms)
{
	char buf[40];

	if (!unix_ms)
		return json_null();
	aio_time_format_rfc3339(unix_ms, buf, sizeof(buf));
	return json_string(buf);
}

json_t *cli_host_json(const Aioctl__V1__HostStatus *h)
{
	const Aioctl__V1__Sample *s = h->sample;
	json_t *o = json_object();

	json_object_set_new(o, "host", json_string(h->host));
	json_object_set_new(o, "aio_nr", s ? json_integer((json_int_t)s->aio_nr) : json_null());
	json_object_set_new(o, "aio_max_nr",
	                    s ? json_integer((json_int_t)s->aio_max_nr) : json_null());
	json_object_set_new(o, "aio_nr_min",
	                    s ? json_integer((json_int_t)s->aio_nr_min) : json_null());
	json_object_set_new(o, "aio_nr_max",
	                    s ? json_integer((json_int_t)s->aio_nr_max) : json_null());
	json_object_set_new(o, "utilization", s ? json_real(cli_utilization(s)) : json_null());
	json_object_set_new(o, "sampled_at", cli_time_json(s ? s->time_ms : 0));
	json_object_set_new(o, "last_seen", cli_time_json(h->last_seen_ms));
	json_object_set_new(o, "first_seen", cli_time_json(h->first_seen_ms));
	json_object_set_new(o, "online", json_boolean(h->online));
	json_object_set_new(o, "labels", cli_labels_json(h->labels, h->n_labels));
	json_object_set_new(o, "kernel", h->kernel ? json_string(h->kernel) : json_null());
	json_object_set_new(o, "agent_version",
	                    h->agent_version ? json_string(h->agent_version) : json_null());
	json_object_set_new(o, "interval_ms", json_integer(h->interval_ms));
	json_object_set_new(o, "last_seq", json_integer((json_int_t)h->last_seq));
	return o;
}
