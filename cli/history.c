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
static int parse_time(const char *s, uint64_t *ret_ms)
{
	struct tm tm = { 0 };
	uint64_t ago;
	const char *end;
	time_t t;

	if (aio_duration_parse(s, &ago) == 0) {
		*ret_ms = aio_now_ms() - ago;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z") != 0))
		return -1;
	t = timegm(&tm);
	if (t < 0)
		return -1;
	*ret_ms = (uint64_t)t * 1000;
	return 0;
}

/* history HOST --vm NAME: the VM's AIO usage, one row per change. */
static int print_vm(struct cli *c, const char *host, const Aioctl__V1__HistoryReply *rep)
{
	static const char *const headers[] = { "SINCE", "CONTEXTS", "EVENTS" };
	static const char *const csv_headers[] = { "since", "contexts", "events" };
	struct cli_table t;

	if (c->format == CLI_JSON) {
		json_t *root = json_object(), *points = json_array();

		json_object_set_new(root, "host", json_string(host));
		json_object_set_new(root, "vm", json_string(c->vm));
		for (size_t i = 0; i < rep->n_vm; i++) {
			const Aioctl__V1__VmUsagePoint *p = rep->vm[i];
			json_t *o = json_object();

			json_object_set_new(o, "time", cli_time_json(p->time_ms));
			json_object_set_new(o, "contexts", json_integer(p->contexts));
			json_object_set_new(o, "events",
			                    p->has_events ? json_integer((json_int_t)p->events)
			                                  : json_null());
			json_array_append_new(points, o);
		}
		json_object_set_new(root, "points", points);
		return cli_json_print(root, stdout) < 0 ? CLI_EXIT_FAILED : 0;
	}
	cli_table_init(&t, c->format == CLI_CSV ? csv_headers : headers, 3);
	for (size_t i = 0; i < rep->n_vm; i++) {
		const Aioctl__V1__VmUsagePoint *p = rep->vm[i];
		char when[40], ctx[16], ev[24];
		const char *cells[3] = { when, ctx, ev };

		aio_time_format_rfc3339(p->time_ms, when, sizeof(when));
		snprintf(ctx, sizeof(ctx), "%u", p->contexts);
		if (p->has_events)
			snprintf(ev, sizeof(ev), "%" PRIu64, p->events);
		else
			snprintf(ev, sizeof(ev), "-");
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, c->format, stdout);
	if (c->format == CLI_TABLE)
		printf("\n%zu changes of %s on %s (stored when its AIO contexts change)\n",
		       rep->n_vm, c->vm, host);
	cli_table_done(&t);
	return 0;
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
	static const char *const headers[] = { "TIME", "MIN",        "MEAN",      "MAX",
		                               "LAST", "AIO-MAX-NR", "UTIL(MAX)", "REPORTS" };
	static const char *const csv_headers[] = {
		"time", "min", "mean", "max", "last", "aio_max_nr", "utilization_max", "reports"
	};
	Aioctl__V1__HistoryRequest in = AIOCTL__V1__HISTORY_REQUEST__INIT;
	Aioctl__V1__HistoryReply *rep = NULL;
	struct cli_table t;
	int r;

	if (!aio_host_name_valid(argv[0])) {
		fprintf(stderr, "aioctl: history %s: not a host name\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	in.host = argv[0];
	if (c->until) {
		if (parse_time(c->until, &in.until_ms) < 0) {
			fprintf(stderr,
			        "aioctl: --until %s: not a time (examples: "
			        "2026-11-26T05:00:00Z, 2h)\n",
			        c->until);
			return CLI_EXIT_USAGE;
		}
		in.has_until_ms = true;
	}
	if (c->since_ms) {
		in.has_since_ms = true;
		in.since_ms = (in.has_until_ms ? in.until_ms : aio_now_ms()) - c->since_ms;
	}
	if (c->step_ms) {
		in.has_step_ms = true;
		in.step_ms = c->step_ms;
	}
	in.vm = (char *)c->vm;
	if ((r = cli_call(c, "History", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	if (c->vm) {
		r = print_vm(c, argv[0], rep);
		goto out_free;
	}
	if (c->format == CLI_JSON) {
		json_t *root = json_object(), *points = json_array();

		json_object_set_new(root, "host", json_string(argv[0]));
		json_object_set_new(root, "step_ms", json_integer((json_int_t)rep->step_ms));
		json_object_set_new(root, "tier", json_string(rep->tier ? rep->tier : "raw"));
		for (size_t i = 0; i < rep->n_samples; i++) {
			const Aioctl__V1__Sample *s = rep->samples[i];
			json_t *o = json_object();

			json_object_set_new(o, "time", cli_time_json(s->time_ms));
			json_object_set_new(o, "min", json_integer((json_int_t)s->aio_nr_min));
			json_object_set_new(o, "mean", json_real(s->mean));
			json_object_set_new(o, "max", json_integer((json_int_t)s->aio_nr_max));
			json_object_set_new(o, "last", json_integer((json_int_t)s->aio_nr));
			json_object_set_new(o, "aio_max_nr",
			                    json_integer((json_int_t)s->aio_max_nr));
			json_object_set_new(o, "peak_utilization", json_real(peak_util(s)));
			json_object_set_new(o, "reports", json_integer(s->count));
			json_array_append_new(points, o);
		}
		json_object_set_new(root, "points", points);
		r = cli_json_print(root, stdout) < 0 ? CLI_EXIT_FAILED : 0;
		goto out_free;
	}
	cli_table_init(&t, c->format == CLI_CSV ? csv_headers : headers, 8);
	for (size_t i = 0; i < rep->n_samples; i++) {
		const Aioctl__V1__Sample *s = rep->samples[i];
		char when[40], mn[24], mean[32], mx[24], last[24], lim[24], util[24], n[16];
		const char *cells[8] = { when, mn, mean, mx, last, lim, util, n };
		double u = peak_util(s);

		aio_time_format_rfc3339(s->time_ms, when, sizeof(when));
		snprintf(mn, sizeof(mn), "%" PRIu64, s->aio_nr_min);
		snprintf(mean, sizeof(mean), "%.1f", s->mean);
		snprintf(mx, sizeof(mx), "%" PRIu64, s->aio_nr_max);
		snprintf(last, sizeof(last), "%" PRIu64, s->aio_nr);
		snprintf(lim, sizeof(lim), "%" PRIu64, s->aio_max_nr);
		if (c->format == CLI_CSV)
			snprintf(util, sizeof(util), "%.6f", u);
		else
			snprintf(util, sizeof(util), "%.1f%%", 100 * u);
		snprintf(n, sizeof(n), "%u", s->count);
		cli_table_add(&t, cells);
	}
	cli_table_print(&t, c->format, stdout);
	if (c->format == CLI_TABLE) {
		char step[32];

		aio_duration_format(rep->step_ms, step, sizeof(step));
		printf("\n%zu points, one per %s, from the %s tier\n", rep->n_samples, step,
		       rep->tier ? rep->tier : "raw");
	}
	cli_table_done(&t);
out_free:
	aioctl__v1__history_reply__free_unpacked(rep, NULL);
	return r;
}
