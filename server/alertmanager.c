/* Alerts pushed to Alertmanager's v2 API (POST /api/v2/alerts) with
 * libcurl. Each push carries the whole state: every active alert (with an
 * endsAt a few resends ahead, as Prometheus does, so an Alertmanager that
 * hears nothing more resolves it) and every alert cleared since the last
 * push that Alertmanager took (with its endsAt). Alertmanager merges
 * alerts by their labels, so a push sent twice changes nothing; one that
 * failed is tried again with back-off and loses nothing, since the next
 * carries the same and more. After a restart the active alerts come back
 * from the database and the first push also carries the last day's
 * clears. */
#include "alertmanager.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "clock.h"
#include "config.h"
#include "hosts.h"
#include "log.h"
#include "names.h"

/* how often the thread looks for news (a start or a clear goes out then) */
#define TICK_MS         500
#define BACKOFF_MAX_MS  60000
#define PUSH_TIMEOUT_MS 5000
/* a first push after a start also tells of the clears of the last day */
#define FIRST_CLEARS_MS AIO_DAY_MS

static const char *const alertnames[ALERT_KINDS] = {
	[ALERT_UTILIZATION] = "AioUtilization",
	[ALERT_ERRORS] = "AioErrors",
	[ALERT_DRIFT] = "AioDrift",
	[ALERT_SILENT] = "AioHostSilent",
	[ALERT_ROLLOUT_STALLED] = "AioRolloutStalled",
	[ALERT_ROOM] = "AioRoom",
	[ALERT_GUARD] = "AioGuard",
};

static const char *severity(const struct server_alert *a)
{
	if (a->kind == ALERT_ROOM && a->value < 1)
		return "critical"; /* the next VM start fails */
	return a->kind == ALERT_DRIFT ? "info" : "warning";
}

/* Where to look further, for the annotation. */
static void command(const struct server_alert *a, char *buf, size_t len)
{
	switch (a->kind) {
	case ALERT_ROLLOUT_STALLED:
		snprintf(buf, len, "aioctl rollout show %s",
		         a->subject + strcspn(a->subject, " ") + 1);
		break;
	case ALERT_ERRORS:
	case ALERT_GUARD:
		snprintf(buf, len, "aioctl errors --host %s", a->subject);
		break;
	case ALERT_DRIFT:
		snprintf(buf, len, "aioctl fleet drift");
		break;
	default:
		snprintf(buf, len, "aioctl host show %s", a->subject);
		break;
	}
}

static void rfc3339(uint64_t ms, char *buf, size_t len)
{
	aio_time_format_rfc3339(ms, buf, len);
}

struct labels_job {
	json_t *labels;
};

/* The host's own labels, as label names Alertmanager takes. */
static int host_labels(const struct server_host *h, void *arg)
{
	json_t *labels = ((struct labels_job *)arg)->labels;

	for (size_t i = 0; i < h->n_labels; i++) {
		char name[AIO_LABEL_KEY_MAX + 8];

		aio_prom_label_name(h->labels[i].key, name, sizeof(name));
		if (!json_object_get(labels, name))
			json_object_set_new(labels, name, json_string(h->labels[i].value));
	}
	return 0;
}

static json_t *alert_json(struct server_alertmanager *am, const struct server_alert *a,
                          uint64_t now)
{
	json_t *o = json_object(), *labels = json_object(), *ann = json_object();
	char t[40], cmd[AIO_HOST_NAME_MAX + 64], num[64];
	bool rollout = a->kind == ALERT_ROLLOUT_STALLED;

	json_object_set_new(labels, "alertname", json_string(alertnames[a->kind]));
	json_object_set_new(
	        labels, rollout ? "rollout" : "host",
	        json_string(rollout ? a->subject + strcspn(a->subject, " ") + 1 : a->subject));
	json_object_set_new(labels, "severity", json_string(severity(a)));
	if (!rollout) {
		struct labels_job j = { labels };

		server_hosts_read_name(am->hosts, a->subject, host_labels, &j);
	}
	json_object_set_new(ann, "summary", json_string(a->message));
	snprintf(num, sizeof(num), "%.10g", a->value);
	json_object_set_new(ann, "value", json_string(num));
	snprintf(num, sizeof(num), "%.10g", a->threshold);
	json_object_set_new(ann, "threshold", json_string(num));
	command(a, cmd, sizeof(cmd));
	json_object_set_new(ann, "command", json_string(cmd));
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "annotations", ann);
	rfc3339(a->started_ms, t, sizeof(t));
	json_object_set_new(o, "startsAt", json_string(t));
	rfc3339(a->cleared_ms ? a->cleared_ms : now + 4 * am->conf->alertmanager_resend_ms, t,
	        sizeof(t));
	json_object_set_new(o, "endsAt", json_string(t));
	return o;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* POSTs body to url; 0, or -EIO with why in err. */
static int post(const char *url, const char *body, char *err, size_t errlen)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char full[2100], cerr[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode rc;

	size_t ul = strlen(url);

	while (ul && url[ul - 1] == '/')
		ul--;
	snprintf(full, sizeof(full), "%.*s/api/v2/alerts", (int)ul, url);
	if (!c || !h) {
		curl_easy_cleanup(c);
		curl_slist_free_all(h);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)PUSH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		return -EIO;
	}
	if (code < 200 || code > 299) {
		snprintf(err, errlen, "HTTP %ld", code);
		return -EIO;
	}
	return 0;
}

static void push_one(struct server_alertmanager *am, struct server_am_sink *s, uint64_t now,
                     uint64_t generation)
{
	uint64_t since = s->delivered_ms ? s->delivered_ms - TICK_MS
	                                 : (now > FIRST_CLEARS_MS ? now - FIRST_CLEARS_MS : 0);
	struct server_alert *v = NULL;
	long n = server_alerts_copy(am->alerts, since, &v);
	json_t *arr = json_array();
	char *body, err[CURL_ERROR_SIZE + 64];
	int r;

	for (long i = 0; i < n; i++)
		json_array_append_new(arr, alert_json(am, &v[i], now));
	free(v);
	body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (n < 0 || !body) {
		free(body);
		return;
	}
	r = post(s->url, body, err, sizeof(err));
	free(body);
	if (r == 0) {
		if (s->failures)
			log_info("alertmanager %s: delivered again (%ld alerts)", s->url, n);
		s->failures = 0;
		s->delivered_ms = now;
		s->generation = generation;
		s->next_ms = now + am->conf->alertmanager_resend_ms;
		atomic_fetch_add(&am->pushed_total, 1);
		return;
	}
	atomic_fetch_add(&am->failed_total, 1);
	if (!s->failures++)
		log_warn("alertmanager %s: %s; trying again with back-off", s->url, err);
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 1000;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->next_ms = now + s->backoff_ms;
}

static void tick(void *arg)
{
	struct server_alertmanager *am = arg;
	uint64_t now = aio_now_ms(), generation = server_alerts_generation(am->alerts);

	for (size_t i = 0; i < am->n_sinks; i++) {
		struct server_am_sink *s = &am->sinks[i];

		/* news goes out at once, unless backing off; the rest on resend */
		if (now >= s->next_ms || (generation != s->generation && !s->failures))
			push_one(am, s, now, generation);
		if (!s->failures)
			s->backoff_ms = 0;
	}
}

int server_alertmanager_start(struct server_alertmanager *am, const struct server_config *conf,
                              struct server_alerts *alerts, struct server_hosts *hosts)
{
	memset(am, 0, sizeof(*am));
	am->conf = conf;
	am->alerts = alerts;
	am->hosts = hosts;
	if (!conf->alertmanager_url.n)
		return 0;
	if (!(am->sinks = calloc(conf->alertmanager_url.n, sizeof(*am->sinks))))
		return -ENOMEM;
	for (size_t i = 0; i < conf->alertmanager_url.n; i++) {
		const char *u = conf->alertmanager_url.v[i];

		if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
			log_err("--alertmanager-url %s: not an http:// or https:// URL (example: "
			        "http://127.0.0.1:9093)",
			        u);
			free(am->sinks);
			am->sinks = NULL;
			return -EINVAL;
		}
		am->sinks[i].url = u;
		am->sinks[i].generation = UINT64_MAX; /* nothing pushed yet */
	}
	am->n_sinks = conf->alertmanager_url.n;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	am->curl_inited = true;
	log_info("pushing alerts to %zu Alertmanager%s", am->n_sinks, am->n_sinks == 1 ? "" : "s");
	return aio_periodic_start(&am->thread, TICK_MS, tick, am);
}

void server_alertmanager_stop(struct server_alertmanager *am)
{
	aio_periodic_stop(&am->thread);
	free(am->sinks);
	am->sinks = NULL;
	am->n_sinks = 0;
	if (am->curl_inited)
		curl_global_cleanup();
	am->curl_inited = false;
}
