#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "alerts.h"
#include "bounds.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "hosts.h"
#include "log.h"
#include "names.h"
#include "notify.h"
#include "pipes.h"
#include "push.h"
#include "retention.h"
#include "rollout.h"
#include "rpc.h"

/* /readyz fails when the database thread is this long in one batch */
#define READY_BATCH_MAX_MS 30000

/* A metric family's header. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Host names are letters, digits, '.', '-', '_': nothing to escape in a
 * label value. */
struct out {
	FILE *f;
	uint64_t now;
};

/* s as a label value: backslash, quote and newline escaped; what is not
 * printable ASCII or UTF-8 was cleaned when the agent's report came. */
static void label_value(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* aioctl_host_info{host, its labels, kernel, agent_version} 1: to join on. */
static void host_info(FILE *f, const struct server_host *const *all, size_t n_hosts)
{
	family(f, "aioctl_host_info", "gauge",
	       "1 per host, with its labels, kernel and agent version, to join on host");
	for (size_t i = 0; i < n_hosts; i++) {
		const struct server_host *h = all[i];

		fprintf(f, "aioctl_host_info{host=\"%s\"", h->name);
		for (size_t j = 0; j < h->n_labels; j++) {
			char name[AIO_LABEL_KEY_MAX + 8];

			aio_prom_label_name(h->labels[j].key, name, sizeof(name));
			fprintf(f, ",%s=\"", name);
			label_value(f, h->labels[j].value);
			fputc('"', f);
		}
		fputs(",kernel=\"", f);
		label_value(f, h->kernel);
		fputs("\",agent_version=\"", f);
		label_value(f, h->agent_version);
		fputs("\"} 1\n", f);
	}
}

static int host_metrics(const struct server_host *const *all, size_t n_hosts, void *arg)
{
	FILE *f = ((struct out *)arg)->f;
	uint64_t now = ((struct out *)arg)->now;
	static const struct {
		const char *name, *help;
	} names[] = {
		{ "aioctl_host_aio_nr", "fs.aio-nr, last reported" },
		{ "aioctl_host_aio_max_nr", "fs.aio-max-nr, last reported" },
		{ "aioctl_host_utilization",
		  "aio-nr / aio-max-nr (may pass 1 on kernels that count twice)" },
		{ "aioctl_host_errors_24h", "AIO errors in the last 24 hours" },
		{ "aioctl_host_online", "1 if the host reported within three intervals" },
		{ "aioctl_host_drift", "1 if the live or after-reboot value left the desired one, "
		                       "or a reboot would change the live one" },
		{ "aioctl_host_last_seen_seconds", "Unix time of the host's last report" },
		{ "aioctl_host_aio_room_contexts",
		  "further 1024-event AIO contexts that fit: floor((aio-max-nr - aio-nr) / 1024)" },
		{ "aioctl_host_aio_nr_peak",
		  "the highest fs.aio-nr the agent sampled in its last report's interval" },
		{ "aioctl_host_utilization_ratio",
		  "aio-nr / aio-max-nr (may pass 1 on kernels that count twice)" },
		{ "aioctl_host_last_seen_timestamp_seconds",
		  "Unix time of the host's last report" },
	};
	size_t online = 0, n = 0;
	uint64_t nr = 0, max = 0;

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		family(f, names[k].name, "gauge", names[k].help);
		for (size_t i = 0; i < n_hosts; i++) {
			const struct server_host *h = all[i];
			const Aioctl__V1__Persisted *p = h->detail ? h->detail->persisted : NULL;
			uint64_t after = p && p->has_value ? p->value : AIO_KERNEL_DEFAULT_MAX;
			double v;

			switch (k) {
			case 0:
				if (!h->has_sample)
					continue;
				v = (double)h->sample.aio_nr;
				break;
			case 1:
				if (!h->has_sample)
					continue;
				v = (double)h->sample.aio_max_nr;
				break;
			case 2:
				if (!h->has_sample || !h->sample.aio_max_nr)
					continue;
				v = (double)h->sample.aio_nr / (double)h->sample.aio_max_nr;
				break;
			case 3:
				v = server_host_errors_24h(h, now);
				break;
			case 4:
				v = server_host_online(h, now);
				break;
			case 5:
				v = (h->has_sample && p && after != h->sample.aio_max_nr) ||
				    (h->has_desired && h->has_sample &&
				     (h->sample.aio_max_nr != h->desired ||
				      (p && after != h->desired)));
				break;
			case 6:
			case 10:
				v = (double)h->last_seen_ms / 1000.0;
				break;
			case 8:
				if (!h->has_sample)
					continue;
				v = (double)h->sample.aio_nr_max;
				break;
			case 9:
				if (!h->has_sample || !h->sample.aio_max_nr)
					continue;
				v = (double)h->sample.aio_nr / (double)h->sample.aio_max_nr;
				break;
			default:
				if (!h->has_sample)
					continue;
				v = (double)aio_room_contexts(h->sample.aio_max_nr,
				                              h->sample.aio_nr);
				break;
			}
			fprintf(f, "%s{host=\"%s\"} %.10g\n", names[k].name, h->name, v);
		}
	}
	host_info(f, all, n_hosts);
	family(f, "aioctl_host_aio_events_total", "counter",
	       "AIO events by kind (errors, fallbacks, the guard's decisions) since the server "
	       "started, with the last day's stored ones");
	for (size_t i = 0; i < n_hosts; i++)
		for (int k = 1; k < 8; k++)
			if (all[i]->events_by_kind[k])
				fprintf(f,
				        "aioctl_host_aio_events_total{host=\"%s\",kind=\"%s\"} "
				        "%u\n",
				        all[i]->name, aio_event_kind_name(k),
				        all[i]->events_by_kind[k]);
	for (size_t i = 0; i < n_hosts; i++) {
		const struct server_host *h = all[i];

		n++;
		online += server_host_online(h, now);
		if (h->has_sample) {
			nr += h->sample.aio_nr;
			max += h->sample.aio_max_nr;
		}
	}
	family(f, "aioctl_fleet_hosts", "gauge", "hosts known");
	fprintf(f, "aioctl_fleet_hosts %zu\n", n);
	family(f, "aioctl_fleet_online", "gauge", "hosts online");
	fprintf(f, "aioctl_fleet_online %zu\n", online);
	family(f, "aioctl_fleet_aio_nr", "gauge", "sum of fs.aio-nr over the fleet");
	fprintf(f, "aioctl_fleet_aio_nr %" PRIu64 "\n", nr);
	family(f, "aioctl_fleet_aio_max_nr", "gauge", "sum of fs.aio-max-nr over the fleet");
	fprintf(f, "aioctl_fleet_aio_max_nr %" PRIu64 "\n", max);
	return 0;
}

static void server_internals(struct server_metrics *s, FILE *f)
{
	size_t by_state[RO_STATES], watches = server_push_watches(s->push);

	server_engine_by_state(s->engine, by_state);

	family(f, "aioctl_build_info", "gauge", "1, with the server's version");
	fprintf(f, "aioctl_build_info{version=\"%s\"} 1\n", AIO_VERSION);
	family(f, "aioctl_server_reports_total", "counter", "reports received and stored");
	fprintf(f, "aioctl_server_reports_total %" PRIu64 "\n",
	        (uint64_t)atomic_load(s->reports_total));
	family(f, "aioctl_server_report_batches_total", "counter",
	       "ReportBatch calls stored: agents catching up, many reports a call");
	fprintf(f, "aioctl_server_report_batches_total %" PRIu64 "\n",
	        (uint64_t)atomic_load(s->report_batches_total));
	family(f, "aioctl_server_fields_cleaned_total", "counter",
	       "text fields of agents' messages stored cleaned (controls, not UTF-8, too long)");
	fprintf(f, "aioctl_server_fields_cleaned_total %" PRIu64 "\n",
	        (uint64_t)atomic_load(s->fields_cleaned_total));
	{
		const char *name[2] = { "agents", "admin" };
		struct aio_pipes_counts c[2];

		aio_pipes_counts(s->agent_pipes, &c[0]);
		aio_pipes_counts(s->admin_pipes, &c[1]);
		family(f, "aioctl_server_connections", "gauge", "connections open, by listener");
		for (int i = 0; i < 2; i++)
			fprintf(f, "aioctl_server_connections{listener=\"%s\"} %zu\n", name[i],
			        c[i].open);
		family(f, "aioctl_server_connections_refused_total", "counter",
		       "connections closed at once at the listener's cap (max-connections)");
		for (int i = 0; i < 2; i++)
			fprintf(f,
			        "aioctl_server_connections_refused_total{listener=\"%s\"} %" PRIu64
			        "\n",
			        name[i], c[i].refused);
		family(f, "aioctl_server_connections_idle_closed_total", "counter",
		       "connections closed after idle-timeout without a call");
		for (int i = 0; i < 2; i++)
			fprintf(f,
			        "aioctl_server_connections_idle_closed_total{listener=\"%s\"} "
			        "%" PRIu64 "\n",
			        name[i], c[i].idled);
	}
	{
		static const char *const decision[3] = { "raised", "refused", "warned" };

		family(f, "aioctl_guard_decisions_total", "counter",
		       "the guard's decisions the agents reported (libvirt's qemu hook), by "
		       "decision");
		for (int i = 0; i < 3; i++)
			fprintf(f, "aioctl_guard_decisions_total{decision=\"%s\"} %" PRIu64 "\n",
			        decision[i], (uint64_t)atomic_load(&s->guard_total[i]));
	}
	family(f, "aioctl_server_connected_agents", "gauge", "agents holding a Watch now");
	fprintf(f, "aioctl_server_connected_agents %zu\n", watches);
	family(f, "aioctl_server_leader", "gauge",
	       "1 if this server leads (runs rollouts, retention, alerts); one server alone leads");
	fprintf(f, "aioctl_server_leader %d\n", server_cluster_leads(s->cluster) ? 1 : 0);
	if (s->cluster) {
		struct server_cluster_peer peers[SERVER_CLUSTER_PEERS_MAX];
		size_t n = server_cluster_servers(s->cluster, peers, SERVER_CLUSTER_PEERS_MAX),
		       up = 0;

		for (size_t i = 0; i < n; i++)
			up += peers[i].alive;
		family(f, "aioctl_cluster_servers", "gauge",
		       "servers on this database seen in 5 s");
		fprintf(f, "aioctl_cluster_servers %zu\n", up);
		family(f, "aioctl_cluster_takeovers_total", "counter",
		       "times this server took the lead");
		fprintf(f, "aioctl_cluster_takeovers_total %" PRIu64 "\n",
		        server_cluster_takeovers(s->cluster));
	}
	family(f, "aioctl_server_db_queue", "gauge", "writes waiting for the database thread");
	fprintf(f, "aioctl_server_db_queue %zu\n", server_db_queued(s->db));
	family(f, "aioctl_rollouts", "gauge", "rollouts kept in memory, by state");
	for (size_t i = 0; i < RO_STATES; i++)
		fprintf(f, "aioctl_rollouts{state=\"%s\"} %zu\n",
		        server_rollouts_state_name((enum server_rollout_state)i), by_state[i]);
	{
		/* active rollouts (at most 64 here, as the stall alert reads) */
		struct server_stall st[64];
		size_t n = server_engine_stalled(s->engine, aio_now_ms(), 0, st, 64);

		family(f, "aioctl_rollout_last_progress_timestamp_seconds", "gauge",
		       "Unix time an active rollout's steps last moved (created, sent, acked, "
		       "finished)");
		for (size_t i = 0; i < n; i++)
			fprintf(f,
			        "aioctl_rollout_last_progress_timestamp_seconds{rollout=\"%" PRIu64
			        "\"} %.3f\n",
			        st[i].id, (double)st[i].since_ms / 1000.0);
	}
	family(f, "aioctl_server_pruned_rows_total", "counter", "history rows retention removed");
	fprintf(f, "aioctl_server_pruned_rows_total %" PRIu64 "\n",
	        (uint64_t)atomic_load(&s->retention->pruned_total));
	family(f, "aioctl_notify_pushes_total", "counter",
	       "alert deliveries to Alertmanager and webhooks, by result (failed ones are "
	       "retried)");
	for (int k = 0; k < 2; k++) {
		static const char *const sink[2] = { "alertmanager", "webhook" };

		fprintf(f, "aioctl_notify_pushes_total{sink=\"%s\",result=\"ok\"} %" PRIu64 "\n",
		        sink[k], (uint64_t)atomic_load(&s->notify->pushed_total[k]));
		fprintf(f,
		        "aioctl_notify_pushes_total{sink=\"%s\",result=\"failed\"} %" PRIu64 "\n",
		        sink[k], (uint64_t)atomic_load(&s->notify->failed_total[k]));
	}
	family(f, "aioctl_alerts_active", "gauge", "alerts active now, by kind");
	for (int k = 0; k < ALERT_KINDS; k++)
		fprintf(f, "aioctl_alerts_active{kind=\"%s\"} %zu\n", server_alert_kind_name[k],
		        server_alerts_active_count(s->alerts, (enum server_alert_kind)k));
}

static void metrics_cb(nng_aio *aio)
{
	nng_http_handler *hh = nng_aio_get_input(aio, 1);
	struct server_metrics *s = nng_http_handler_get_data(hh);
	nng_http_res *res = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rv;

	if (!f) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	server_hosts_read_all(s->hosts, host_metrics, &(struct out){ f, aio_now_ms() });
	server_internals(s, f);
	fclose(f);
	if ((rv = nng_http_res_alloc(&res)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type",
	                                  "text/plain; version=0.0.4; charset=utf-8")) != 0 ||
	    (rv = nng_http_res_copy_data(res, buf, len)) != 0) {
		free(buf);
		if (res)
			nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	free(buf);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* /readyz: 200 while the database thread takes writes, 503 with why. */
static void readyz_cb(nng_aio *aio)
{
	nng_http_handler *hh = nng_aio_get_input(aio, 1);
	struct server_metrics *s = nng_http_handler_get_data(hh);
	uint64_t age = server_db_batch_age_ms(s->db);
	nng_http_res *res = NULL;
	char body[128];
	int rv;

	if (age < READY_BATCH_MAX_MS)
		snprintf(body, sizeof(body), "ready\n");
	else
		snprintf(body, sizeof(body),
		         "not ready: the database thread has been in one batch for %" PRIu64
		         " ms\n",
		         age);
	if ((rv = nng_http_res_alloc(&res)) != 0 ||
	    (rv = nng_http_res_set_status(res, age < READY_BATCH_MAX_MS ? 200 : 503)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", "text/plain; charset=utf-8")) != 0 ||
	    (rv = nng_http_res_copy_data(res, body, strlen(body))) != 0) {
		if (res)
			nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static const char index_page[] =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>aio-server</title></head>\n"
        "<body><h1>aio-server " AIO_VERSION "</h1>\n<ul><li><a href=\"metrics\">/metrics</a> "
        "(Prometheus)</li>\n<li><a href=\"healthz\">/healthz</a></li>\n"
        "<li><a href=\"readyz\">/readyz</a></li>\n<li><a href=\"ui/\">/ui/</a> (web console)</li>\n"
        "<li><a href=\"api/v1/openapi.json\">/api/v1/</a> (HTTP API)</li></ul></body></html>\n";
static const char healthz_body[] = "ok\n";

/* nng's handler for path: cb with s, or a static body of type. */
static int add_handler(struct server_metrics *s, const char *path, void (*cb)(nng_aio *),
                       const char *body, const char *type)
{
	nng_http_handler *h = NULL;
	int rv;

	/* a static handler keeps its body where the data would go */
	if (cb)
		rv = nng_http_handler_alloc(&h, path, cb);
	else
		rv = nng_http_handler_alloc_static(&h, path, body, strlen(body), type);
	if (rv == 0 && (rv = nng_http_handler_set_method(h, "GET")) == 0 &&
	    (!cb || (rv = nng_http_handler_set_data(h, s, NULL)) == 0) &&
	    (rv = nng_http_server_add_handler(s->http, h)) == 0)
		return 0;
	if (h)
		nng_http_handler_free(h);
	return rv;
}

int server_metrics_start(struct server_metrics *s, const char *url)
{
	nng_url *u = NULL;
	int rv;

	if ((rv = nng_url_parse(&u, url)) != 0) {
		log_err("--http-listen %s: not a URL (example: http://127.0.0.1:7702)", url);
		return -EINVAL;
	}
	if ((rv = nng_http_server_hold(&s->http, u)) != 0 ||
	    (rv = add_handler(s, "/metrics", metrics_cb, NULL, NULL)) != 0 ||
	    (rv = add_handler(s, "/readyz", readyz_cb, NULL, NULL)) != 0 ||
	    (rv = add_handler(s, "/healthz", NULL, healthz_body, "text/plain; charset=utf-8")) !=
	            0 ||
	    (rv = add_handler(s, "/", NULL, index_page, "text/html; charset=utf-8")) != 0) {
		log_err("--http-listen %s: %s", url, nng_strerror(rv));
		nng_url_free(u);
		return -EINVAL;
	}
	if ((rv = nng_http_server_start(s->http)) != 0) {
		log_err("--http-listen %s: %s", url, nng_strerror(rv));
		nng_url_free(u);
		return -EADDRINUSE;
	}
	nng_url_free(u);
	log_info("serving /metrics on %s", url);
	return 0;
}

void server_metrics_stop(struct server_metrics *s)
{
	if (!s->http)
		return;
	nng_http_server_stop(s->http);
	nng_http_server_release(s->http);
	s->http = NULL;
}
