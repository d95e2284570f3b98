/* aioctl history HOST: a host's aio-nr over time, one row per step. */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "duration.h"
#include "names.h"

/* "2026-11-26T05:00:00Z", or a duration back from now ("2h"). */
/* history HOST --vm NAME: the VM's AIO usage, one row per change. */
static int print_vm(struct cli *c, const char *host, const Aioctl__V1__HistoryReply *rep, FILE *out)
{
	enum { TIME, CONTEXTS, EVENTS, N_COLS };
	static const struct cli_column cols[N_COLS] = {
		[TIME] = { "SINCE", "time", CLI_IN_ALL, "since" },
		[CONTEXTS] = CLI_COL("CONTEXTS", "contexts", CLI_IN_ALL),
		[EVENTS] = CLI_COL("EVENTS", "events", CLI_IN_ALL),
	};
	struct cli_rows rows;
	json_t *root = json_object();
	int r;

	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_vm);
	for (size_t i = 0; i < rep->n_vm && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__VmUsagePoint *p = rep->vm[i];

		cli_cell_time(&rows, TIME, p->time_ms);
		cli_cell_uint(&rows, CONTEXTS, true, p->contexts);
		cli_cell_uint(&rows, EVENTS, p->has_events, p->events);
	}
	json_object_set_new(root, "host", cli_json_text(host));
	json_object_set_new(root, "vm", cli_json_text(c->vm));
	r = cli_rows_print(&rows, "points", root, out);
	cli_rows_done(&rows);
	if (c->format == CLI_TABLE)
		fprintf(out, "\n%zu changes of %s on %s (stored when its AIO contexts change)\n",
		        rep->n_vm, c->vm, host);
	return r < 0 ? CLI_EXIT_FAILED : 0;
}

/* A step's peak utilisation: each report against the limit it saw (an
 * older server sends none: max over the step's last limit). */
static double peak_util(const Aioctl__V1__Sample *s)
{
	if (s->has_peak_utilization)
		return s->peak_utilization;
	return s->aio_max_nr ? (double)s->aio_nr_max / (double)s->aio_max_nr : 0;
}

int cli_history(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__HistoryRequest in = AIOCTL__V1__HISTORY_REQUEST__INIT;
	Aioctl__V1__HistoryReply *rep = NULL;
	int r;

	if (!aio_host_name_valid(argv[0])) {
		fprintf(stderr, "aioctl: history %s: not a host name\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	in.host = argv[0];
	if (c->until) {
		if (cli_time_parse(c->until, aio_now_ms(), &in.until_ms) < 0) {
			fprintf(stderr,
			        "aioctl: --until %s: not a time (examples: 2h, yesterday, "
			        "2026-11-26, 2026-11-26T05:00:00Z)\n",
			        c->until);
			return CLI_EXIT_USAGE;
		}
		in.has_until_ms = true;
	}
	if (c->since_ms) {
		in.has_since_ms = true;
		in.since_ms = !c->since_is_duration ? c->since_at_ms
		              : in.has_until_ms     ? in.until_ms - c->since_ms
		                                    : c->since_at_ms;
	}
	if (c->step_ms) {
		in.has_step_ms = true;
		in.step_ms = c->step_ms;
	}
	in.vm = (char *)c->vm;
	if ((r = cli_call(c, "History", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	r = cli_history_print(c, argv[0], rep, stdout);
	aioctl__v1__history_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_history_print(struct cli *c, const char *host, const Aioctl__V1__HistoryReply *rep,
                      FILE *out)
{
	enum { TIME, MIN, MEAN, MAX, LAST, LIMIT, UTIL, REPORTS, N_COLS };
	static const struct cli_column cols[N_COLS] = {
		[TIME] = CLI_COL("TIME", "time", CLI_IN_ALL),
		[MIN] = CLI_COL("MIN", "min", CLI_IN_ALL),
		[MEAN] = CLI_COL("MEAN", "mean", CLI_IN_ALL),
		[MAX] = CLI_COL("MAX", "max", CLI_IN_ALL),
		[LAST] = CLI_COL("LAST", "last", CLI_IN_ALL),
		[LIMIT] = CLI_COL("AIO-MAX-NR", "aio_max_nr", CLI_IN_ALL),
		[UTIL] = { "UTIL(MAX)", "peak_utilization", CLI_IN_ALL, "utilization_max" },
		[REPORTS] = CLI_COL("REPORTS", "reports", CLI_IN_ALL),
	};
	struct cli_rows rows;
	json_t *root;
	int r;

	if (c->vm)
		return print_vm(c, host, rep, out);
	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_samples);
	for (size_t i = 0; i < rep->n_samples && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__Sample *s = rep->samples[i];

		cli_cell_time(&rows, TIME, s->time_ms);
		cli_cell_uint(&rows, MIN, true, s->aio_nr_min);
		cli_cell_real(&rows, MEAN, true, s->mean, 1);
		cli_cell_uint(&rows, MAX, true, s->aio_nr_max);
		cli_cell_uint(&rows, LAST, true, s->aio_nr);
		cli_cell_uint(&rows, LIMIT, true, s->aio_max_nr);
		cli_cell_ratio(&rows, UTIL, true, peak_util(s));
		cli_cell_uint(&rows, REPORTS, true, s->count);
	}
	root = json_object();
	json_object_set_new(root, "host", cli_json_text(host));
	json_object_set_new(root, "step_ms", json_integer((json_int_t)rep->step_ms));
	json_object_set_new(root, "tier", cli_json_text(rep->tier ? rep->tier : "raw"));
	r = cli_rows_print(&rows, "points", root, out) < 0 ? CLI_EXIT_FAILED : 0;
	cli_rows_done(&rows);
	if (c->format == CLI_TABLE) {
		char step[32];

		aio_duration_format(rep->step_ms, step, sizeof(step));
		fprintf(out, "\n%zu points, one per %s, from the %s tier\n", rep->n_samples, step,
		        rep->tier ? rep->tier : "raw");
	}
	return r;
}
