/* aioctl fleet ...: the whole fleet at a glance. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"

/* One column set; people get units and ages, scripts (CSV) raw values. */
static const char *const status_headers[] = {
	"HOST",   "AIO-NR",  "AIO-MAX-NR", "ROOM",  "UTIL",   "PEAK",
	"REBOOT", "ERR-24H", "LAST SEEN",  "STATE", "LABELS",
};
static const char *const status_csv_headers[] = {
	"host",         "aio_nr",     "aio_max_nr", "room",   "utilization", "aio_nr_max",
	"after_reboot", "errors_24h", "last_seen",  "online", "labels",
};

#define N_STATUS_COLS (sizeof(status_headers) / sizeof(status_headers[0]))

static int by_utilization(const void *a, const void *b)
{
	const Aioctl__V1__HostStatus *x = *(Aioctl__V1__HostStatus *const *)a;
	const Aioctl__V1__HostStatus *y = *(Aioctl__V1__HostStatus *const *)b;
	double ux = cli_utilization(x->sample), uy = cli_utilization(y->sample);

	if (ux != uy)
		return ux < uy ? 1 : -1;
	return strcmp(x->host, y->host);
}

/* Least room first: the hosts where the next VM start fails soonest. */
static int by_room(const void *a, const void *b)
{
	const Aioctl__V1__HostStatus *x = *(Aioctl__V1__HostStatus *const *)a;
	const Aioctl__V1__HostStatus *y = *(Aioctl__V1__HostStatus *const *)b;

	if (x->has_room_contexts != y->has_room_contexts)
		return x->has_room_contexts ? -1 : 1;
	if (x->room_contexts != y->room_contexts)
		return x->room_contexts < y->room_contexts ? -1 : 1;
	return strcmp(x->host, y->host);
}

static int by_name(const void *a, const void *b)
{
	const Aioctl__V1__HostStatus *x = *(Aioctl__V1__HostStatus *const *)a;
	const Aioctl__V1__HostStatus *y = *(Aioctl__V1__HostStatus *const *)b;

	return strcmp(x->host, y->host);
}

/* REBOOT: what fs.aio-max-nr becomes after a reboot, "same" if nothing
 * changes, "?" before the agent has scanned sysctl.d. */
static void reboot_cell(const Aioctl__V1__HostStatus *h, bool csv, char *buf, size_t len)
{
	if (!h->persisted)
		snprintf(buf, len, "%s", csv ? "" : "?");
	else if (!csv && !cli_persisted_differs(h))
		snprintf(buf, len, "same");
	else
		snprintf(buf, len, "%s%llu", csv ? "" : "-> ",
		         (unsigned long long)cli_reboot_value(h->persisted));
}

/* ROOM: further 1024-event contexts; with the largest VM seen here, how
 * many more such VMs fit ("7 (3 VMs)"). */
static void room_cell(const Aioctl__V1__HostStatus *h, bool csv, char *buf, size_t len)
{
	if (csv || !h->has_largest_vm_contexts || !h->largest_vm_contexts)
		snprintf(buf, len, "%llu", (unsigned long long)h->room_contexts);
	else
		snprintf(buf, len, "%llu (%llu VMs)", (unsigned long long)h->room_contexts,
		         (unsigned long long)(h->room_contexts / h->largest_vm_contexts));
}

static void print_rows(struct cli *c, Aioctl__V1__FleetStatusReply *rep)
{
	bool csv = c->format == CLI_CSV;
	const char *none = csv ? "" : "-";
	struct cli_table t;
	uint64_t now = aio_now_ms();
	size_t online = 0, differ = 0, with_errors = 0;

	cli_table_init(&t, csv ? status_csv_headers : status_headers, N_STATUS_COLS);
	for (size_t i = 0; i < rep->n_hosts; i++) {
		const Aioctl__V1__HostStatus *h = rep->hosts[i];
		const Aioctl__V1__Sample *s = h->sample;
		char nr[24], max[24], room[48], util[32], peak[24], reboot[40], errors[16];
		char seen[48] = "", labels[512];
		const char *cells[N_STATUS_COLS] = { h->host, none,   none, none, none,  none,
			                             reboot,  errors, seen, NULL, labels };

		if (s) {
			snprintf(nr, sizeof(nr), "%llu", (unsigned long long)s->aio_nr);
			snprintf(max, sizeof(max), "%llu", (unsigned long long)s->aio_max_nr);
			snprintf(peak, sizeof(peak), "%llu", (unsigned long long)s->aio_nr_max);
			if (csv)
				snprintf(util, sizeof(util), "%.6f", cli_utilization(s));
			else
				snprintf(util, sizeof(util), "%.1f%%", 100.0 * cli_utilization(s));
			room_cell(h, csv, room, sizeof(room));
			cells[1] = nr;
			cells[2] = max;
			cells[3] = room;
			cells[4] = util;
			cells[5] = peak;
		}
		reboot_cell(h, csv, reboot, sizeof(reboot));
		snprintf(errors, sizeof(errors), "%u", h->errors_24h);
		if (!csv)
			cli_ago(h->last_seen_ms, now, seen, sizeof(seen));
		else if (h->last_seen_ms)
			aio_time_format_rfc3339(h->last_seen_ms, seen, sizeof(seen));
		if (csv)
			cells[9] = h->online ? "true" : "false";
		else
			cells[9] = h->online ? "online" : "OFFLINE";
		cli_labels_text(h->labels, h->n_labels, labels, sizeof(labels));
		online += h->online;
		differ += cli_persisted_differs(h);
		with_errors += h->errors_24h > 0;
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, c->format, stdout);
	if (!csv)
		printf("\n%zu host%s, %zu online, %zu offline; %zu with AIO errors in 24h, %zu "
		       "whose limit changes at reboot\n",
		       rep->n_hosts, rep->n_hosts == 1 ? "" : "s", online, rep->n_hosts - online,
		       with_errors, differ);
	cli_table_done(&t);
}

/* The document is written host by host, each object made and encoded by
 * jansson: at 10,000 hosts one tree of 200,000 nodes costs more to build
 * and free than the rest of the command. */
static int print_json(const Aioctl__V1__FleetStatusReply *rep)
{
	json_t *silent = json_array();
	char *text;
	int r = 0;

	fputs("{\n  \"hosts\": [", stdout);
	for (size_t i = 0; i < rep->n_hosts && r == 0; i++) {
		json_t *h = cli_host_json(rep->hosts[i]);

		text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(h);
		if (!text)
			r = -ENOMEM;
		else
			printf("%s\n    %s", i ? "," : "", text);
		free(text);
	}
	for (size_t i = 0; i < rep->n_not_answered; i++)
		json_array_append_new(silent, json_string(rep->not_answered[i]));
	text = json_dumps(silent, JSON_COMPACT);
	json_decref(silent);
	if (!text)
		return -ENOMEM;
	printf("\n  ],\n  \"not_answered\": %s\n}\n", text);
	free(text);
	return r;
}

int cli_fleet_status(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__FleetStatusRequest in = AIOCTL__V1__FLEET_STATUS_REQUEST__INIT;
	Aioctl__V1__FleetStatusReply *rep = NULL;
	int r;

	if (c->sort && strcmp(c->sort, "name") != 0 && strcmp(c->sort, "util") != 0 &&
	    strcmp(c->sort, "room") != 0) {
		fprintf(stderr, "aioctl: --sort %s: not a column (use --sort room, util or name)\n",
		        c->sort);
		return CLI_EXIT_USAGE;
	}
	if (c->live) {
		/* the server answers with what came back a little before the
		 * deadline, so the reply itself is in time */
		if (!c->timeout_given)
			c->timeout_ms = 3000;
		in.has_live = true;
		in.live = true;
		in.has_timeout_ms = true;
		in.timeout_ms = c->timeout_ms - (c->timeout_ms / 5 < 500 ? c->timeout_ms / 5 : 500);
	}
	if ((r = cli_call(c, "FleetStatus", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	if (rep->n_hosts)
		qsort(rep->hosts, rep->n_hosts, sizeof(*rep->hosts),
		      !c->sort || strcmp(c->sort, "room") == 0 ? by_room
		      : strcmp(c->sort, "util") == 0           ? by_utilization
		                                               : by_name);

	if (c->format == CLI_JSON) {
		r = print_json(rep) < 0 ? CLI_EXIT_FAILED : 0;
	} else {
		print_rows(c, rep);
		if (c->format == CLI_TABLE && c->live) {
			printf("%zu host%s did not answer in time%s", rep->n_not_answered,
			       rep->n_not_answered == 1 ? "" : "s", rep->n_not_answered ? ":" : "");
			for (size_t i = 0; i < rep->n_not_answered; i++)
				printf(" %s", rep->not_answered[i]);
			putchar('\n');
		}
	}
	aioctl__v1__fleet_status_reply__free_unpacked(rep, NULL);
	return r;
}
