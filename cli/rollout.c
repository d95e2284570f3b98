/* aioctl fleet set / reconcile / drift, rollout ..., audit: changing the
 * limit across the fleet, watching it happen, and what was done. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "duration.h"
#include "names.h"
#include "states.h"

#define POLL_MS   100
#define BAR_WIDTH 30

static json_t *rollout_json_of(const void *r)
{
	return cli_rollout_json(r);
}

struct counts {
	size_t done, failed, offline, expired, pending, busy, rolled_back;
};

static struct counts count(const Aioctl__V1__Rollout *r)
{
	struct counts k = { 0 };

	for (size_t i = 0; i < r->n_steps; i++) {
		switch (CLI_STEP_STATE(r->steps[i])) {
		case AIOCTL__V1__STEP_STATE__STEP_DONE:
			k.done++;
			break;
		case AIOCTL__V1__STEP_STATE__STEP_FAILED:
			k.failed++;
			break;
		case AIOCTL__V1__STEP_STATE__STEP_OFFLINE:
			k.offline++;
			break;
		case AIOCTL__V1__STEP_STATE__STEP_EXPIRED:
			k.expired++;
			break;
		case AIOCTL__V1__STEP_STATE__STEP_PENDING:
		case AIOCTL__V1__STEP_STATE__STEP_PLANNED:
			k.pending++;
			break;
		case AIOCTL__V1__STEP_STATE__STEP_SENT:
		case AIOCTL__V1__STEP_STATE__STEP_SOAKING:
			k.busy++;
			break;
		default:
			break;
		}
		if (cli_rollback_state(r->steps[i]) == AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_DONE)
			k.rolled_back++;
	}
	return k;
}

/* "done" or "failed, rollback done". */
static void step_text(const Aioctl__V1__RolloutStep *p, char *buf, size_t len)
{
	const char *rb = cli_rollback_state_name(cli_rollback_state(p));

	snprintf(buf, len, "%s%s%s", cli_step_state_name(CLI_STEP_STATE(p)),
	         *rb ? ", rollback " : "", rb);
}

static void print_steps(const Aioctl__V1__Rollout *r, bool only_trouble)
{
	static const char *const headers[] = { "HOST", "WAVE",         "STATE",
		                               "LIVE", "AFTER REBOOT", "MESSAGE" };
	struct cli_table t;

	cli_table_init(&t, headers, 6);
	for (size_t i = 0; i < r->n_steps; i++) {
		const Aioctl__V1__RolloutStep *p = r->steps[i];
		char wave[16], live[64], boot[64], state[48];
		const char *cells[6] = { p->host, wave, state,
			                 live,    boot, p->message ? p->message : "" };

		if (only_trouble && (CLI_STEP_STATE(p) == AIOCTL__V1__STEP_STATE__STEP_DONE ||
		                     CLI_STEP_STATE(p) == AIOCTL__V1__STEP_STATE__STEP_PLANNED))
			continue;
		snprintf(wave, sizeof(wave), "%u", p->wave);
		step_text(p, state, sizeof(state));
		if (p->has_runtime_before)
			snprintf(live, sizeof(live), "%" PRIu64 " -> %s", p->runtime_before,
			         p->has_runtime_after ? "" : "?");
		else
			snprintf(live, sizeof(live), "-");
		if (p->has_runtime_after)
			snprintf(live + strlen(live), sizeof(live) - strlen(live), "%" PRIu64,
			         p->runtime_after);
		if (p->has_persisted_before || p->has_persisted_after)
			snprintf(boot, sizeof(boot), "%" PRIu64 " -> %" PRIu64, p->persisted_before,
			         p->persisted_after);
		else
			snprintf(boot, sizeof(boot), "-");
		cli_table_add(&t, cells);
	}
	if (t.nrows)
		cli_table_print(&t, CLI_TABLE, stdout);
	cli_table_done(&t);
}

static void print_rollout(const Aioctl__V1__Rollout *r)
{
	struct counts k = count(r);
	char created[40];

	aio_time_format_rfc3339(r->created_ms, created, sizeof(created));
	printf("Rollout %" PRIu64 ": %s", r->id, cli_rollout_state_name(CLI_ROLLOUT_STATE(r)));
	if (r->target)
		printf(", fs.aio-max-nr = %" PRIu64, r->target);
	printf("\n  %s\n", cli_tty(r->message));
	if (r->created_by)
		printf("  created %s by %s\n", created, cli_tty(r->created_by));
	printf("  %zu hosts in %u waves: %zu done, %zu failed, %zu in progress, %zu pending, "
	       "%zu offline, %zu expired\n",
	       r->n_steps, r->waves, k.done, k.failed, k.busy, k.pending, k.offline, k.expired);
	if (r->n_skipped)
		printf("  %zu already at the target: skipped\n", r->n_skipped);
	for (size_t i = 0; i < r->n_refused; i++)
		printf("  refused by its own policy: %s\n", cli_tty(r->refused[i]));
	if (r->n_steps) {
		putchar('\n');
		print_steps(r, false);
	}
}

static int get_rollout(struct cli *c, const char *method, uint64_t id, Aioctl__V1__Rollout **ret)
{
	Aioctl__V1__RolloutRequest in = AIOCTL__V1__ROLLOUT_REQUEST__INIT;

	in.id = id;
	return cli_call(c, method, &in.base, (ProtobufCMessage **)ret);
}

static bool finished(Aioctl__V1__RolloutState st)
{
	return st == AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_COMPLETED ||
	       st == AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ABORTED ||
	       st == AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLED_BACK ||
	       st == AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PAUSED;
}

/* The exit code for how r ended; a rollback that was asked for and
 * completed is success (1 if a host's rollback failed). */
static int exit_for(const Aioctl__V1__Rollout *r, bool rollback_asked)
{
	switch (CLI_ROLLOUT_STATE(r)) {
	case AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PAUSED:
		return CLI_EXIT_PAUSED;
	case AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ROLLED_BACK:
		if (!rollback_asked)
			return CLI_EXIT_ROLLED_BACK;
		for (size_t i = 0; i < r->n_steps; i++)
			if (cli_rollback_state(r->steps[i]) ==
			    AIOCTL__V1__ROLLBACK_STATE__ROLLBACK_FAILED)
				return CLI_EXIT_FAILED;
		return CLI_EXIT_OK;
	case AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_ABORTED:
		return CLI_EXIT_ABORTED;
	case AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_COMPLETED:
		return count(r).failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
	default:
		return CLI_EXIT_OFFLINE;
	}
}

/* Everything online is settled; only offline hosts remain. */
static bool only_offline_left(const Aioctl__V1__Rollout *r)
{
	struct counts k = count(r);

	return CLI_ROLLOUT_STATE(r) == AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_RUNNING && k.offline &&
	       !k.busy && !k.pending;
}

static void progress_bar(const Aioctl__V1__Rollout *r)
{
	struct counts k = count(r);
	size_t total = r->n_steps ? r->n_steps : 1;
	size_t settled = k.done + k.failed + k.expired, fill = settled * BAR_WIDTH / total;
	char bar[BAR_WIDTH + 1];

	for (size_t i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	printf("\rrollout %" PRIu64 " [%s] %zu/%zu done, %zu failed, %zu offline, wave %u/%u %-12s",
	       r->id, bar, k.done, r->n_steps, k.failed, k.offline, r->wave + 1,
	       r->waves ? r->waves : 1, cli_rollout_state_name(CLI_ROLLOUT_STATE(r)));
	fflush(stdout);
}

/* Plain lines for logs: each host's state as it changes. */
static void progress_lines(const Aioctl__V1__Rollout *r, char **seen)
{
	for (size_t i = 0; i < r->n_steps; i++) {
		const Aioctl__V1__RolloutStep *p = r->steps[i];
		char now[64];

		step_text(p, now, sizeof(now));
		if (seen[i] && !strcmp(seen[i], now))
			continue;
		free(seen[i]);
		seen[i] = strdup(now);
		printf("%s: %s\n", cli_tty(p->host), cli_tty(now));
	}
	fflush(stdout);
}

static int follow(struct cli *c, uint64_t id, bool rollback_asked)
{
	bool tty = isatty(STDOUT_FILENO) && c->format == CLI_TABLE;
	uint64_t deadline = c->wait_timeout_ms ? aio_mono_ms() + c->wait_timeout_ms : 0;
	char **seen = NULL;
	size_t n_seen = 0;
	Aioctl__V1__RolloutState last_state = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_STATE_UNKNOWN;
	int r;

	for (;;) {
		Aioctl__V1__Rollout *ro = NULL;
		struct timespec ts = { 0, POLL_MS * 1000000L };
		bool done;

		if ((r = get_rollout(c, "RolloutGet", id, &ro)) != 0)
			break;
		if (!seen && (seen = calloc(ro->n_steps + 1, sizeof(*seen))))
			n_seen = ro->n_steps;
		if (c->format == CLI_TABLE) {
			if (tty)
				progress_bar(ro);
			else if (seen && ro->n_steps == n_seen)
				progress_lines(ro, seen);
			if (!tty && last_state != CLI_ROLLOUT_STATE(ro)) {
				last_state = CLI_ROLLOUT_STATE(ro);
				printf("rollout %" PRIu64 ": %s\n", ro->id,
				       cli_rollout_state_name(last_state));
			}
		}
		done = finished(CLI_ROLLOUT_STATE(ro)) || only_offline_left(ro);
		if (done || (deadline && aio_mono_ms() >= deadline)) {
			if (tty)
				putchar('\n');
			if (c->format == CLI_JSON) {
				cli_json_print(cli_rollout_json(ro), stdout);
			} else {
				putchar('\n');
				print_rollout(ro);
				if (only_offline_left(ro))
					printf("\nOffline hosts get the change when they return; "
					       "follow "
					       "with: aioctl rollout show %" PRIu64 "\n",
					       ro->id);
			}
			r = done ? exit_for(ro, rollback_asked) : CLI_EXIT_WAIT_TIMEOUT;
			if (!done)
				fprintf(stderr,
				        "aioctl: rollout %" PRIu64
				        " still %s after --wait-timeout; "
				        "follow with: aioctl rollout show %" PRIu64 "\n",
				        ro->id, cli_rollout_state_name(CLI_ROLLOUT_STATE(ro)),
				        ro->id);
			aioctl__v1__rollout__free_unpacked(ro, NULL);
			break;
		}
		aioctl__v1__rollout__free_unpacked(ro, NULL);
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < n_seen; i++)
		free(seen[i]);
	free(seen);
	return r;
}

static bool confirm(const Aioctl__V1__Rollout *plan)
{
	char line[16];

	printf("Apply to %zu hosts in %u waves? [y/N] ", plan->n_steps, plan->waves);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* Creates the rollout (after a look at the plan and a yes), then follows it. */
static int start(struct cli *c, const char *method, const ProtobufCMessage *real,
                 const ProtobufCMessage *dry)
{
	Aioctl__V1__Rollout *ro = NULL;
	uint64_t id;
	int r;

	if (c->dry_run || !c->yes) {
		if ((r = cli_call(c, method, dry, (ProtobufCMessage **)&ro)) != 0)
			return r;
		if (c->dry_run) {
			if (c->format == CLI_JSON)
				cli_json_print(cli_rollout_json(ro), stdout);
			else
				print_rollout(ro);
			aioctl__v1__rollout__free_unpacked(ro, NULL);
			return 0;
		}
		print_rollout(ro);
		putchar('\n');
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "aioctl: not a terminal: add --yes to go ahead\n");
			aioctl__v1__rollout__free_unpacked(ro, NULL);
			return CLI_EXIT_USAGE;
		}
		if (!confirm(ro)) {
			printf("Nothing changed.\n");
			aioctl__v1__rollout__free_unpacked(ro, NULL);
			return 0;
		}
		aioctl__v1__rollout__free_unpacked(ro, NULL);
	}
	if ((r = cli_call(c, method, real, (ProtobufCMessage **)&ro)) != 0)
		return r;
	id = ro->id;
	if (c->no_wait) {
		if (c->format == CLI_JSON)
			cli_json_print(cli_rollout_json(ro), stdout);
		else
			printf("%" PRIu64 "\n", id);
		aioctl__v1__rollout__free_unpacked(ro, NULL);
		return 0;
	}
	aioctl__v1__rollout__free_unpacked(ro, NULL);
	return follow(c, id, false);
}

int cli_fleet_set(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__SetLimitRequest in = AIOCTL__V1__SET_LIMIT_REQUEST__INIT, dry;
	struct cli_selector sel;

	if (!c->has_max) {
		fprintf(stderr, "aioctl: fleet set needs --max (example: --max 2097152)\n");
		return CLI_EXIT_USAGE;
	}
	if (c->on_failure && strcmp(c->on_failure, "pause") && strcmp(c->on_failure, "rollback")) {
		fprintf(stderr, "aioctl: --on-failure %s: use pause or rollback\n", c->on_failure);
		return CLI_EXIT_USAGE;
	}
	if (cli_selector(c, &sel) < 0)
		return CLI_EXIT_USAGE;
	in.target = c->max;
	if (c->n_select || c->hosts_glob)
		in.selector = &sel.sel;
	in.has_canary = c->has_canary;
	in.canary = c->canary;
	in.has_batch = c->has_batch;
	in.batch = c->batch;
	in.has_batch_percent = c->has_batch;
	in.batch_percent = c->batch_percent;
	in.has_max_failures = c->has_max_failures;
	in.max_failures = c->max_failures;
	in.has_max_failures_percent = c->has_max_failures;
	in.max_failures_percent = c->max_failures_percent;
	in.has_soak_ms = c->has_soak;
	in.soak_ms = c->soak_ms;
	in.has_rollback_on_failure = c->on_failure != NULL;
	in.rollback_on_failure = c->on_failure && !strcmp(c->on_failure, "rollback");
	in.has_offline_timeout_ms = c->has_offline_timeout;
	in.offline_timeout_ms = c->offline_timeout_ms;
	in.has_force = c->force;
	in.force = c->force;
	in.has_supersede = c->supersede;
	in.supersede = c->supersede;
	in.has_allow_lower = c->allow_lower;
	in.allow_lower = c->allow_lower;
	dry = in;
	dry.has_dry_run = true;
	dry.dry_run = true;
	return start(c, "SetLimit", &in.base, &dry.base);
}

int cli_fleet_reconcile(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__ReconcileRequest in = AIOCTL__V1__RECONCILE_REQUEST__INIT, dry;

	in.hosts_glob = (char *)c->hosts_glob;
	in.has_supersede = c->supersede;
	in.supersede = c->supersede;
	in.has_allow_lower = c->allow_lower;
	in.allow_lower = c->allow_lower;
	dry = in;
	dry.has_dry_run = true;
	dry.dry_run = true;
	return start(c, "Reconcile", &in.base, &dry.base);
}

int cli_fleet_drift(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__DriftRequest in = AIOCTL__V1__DRIFT_REQUEST__INIT;
	Aioctl__V1__DriftReply *rep = NULL;
	int r;

	if ((r = cli_call(c, "Drift", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	r = cli_drift_print(c, rep, stdout);
	aioctl__v1__drift_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_drift_print(struct cli *c, const Aioctl__V1__DriftReply *rep, FILE *out)
{
	enum { HOST, DESIRED, LIVE, AFTER, FILE_, CAUSE, ROLLOUT, N_COLS };
	static const struct cli_column cols[N_COLS] = {
		[HOST] = CLI_COL("HOST", "host", CLI_IN_ALL),
		[DESIRED] = CLI_COL("DESIRED", "desired", CLI_IN_ALL),
		[LIVE] = CLI_COL("LIVE", "runtime", CLI_IN_ALL),
		[AFTER] = CLI_COL("AFTER REBOOT", "persisted", CLI_IN_ALL),
		[FILE_] = CLI_COL(NULL, "persisted_file", CLI_IN_CSV | CLI_IN_JSON),
		[CAUSE] = CLI_COL("CAUSE", "cause", CLI_IN_ALL),
		[ROLLOUT] = CLI_COL(NULL, "rollout", CLI_IN_CSV | CLI_IN_JSON),
	};
	struct cli_rows rows;
	int r = 0;

	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_hosts);
	for (size_t i = 0; i < rep->n_hosts && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__HostDrift *d = rep->hosts[i];

		cli_cell_text(&rows, HOST, d->host);
		cli_cell_uint(&rows, DESIRED, true, d->desired);
		cli_cell_uint(&rows, LIVE, d->has_runtime, d->runtime);
		cli_cell_uint(&rows, AFTER, d->has_persisted, d->persisted);
		cli_cell_text(&rows, FILE_, d->persisted_file);
		cli_cell_text(&rows, CAUSE, d->cause);
		cli_cell_uint(&rows, ROLLOUT, true, d->rollout_id);
	}
	if (cli_rows_print(&rows, "hosts", NULL, out) < 0)
		r = CLI_EXIT_FAILED;
	cli_rows_done(&rows);
	if (c->format == CLI_TABLE)
		fprintf(out, "\n%zu host%s drifted from what rollouts set%s\n", rep->n_hosts,
		        rep->n_hosts == 1 ? "" : "s",
		        rep->n_hosts ? "; aioctl fleet reconcile puts them back" : "");
	return r;
}

static int parse_id(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || !*s || v == 0) {
		fprintf(stderr, "aioctl: rollout id %s: not a number (see aioctl rollout list)\n",
		        s);
		return CLI_EXIT_USAGE;
	}
	*ret = v;
	return 0;
}

static int one(struct cli *c, const char *method, const char *arg)
{
	Aioctl__V1__Rollout *ro = NULL;
	uint64_t id;
	int r;

	if ((r = parse_id(arg, &id)) != 0)
		return r;
	if ((r = get_rollout(c, method, id, &ro)) != 0)
		return r;
	if (c->format == CLI_JSON)
		cli_json_print(cli_rollout_json(ro), stdout);
	else
		print_rollout(ro);
	aioctl__v1__rollout__free_unpacked(ro, NULL);
	return 0;
}

int cli_rollout_show(struct cli *c, int argc, char **argv)
{
	return one(c, "RolloutGet", argv[0]);
}

int cli_rollout_pause(struct cli *c, int argc, char **argv)
{
	return one(c, "RolloutPause", argv[0]);
}

int cli_rollout_resume(struct cli *c, int argc, char **argv)
{
	return one(c, "RolloutResume", argv[0]);
}

int cli_rollout_abort(struct cli *c, int argc, char **argv)
{
	return one(c, "RolloutAbort", argv[0]);
}

int cli_rollout_rollback(struct cli *c, int argc, char **argv)
{
	uint64_t id;
	int r;

	if ((r = one(c, "RolloutRollback", argv[0])) != 0 || c->no_wait)
		return r;
	/* one() accepted the id already */
	return parse_id(argv[0], &id) ? CLI_EXIT_USAGE : follow(c, id, true);
}

int cli_rollout_list(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__RolloutListRequest in = AIOCTL__V1__ROLLOUT_LIST_REQUEST__INIT;
	Aioctl__V1__RolloutListReply *rep = NULL;
	int r;

	if (c->limit) {
		in.has_limit = true;
		in.limit = (uint32_t)c->limit;
	}
	if ((r = cli_call(c, "RolloutList", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	r = cli_rollouts_print(c, rep, stdout);
	aioctl__v1__rollout_list_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_rollouts_print(struct cli *c, const Aioctl__V1__RolloutListReply *rep, FILE *out)
{
	enum { ID, STATE, TARGET, WAVES, CREATED, BY, MESSAGE, JSON, N_COLS };
	/* JSON: each rollout as rollout show prints it */
	static const struct cli_column cols[N_COLS] = {
		[ID] = CLI_COL("ID", "id", CLI_IN_TABLE | CLI_IN_CSV),
		[STATE] = CLI_COL("STATE", "state", CLI_IN_TABLE | CLI_IN_CSV),
		[TARGET] = CLI_COL("TARGET", "target", CLI_IN_TABLE | CLI_IN_CSV),
		[WAVES] = CLI_COL("WAVES", "waves", CLI_IN_TABLE | CLI_IN_CSV),
		[CREATED] = CLI_COL("CREATED", "created", CLI_IN_TABLE | CLI_IN_CSV),
		[BY] = CLI_COL("BY", "created_by", CLI_IN_TABLE | CLI_IN_CSV),
		[MESSAGE] = CLI_COL("MESSAGE", "message", CLI_IN_TABLE | CLI_IN_CSV),
		[JSON] = CLI_COL(NULL, NULL, CLI_IN_JSON),
	};
	struct cli_rows rows;
	int r = 0;

	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_rollouts);
	for (size_t i = 0; i < rep->n_rollouts && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__Rollout *ro = rep->rollouts[i];
		char target[24];

		cli_cell_uint(&rows, ID, true, ro->id);
		cli_cell_text(&rows, STATE, cli_rollout_state_name(CLI_ROLLOUT_STATE(ro)));
		if (ro->options && ro->options->reconcile)
			snprintf(target, sizeof(target), "desired");
		else
			snprintf(target, sizeof(target), "%" PRIu64, ro->target);
		cli_cell_text(&rows, TARGET, target);
		cli_cell_uint(&rows, WAVES, true, ro->waves);
		cli_cell_time(&rows, CREATED, ro->created_ms);
		cli_cell_text(&rows, BY, ro->created_by);
		cli_cell_text(&rows, MESSAGE, ro->message);
		cli_cell_json_later(&rows, JSON, rollout_json_of, ro);
	}
	if (cli_rows_print(&rows, "rollouts", NULL, out) < 0)
		r = CLI_EXIT_FAILED;
	cli_rows_done(&rows);
	return r;
}

int cli_audit(struct cli *c, int argc, char **argv)
{
	Aioctl__V1__AuditRequest in = AIOCTL__V1__AUDIT_REQUEST__INIT;
	Aioctl__V1__AuditReply *rep = NULL;
	int r;

	if (c->since_ms) {
		in.has_since_ms = true;
		in.since_ms = aio_now_ms() - c->since_ms;
	}
	if (c->limit) {
		in.has_limit = true;
		in.limit = (uint32_t)c->limit;
	}
	if ((r = cli_call(c, "Audit", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	r = cli_audit_print(c, rep, stdout);
	aioctl__v1__audit_reply__free_unpacked(rep, NULL);
	return r;
}

int cli_audit_print(struct cli *c, const Aioctl__V1__AuditReply *rep, FILE *out)
{
	enum { TIME, WHO, ACTION, TARGET, RESULT, N_COLS };
	static const struct cli_column cols[N_COLS] = {
		[TIME] = CLI_COL("TIME", "time", CLI_IN_ALL),
		[WHO] = CLI_COL("WHO", "who", CLI_IN_ALL),
		[ACTION] = CLI_COL("ACTION", "action", CLI_IN_ALL),
		[TARGET] = CLI_COL("TARGET", "target", CLI_IN_ALL),
		[RESULT] = CLI_COL("RESULT", "result", CLI_IN_ALL),
	};
	struct cli_rows rows;
	json_t *root;
	int r = 0;

	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_entries);
	for (size_t i = 0; i < rep->n_entries && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__AuditEntry *a = rep->entries[i];

		cli_cell_time(&rows, TIME, a->time_ms);
		cli_cell_text(&rows, WHO, a->who);
		cli_cell_text(&rows, ACTION, a->action);
		cli_cell_text(&rows, TARGET, a->target);
		cli_cell_text(&rows, RESULT, a->result);
	}
	root = json_object();
	json_object_set_new(root, "entries", json_array());
	json_object_set_new(root, "truncated", json_boolean(rep->truncated));
	if (cli_rows_print(&rows, "entries", root, out) < 0)
		r = CLI_EXIT_FAILED;
	cli_rows_done(&rows);
	return r;
}

/* ------------------------------------------------- report rollout ID */

/* The before and after cells of two windows from column first on:
 * limits, peak utilisations, errors. */
static void window_cells(struct cli_rows *rows, size_t first, const Aioctl__V1__Window *b,
                         const Aioctl__V1__Window *a)
{
	const Aioctl__V1__Window *w[2] = { b, a };

	for (size_t i = 0; i < 2; i++) {
		bool has = w[i] && w[i]->has_peak;

		cli_cell_uint(rows, first + i, has, has ? w[i]->limit : 0);
		cli_cell_ratio(rows, first + 2 + i, has, has ? w[i]->peak_utilization : 0);
		cli_cell_uint(rows, first + 4 + i, w[i] != NULL, w[i] ? w[i]->errors : 0);
	}
}

static json_t *window_json(const Aioctl__V1__Window *w)
{
	json_t *o = json_object();

	json_object_set_new(o, "limit",
	                    w->has_peak ? json_integer((json_int_t)w->limit) : json_null());
	json_object_set_new(o, "peak",
	                    w->has_peak ? json_integer((json_int_t)w->peak) : json_null());
	json_object_set_new(o, "peak_utilization",
	                    w->has_peak ? json_real(w->peak_utilization) : json_null());
	json_object_set_new(o, "errors", json_integer(w->errors));
	json_object_set_new(o, "samples", json_integer(w->samples));
	return o;
}

int cli_report_rollout(struct cli *c, int argc, char **argv)
{
	enum {
		HOST,
		STATE,
		CHANGED,
		WINDOW,
		LIMIT_B,
		LIMIT_A,
		UTIL_B,
		UTIL_A,
		ERR_B,
		ERR_A,
		BEFORE,
		AFTER,
		N_COLS
	};
	static const struct cli_column cols[N_COLS] = {
		[HOST] = CLI_COL("HOST", "host", CLI_IN_ALL),
		[STATE] = CLI_COL("STATE", "state", CLI_IN_ALL),
		[CHANGED] = CLI_COL("CHANGED", "changed", CLI_IN_ALL),
		[WINDOW] = CLI_COL("WINDOW", "window_ms", CLI_IN_ALL),
		[LIMIT_B] = CLI_COL("LIMIT-BEFORE", "limit_before", CLI_IN_TABLE | CLI_IN_CSV),
		[LIMIT_A] = CLI_COL("LIMIT-AFTER", "limit_after", CLI_IN_TABLE | CLI_IN_CSV),
		[UTIL_B] = CLI_COL("UTIL-BEFORE", "peak_utilization_before",
		                   CLI_IN_TABLE | CLI_IN_CSV),
		[UTIL_A] =
		        CLI_COL("UTIL-AFTER", "peak_utilization_after", CLI_IN_TABLE | CLI_IN_CSV),
		[ERR_B] = CLI_COL("ERR-BEFORE", "errors_before", CLI_IN_TABLE | CLI_IN_CSV),
		[ERR_A] = CLI_COL("ERR-AFTER", "errors_after", CLI_IN_TABLE | CLI_IN_CSV),
		[BEFORE] = CLI_COL(NULL, "before", CLI_IN_JSON),
		[AFTER] = CLI_COL(NULL, "after", CLI_IN_JSON),
	};
	Aioctl__V1__RolloutReportRequest in = AIOCTL__V1__ROLLOUT_REPORT_REQUEST__INIT;
	Aioctl__V1__RolloutReportReply *rep = NULL;
	unsigned err_before = 0, err_after = 0;
	double u_before = 0, u_after = 0;
	size_t changed = 0;
	struct cli_rows rows;
	json_t *root;
	int r;

	if ((r = parse_id(argv[0], &in.id)) != 0)
		return r;
	if (c->window_ms) {
		in.has_window_ms = true;
		in.window_ms = c->window_ms;
	}
	if ((r = cli_call(c, "RolloutReport", &in.base, (ProtobufCMessage **)&rep)) != 0)
		return r;
	for (size_t i = 0; i < rep->n_hosts; i++) {
		const Aioctl__V1__RolloutHostReport *h = rep->hosts[i];

		if (!h->before || !h->after)
			continue;
		changed++;
		err_before += h->before->errors;
		err_after += h->after->errors;
		if (h->before->peak_utilization > u_before)
			u_before = h->before->peak_utilization;
		if (h->after->peak_utilization > u_after)
			u_after = h->after->peak_utilization;
	}
	cli_rows_init(&rows, cols, N_COLS, c->format);
	cli_rows_reserve(&rows, rep->n_hosts);
	for (size_t i = 0; i < rep->n_hosts && cli_rows_add(&rows) == 0; i++) {
		const Aioctl__V1__RolloutHostReport *h = rep->hosts[i];
		char win[32] = "", ms[24];

		cli_cell_text(&rows, HOST, h->host);
		cli_cell_text(&rows, STATE, cli_step_state_name(CLI_STEP_STATE(h)));
		cli_cell_time(&rows, CHANGED, h->has_changed_ms ? h->changed_ms : 0);
		aio_duration_format(h->window_ms, win, sizeof(win));
		snprintf(ms, sizeof(ms), "%" PRIu64, h->window_ms);
		cli_cell_forms(&rows, WINDOW, h->has_window_ms ? win : NULL,
		               h->has_window_ms ? ms : NULL,
		               json_integer((json_int_t)h->window_ms));
		window_cells(&rows, LIMIT_B, h->before, h->after);
		cli_cell_forms(&rows, BEFORE, NULL, NULL,
		               h->before ? window_json(h->before) : NULL);
		cli_cell_forms(&rows, AFTER, NULL, NULL, h->after ? window_json(h->after) : NULL);
	}
	root = json_object();
	json_object_set_new(root, "id", json_integer((json_int_t)rep->id));
	json_object_set_new(root, "state",
	                    cli_json_text(cli_rollout_state_name(CLI_ROLLOUT_STATE(rep))));
	json_object_set_new(root, "target", json_integer((json_int_t)rep->target));
	json_object_set_new(root, "hosts", json_array());
	json_object_set_new(root, "errors_before", json_integer(err_before));
	json_object_set_new(root, "errors_after", json_integer(err_after));
	if (cli_rows_print(&rows, "hosts", root, stdout) < 0)
		r = CLI_EXIT_FAILED;
	cli_rows_done(&rows);
	if (c->format == CLI_TABLE)
		printf("\nrollout %" PRIu64 " (%s) to %" PRIu64
		       ": %zu hosts changed; AIO errors %u "
		       "before, %u after; highest peak utilisation %.1f%% before, %.1f%% after\n",
		       rep->id, cli_rollout_state_name(CLI_ROLLOUT_STATE(rep)), rep->target,
		       changed, err_before, err_after, 100 * u_before, 100 * u_after);
	aioctl__v1__rollout_report_reply__free_unpacked(rep, NULL);
	return r;
}
