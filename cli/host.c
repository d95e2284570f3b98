/* aioctl host ...: one hypervisor in detail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "names.h"

static const char *counting_name(Aioctl__V1__CountingMode m)
{
	switch (m) {
	case AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE:
		return "single (aio-nr grows by nr_events)";
	case AIOCTL__V1__COUNTING_MODE__COUNTING_DOUBLE:
		return "double (older kernel: twice nr_events)";
	default:
		return "unknown";
	}
}

static void print_text(const Aioctl__V1__HostShowReply *rep)
{
	const Aioctl__V1__HostStatus *h = rep->status;
	const Aioctl__V1__Sample *s = h->sample;
	char seen[48], first[40], labels[512];
	uint64_t now = aio_now_ms();

	cli_ago(h->last_seen_ms, now, seen, sizeof(seen));
	aio_time_format_rfc3339(h->first_seen_ms, first, sizeof(first));
	cli_labels_text(h->labels, h->n_labels, labels, sizeof(labels));
	printf("Host:        %s (%s)\n", h->host, h->online ? "online" : "OFFLINE");
	printf("Last seen:   %s\n", seen);
	printf("First seen:  %s\n", first);
	printf("Labels:      %s\n", labels[0] ? labels : "-");
	printf("Kernel:      %s\n", h->kernel ? h->kernel : "-");
	printf("Agent:       %s, reporting every %ums\n", h->agent_version ? h->agent_version : "-",
	       h->interval_ms);
	printf("Counting:    %s\n", counting_name(h->counting));
	if (s) {
		printf("aio-nr:      %llu (interval min %llu, max %llu)\n",
		       (unsigned long long)s->aio_nr, (unsigned long long)s->aio_nr_min,
		       (unsigned long long)s->aio_nr_max);
		printf("aio-max-nr:  %llu\n", (unsigned long long)s->aio_max_nr);
		printf("Utilisation: %.1f%%\n", 100.0 * cli_utilization(s));
	} else {
		printf("aio-nr:      no report yet\n");
	}
}

int cli_host_show(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__HostShowRequest in = AIOCTL__V1__HOST_SHOW_REQUEST__INIT;
	Aioctl__V1__HostShowReply *rep = NULL;
	int r;

	if (!aio_host_name_valid(argv[0])) {
		fprintf(stderr, "aioctl: host show %s: not a host name\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	in.host = argv[0];
	if ((r = cli_call(c, "HostShow", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	if (c->format == CLI_JSON) {
		r = cli_json_print(cli_host_json(rep->status), stdout) < 0 ? CLI_EXIT_FAILED : 0;
	} else if (c->format == CLI_CSV) {
		static const char *const headers[] = { "key", "value" };
		struct cli_table t;
		json_t *j = cli_host_json(rep->status);
		const char *key;
		json_t *v;

		cli_table_init(&t, headers, 2);
		json_object_foreach(j, key, v)
		{
			char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
			const char *cells[2] = { key, text ? text : json_string_value(v) };

			cli_table_add(&t, cells);
			free(text);
		}
		cli_table_print(&t, CLI_CSV, stdout);
		cli_table_done(&t);
		json_decref(j);
	} else {
		print_text(rep);
	}
	aioctl__v1__host_show_reply__free_unpacked(rep, NULL);
	return r;
}
