/* aioctl fleet ...: the whole fleet at a glance. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "names.h"

enum { HOST, NR, MAX, ROOM, UTIL, PEAK, REBOOT, ERRORS, SEEN, STATE, LABELS, JSON, N_COLS };

/* People get units and ages, scripts (CSV) raw values; JSON the host
 * object host show prints too. */
static const struct cli_column cols[N_COLS] = {
	[HOST] = CLI_COL("HOST", "host", CLI_IN_TABLE | CLI_IN_CSV),
	[NR] = CLI_COL("AIO-NR", "aio_nr", CLI_IN_TABLE | CLI_IN_CSV),
	[MAX] = CLI_COL("AIO-MAX-NR", "aio_max_nr", CLI_IN_TABLE | CLI_IN_CSV),
	[ROOM] = CLI_COL("ROOM", "room", CLI_IN_TABLE | CLI_IN_CSV),
	[UTIL] = CLI_COL("UTIL", "utilization", CLI_IN_TABLE | CLI_IN_CSV),
	[PEAK] = CLI_COL("PEAK", "aio_nr_max", CLI_IN_TABLE | CLI_IN_CSV),
	[REBOOT] = CLI_COL("REBOOT", "after_reboot", CLI_IN_TABLE | CLI_IN_CSV),
	[ERRORS] = CLI_COL("ERR-24H", "errors_24h", CLI_IN_TABLE | CLI_IN_CSV),
	[SEEN] = CLI_COL("LAST SEEN", "last_seen", CLI_IN_TABLE | CLI_IN_CSV),
	[STATE] = CLI_COL("STATE", "online", CLI_IN_TABLE | CLI_IN_CSV),
	[LABELS] = CLI_COL("LABELS", "labels", CLI_IN_TABLE | CLI_IN_CSV),
	[JSON] = CLI_COL(NULL, NULL, CLI_IN_JSON),
};

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

/* A sample's value, hosts without a sample last, then by name. */
#define BY_SAMPLE(fn, field, desc)                                                       \
	static int fn(const void *a, const void *b)                                      \
	{                                                                                \
		const Aioctl__V1__HostStatus *x = *(Aioctl__V1__HostStatus *const *)a;   \
		const Aioctl__V1__HostStatus *y = *(Aioctl__V1__HostStatus *const *)b;   \
                                                                                         \
		if (!x->sample != !y->sample)                                            \
			return x->sample ? -1 : 1;                                       \
		if (x->sample && x->sample->field != y->sample->field)                   \
			return (x->sample->field < y->sample->field) == (desc) ? 1 : -1; \
		return strcmp(x->host, y->host);                                         \
	}
BY_SAMPLE(by_nr, aio_nr, true)
BY_SAMPLE(by_max, aio_max_nr, true)

/* Longest silent first: the hosts to look at. */
static int by_seen(const void *a, const void *b)
{
	const Aioctl__V1__HostStatus *x = *(Aioctl__V1__HostStatus *const *)a;
	const Aioctl__V1__HostStatus *y = *(Aioctl__V1__HostStatus *const *)b;

	if (x->last_seen_ms != y->last_seen_ms)
		return x->last_seen_ms < y->last_seen_ms ? -1 : 1;
	return strcmp(x->host, y->host);
}

static const struct {
	const char *name;
	int (*cmp)(const void *, const void *);
} sorts[] = {
	{ "room", by_room }, { "util", by_utilization }, { "nr", by_nr },
	{ "max", by_max },   { "seen", by_seen },        { "name", by_name },
};

/* per thread: aio-server's web threads print fleets too */
static _Thread_local int (*sort_cmp)(const void *, const void *);

static int reversed(const void *a, const void *b)
{
	return sort_cmp(b, a);
}

/* Whether h is one --select and --hosts pick. */
static bool selected(const struct cli *c, const struct cli_selector *sel,
                     const Aioctl__V1__HostStatus *h)
{
	if (c->hosts_glob && !aio_glob_list_match(c->hosts_glob, h->host))
		return false;
	for (size_t i = 0; i < sel->sel.n_labels; i++) {
		bool found = false;

		for (size_t j = 0; j < h->n_labels && !found; j++)
			found = !strcmp(h->labels[j]->key, sel->labels[i].key) &&
			        !strcmp(h->labels[j]->value, sel->labels[i].value);
		if (!found)
			return false;
	}
	return true;
}

/* REBOOT: what fs.aio-max-nr becomes after a reboot, "same" if nothing
 * changes, "?" before the agent has scanned sysctl.d. */
static void reboot_cell(struct cli_rows *rows, const Aioctl__V1__HostStatus *h)
{
	char table[32], csv[24];

	snprintf(csv, sizeof(csv), "%llu", (unsigned long long)cli_reboot_value(h->persisted));
	snprintf(table, sizeof(table), "-> %s", csv);
	if (!h->persisted)
		cli_cell_forms(rows, REBOOT, "?", "", NULL);
	else
		cli_cell_forms(rows, REBOOT, cli_persisted_differs(h) ? table : "same", csv, NULL);
}

/* ROOM: further 1024-event contexts; with the largest VM running here or
 * asking the guard to start, how many more such VMs fit ("7 (3 VMs)"). */
static void room_cell(struct cli_rows *rows, const Aioctl__V1__HostStatus *h)
{
	uint32_t largest = cli_largest_demand(h);
	char table[48], csv[24];

	snprintf(csv, sizeof(csv), "%llu", (unsigned long long)h->room_contexts);
	if (!largest)
		snprintf(table, sizeof(table), "%s", csv);
	else
		snprintf(table, sizeof(table), "%s (%llu VMs)", csv,
		         (unsigned long long)(h->room_contexts / largest));
	cli_cell_forms(rows, ROOM, table, csv, NULL);
}

static void host_write(struct cli_jw *w, const void *h)
{
	cli_host_write(w, h);
}

static int print_hosts(struct cli *c, const Aioctl__V1__FleetStatusReply *rep,
                       Aioctl__V1__HostStatus *const *hosts, size_t n_hosts, FILE *out)
{
	uint64_t now = aio_now_ms();
	size_t online = 0, differ = 0, with_errors = 0;
	struct cli_rows rows;
	json_t *root, *silent = json_array();
	int r;

	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, n_hosts);
	for (size_t i = 0; i < n_hosts && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__HostStatus *h = hosts[i];
		const Aioctl__V1__Sample *s = h->sample;
		char labels[512];

		if (cli_rows_json(&rows)) {
			cli_cell_json_write(&rows, JSON, host_write, h);
			continue;
		}
		cli_cell_text(&rows, HOST, h->host);
		cli_cell_uint(&rows, NR, s, s ? s->aio_nr : 0);
		cli_cell_uint(&rows, MAX, s, s ? s->aio_max_nr : 0);
		if (s)
			room_cell(&rows, h);
		cli_cell_ratio(&rows, UTIL, s, cli_utilization(s));
		cli_cell_uint(&rows, PEAK, s, s ? s->aio_nr_max : 0);
		reboot_cell(&rows, h);
		cli_cell_uint(&rows, ERRORS, true, h->errors_24h);
		cli_cell_ago(&rows, SEEN, h->last_seen_ms, now);
		cli_cell_bool(&rows, STATE, h->online, "online", "OFFLINE");
		cli_labels_text(h->labels, h->n_labels, labels, sizeof(labels));
		cli_cell_text(&rows, LABELS, labels);
		online += h->online;
		differ += cli_persisted_differs(h);
		with_errors += h->errors_24h > 0;
	}
	for (size_t i = 0; i < rep->n_not_answered; i++)
		json_array_append_new(silent, cli_json_text(rep->not_answered[i]));
	root = json_object();
	json_object_set_new(root, "hosts", json_array());
	json_object_set_new(root, "not_answered", silent);
	r = cli_rows_print(&rows, "hosts", root, out);
	cli_rows_done(&rows);
	if (c->format == CLI_TABLE)
		fprintf(out,
		        "\n%zu host%s, %zu online, %zu offline; %zu with AIO errors in 24h, %zu "
		        "whose limit changes at reboot\n",
		        n_hosts, n_hosts == 1 ? "" : "s", online, n_hosts - online, with_errors,
		        differ);
	return r;
}

bool cli_fleet_sort_known(const char *sort)
{
	for (size_t i = 0; sort && i < sizeof(sorts) / sizeof(sorts[0]); i++)
		if (!strcmp(sort, sorts[i].name))
			return true;
	return !sort;
}

int cli_fleet_print(struct cli *c, const Aioctl__V1__FleetStatusReply *rep, FILE *out)
{
	Aioctl__V1__HostStatus **hosts;
	struct cli_selector sel;
	size_t n = 0;
	int r;

	sort_cmp = c->sort ? NULL : by_room; /* least room first: where a start fails */
	for (size_t i = 0; c->sort && i < sizeof(sorts) / sizeof(sorts[0]); i++)
		if (!strcmp(c->sort, sorts[i].name))
			sort_cmp = sorts[i].cmp;
	if (!sort_cmp || cli_selector(c, &sel) < 0)
		return CLI_EXIT_USAGE;
	if (!(hosts = calloc(rep->n_hosts + 1, sizeof(*hosts))))
		return CLI_EXIT_FAILED;
	for (size_t i = 0; i < rep->n_hosts; i++)
		if (selected(c, &sel, rep->hosts[i]))
			hosts[n++] = rep->hosts[i];
	if (n)
		qsort(hosts, n, sizeof(*hosts), c->reverse ? reversed : sort_cmp);
	r = print_hosts(c, rep, hosts, n, out) < 0 ? CLI_EXIT_FAILED : 0;
	free(hosts);
	if (c->format == CLI_TABLE && c->live) {
		fprintf(out, "%zu host%s did not answer in time%s", rep->n_not_answered,
		        rep->n_not_answered == 1 ? "" : "s", rep->n_not_answered ? ":" : "");
		for (size_t i = 0; i < rep->n_not_answered; i++)
			fprintf(out, " %s", cli_tty(rep->not_answered[i]));
		fputc('\n', out);
	}
	return r;
}

int cli_fleet_status(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__FleetStatusRequest in = AIOCTL__V1__FLEET_STATUS_REQUEST__INIT;
	Aioctl__V1__FleetStatusReply *rep = NULL;
	struct cli_selector sel;
	size_t n = 0;
	int r;

	if (!cli_fleet_sort_known(c->sort)) {
		fprintf(stderr,
		        "aioctl: --sort %s: not a column (use room, util, nr, max, seen or name)\n",
		        c->sort);
		return CLI_EXIT_USAGE;
	}
	if (cli_selector(c, &sel) < 0)
		return CLI_EXIT_USAGE;
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
	for (size_t i = 0; i < rep->n_hosts; i++)
		n += selected(c, &sel, rep->hosts[i]);
	if (!n && (c->n_select || c->hosts_glob)) {
		fprintf(stderr, "aioctl: no host matches%s%s%s (%zu hosts in the fleet)\n",
		        c->hosts_glob ? " --hosts " : "", c->hosts_glob ? c->hosts_glob : "",
		        c->n_select ? " and --select" : "", rep->n_hosts);
		aioctl__v1__fleet_status_reply__free_unpacked(rep, NULL);
		return CLI_EXIT_NOT_FOUND;
	}
	r = cli_fleet_print(c, rep, stdout);
	aioctl__v1__fleet_status_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_server_list(struct cli *c, int argc, char **argv)
{
	enum {
		S_NAME,
		S_ROLE,
		S_STATE,
		S_AGENTS,
		S_AGENT_URL,
		S_ADMIN_URL,
		S_VERSION,
		S_SEEN,
		S_SINCE,
		S_COLS
	};
	static const struct cli_column server_cols[S_COLS] = {
		[S_NAME] = CLI_COL("NAME", "name", CLI_IN_ALL),
		[S_ROLE] = CLI_COL("ROLE", "leader", CLI_IN_ALL),
		[S_STATE] = CLI_COL("STATE", "alive", CLI_IN_ALL),
		[S_AGENTS] = CLI_COL("AGENTS", "agents", CLI_IN_ALL),
		[S_AGENT_URL] = CLI_COL("AGENT URL", "agent_url", CLI_IN_ALL),
		[S_ADMIN_URL] = CLI_COL("ADMIN URL", "admin_url", CLI_IN_ALL),
		[S_VERSION] = CLI_COL("VERSION", "version", CLI_IN_ALL),
		[S_SEEN] = CLI_COL("LAST SEEN", "seen", CLI_IN_ALL),
		[S_SINCE] = CLI_COL("LEADS SINCE", "leader_since", CLI_IN_CSV | CLI_IN_JSON),
	};
	Aioctl__V1__ServerListRequest in = AIOCTL__V1__SERVER_LIST_REQUEST__INIT;
	Aioctl__V1__ServerListReply *rep = NULL;
	struct cli_rows rows;
	uint64_t now = aio_now_ms();
	json_t *root;
	size_t alive = 0;
	int r;

	(void)argc;
	(void)argv;
	if ((r = cli_call(c, "ServerList", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	cli_rows_init(&rows, server_cols, S_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_servers);
	for (size_t i = 0; i < rep->n_servers && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__ServerInfo *s = rep->servers[i];

		alive += s->alive;
		cli_cell_text(&rows, S_NAME, s->name);
		cli_cell_bool(&rows, S_ROLE, s->leader, "leader", "follower");
		cli_cell_bool(&rows, S_STATE, s->alive, "up", "GONE");
		cli_cell_uint(&rows, S_AGENTS, s->has_agents, s->agents);
		cli_cell_text(&rows, S_AGENT_URL, s->agent_url);
		cli_cell_text(&rows, S_ADMIN_URL, s->admin_url);
		cli_cell_text(&rows, S_VERSION, s->version);
		cli_cell_ago(&rows, S_SEEN, s->seen_ms, now);
		cli_cell_time(&rows, S_SINCE, s->has_leader_since_ms ? s->leader_since_ms : 0);
	}
	root = json_object();
	json_object_set_new(root, "servers", json_array());
	json_object_set_new(root, "database", json_string(rep->database ? rep->database : "?"));
	if (cli_rows_print(&rows, "servers", root, stdout) < 0)
		r = CLI_EXIT_FAILED;
	cli_rows_done(&rows);
	if (c->format == CLI_TABLE)
		printf("\n%zu server%s, %zu up, on %s\n", rep->n_servers,
		       rep->n_servers == 1 ? "" : "s", alive, rep->database ? rep->database : "?");
	aioctl__v1__server_list_reply__free_unpacked(rep, NULL);
	return r;
}
