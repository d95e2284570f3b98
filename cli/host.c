/* aioctl host ...: one hypervisor in detail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "names.h"

static const char *counting_text(Aioctl__V1__CountingMode m)
{
	switch (m) {
	case AIOCTL__V1__COUNTING_MODE__COUNTING_SINGLE:
		return "single (aio-nr grows by nr_events)";
	case AIOCTL__V1__COUNTING_MODE__COUNTING_DOUBLE:
		return "double (older kernel: twice nr_events; aio-nr may pass aio-max-nr)";
	default:
		return "unknown (no AIO contexts to compare yet)";
	}
}

static void print_persisted(const Aioctl__V1__HostStatus *h)
{
	const Aioctl__V1__Persisted *p = h->persisted;

	if (!p) {
		printf("After reboot: not scanned yet\n");
		return;
	}
	if (p->has_value)
		printf("After reboot: %llu from %s%s\n", (unsigned long long)p->value,
		       cli_tty(p->file),
		       cli_persisted_differs(h) ? "  (differs from the live value)" : "");
	else
		printf("After reboot: %d (kernel default: no sysctl file sets it)%s\n",
		       AIO_KERNEL_DEFAULT_MAX,
		       cli_persisted_differs(h) ? "  (differs from the live value)" : "");
	for (size_t i = 0; i + 1 < p->n_settings; i++)
		printf("  overridden: %s:%u sets %llu\n", cli_tty(p->settings[i]->file),
		       p->settings[i]->line, (unsigned long long)p->settings[i]->value);
	if (p->has_procps_value || p->procps_file)
		printf("  procps 'sysctl --system' would end at %llu from %s\n",
		       (unsigned long long)p->procps_value,
		       p->procps_file ? cli_tty(p->procps_file) : "-");
}

static void print_users(const Aioctl__V1__HostShowReply *rep)
{
	static const char *const headers[] = { "VM/PROCESS", "PID", "CONTEXTS", "EVENTS", "HOW" };
	struct cli_table t;
	char when[48];

	if (!rep->has_users_time_ms) {
		printf("\nAIO users: not counted yet\n");
		return;
	}
	cli_ago(rep->users_time_ms, aio_now_ms(), when, sizeof(when));
	printf("\nAIO users (counted %s):\n", when);
	cli_table_init(&t, headers, 5);
	for (size_t i = 0; i < rep->n_users; i++) {
		const Aioctl__V1__AioUser *u = rep->users[i];
		char name[160], pid[16], ctx[16], ev[24];
		const char *cells[5] = { name, pid, ctx, ev,
			                 u->events_basis ? u->events_basis : "ring size" };

		snprintf(name, sizeof(name), "%s%s", u->name, u->is_vm ? " (vm)" : "");
		snprintf(pid, sizeof(pid), "%u", u->pid);
		snprintf(ctx, sizeof(ctx), "%u", u->contexts);
		snprintf(ev, sizeof(ev), "%llu", (unsigned long long)u->events);
		cli_table_add(&t, cells);
	}
	{
		char un[24];
		const char *cells[5] = { "(unexplained)", "-", "-", un, "aio-nr less the above" };

		snprintf(un, sizeof(un), "%llu", (unsigned long long)rep->unexplained);
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, CLI_TABLE, stdout);
	cli_table_done(&t);
}

static void print_events(const Aioctl__V1__HostShowReply *rep)
{
	static const char *const headers[] = { "TIME", "KIND", "VM", "DISK", "SOURCES" };
	struct cli_table t;

	if (!rep->n_recent_events) {
		printf("\nRecent AIO errors: none\n");
		return;
	}
	printf("\nRecent AIO errors (newest first):\n");
	cli_table_init(&t, headers, 5);
	for (size_t i = 0; i < rep->n_recent_events; i++) {
		const Aioctl__V1__AioEvent *e = rep->recent_events[i];
		char when[40], sources[AIO_EVENT_SOURCES_MAX * (AIO_PATH_MAX + 1)];
		const char *cells[5] = { when, aio_event_kind_name(e->kind), e->vm ? e->vm : "-",
			                 e->disk ? e->disk : "-", sources };

		aio_time_format_rfc3339(e->time_ms, when, sizeof(when));
		cli_event_sources_text(e, sources, sizeof(sources));
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, CLI_TABLE, stdout);
	cli_table_done(&t);
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
	printf("Host:        %s (%s)\n", cli_tty(h->host), h->online ? "online" : "OFFLINE");
	printf("Last seen:   %s\n", seen);
	printf("First seen:  %s\n", first);
	printf("Labels:      %s\n", labels[0] ? cli_tty(labels) : "-");
	printf("Kernel:      %s\n", h->kernel ? cli_tty(h->kernel) : "-");
	printf("Agent:       %s, reporting every %ums\n",
	       h->agent_version ? cli_tty(h->agent_version) : "-", h->interval_ms);
	printf("Counting:    %s\n", counting_text(h->counting));
	if (s) {
		printf("aio-nr:      %llu (interval min %llu, max %llu)\n",
		       (unsigned long long)s->aio_nr, (unsigned long long)s->aio_nr_min,
		       (unsigned long long)s->aio_nr_max);
		printf("aio-max-nr:  %llu\n", (unsigned long long)s->aio_max_nr);
		printf("Room:        %llu more %d-event contexts",
		       (unsigned long long)h->room_contexts, AIO_CONTEXT_EVENTS);
		if (cli_largest_demand(h))
			printf(": %llu more VMs like the largest here (%u contexts)",
			       (unsigned long long)(h->room_contexts / cli_largest_demand(h)),
			       cli_largest_demand(h));
		if (h->has_largest_demand_contexts && h->largest_demand_contexts)
			printf("\nGuard:       the largest domain that asked to start wanted %u "
			       "contexts",
			       h->largest_demand_contexts);
		printf("\nUtilisation: %.1f%%\n", 100.0 * cli_utilization(s));
	} else {
		printf("aio-nr:      no report yet\n");
	}
	printf("Errors 24h:  %u\n", h->errors_24h);
	if (h->dropped)
		printf("Dropped:     %llu reports (the agent's spool overflowed)\n",
		       (unsigned long long)h->dropped);
	print_persisted(h);
	print_users(rep);
	print_events(rep);
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
		r = cli_json_print(cli_host_show_json(rep), stdout) < 0 ? CLI_EXIT_FAILED : 0;
	} else if (c->format == CLI_CSV) {
		static const char *const headers[] = { "key", "value" };
		struct cli_table t;
		json_t *j = cli_host_show_json(rep);
		const char *key;
		json_t *v;

		cli_table_init(&t, headers, 2);
		json_object_foreach(j, key, v)
		{
			/* nothing is an empty cell, as in every CSV */
			char *text = json_is_string(v) || json_is_null(v)
			                     ? NULL
			                     : json_dumps(v, JSON_ENCODE_ANY);
			const char *cells[2] = { key, text              ? text
				                      : json_is_null(v) ? ""
				                                        : json_string_value(v) };

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
