/* Alerts pushed to Alertmanager's v2 API (POST /api/v2/alerts) and to
 * JSON webhooks with libcurl.
 *
 * Alertmanager: each push carries the whole state: every active alert (with an
 * endsAt a few resends ahead, as Prometheus does, so an Alertmanager that
 * hears nothing more resolves it) and every alert cleared since the last
 * push that Alertmanager took (with its endsAt). Alertmanager merges
 * alerts by their labels, so a push sent twice changes nothing; one that
 * failed is tried again with back-off and loses nothing, since the next
 * carries the same and more. After a restart the active alerts come back
 * from the database and the first push also carries the last day's
 * clears.
 *
 * A webhook (a chat tool) hears each start and each clear once: a push
 * carries the alerts that started or cleared since the last push it took,
 * and the time of that push is kept in STATE-DIR/notify/, so a restart
 * neither repeats nor loses one. A refused or failed push is tried again
 * with the same and newer news. With a secret, X-Aioctl-Signature is
 * "sha256=" and the HMAC-SHA256 of the body in hex. */
#include "notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <mbedtls/md.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "clock.h"
#include "config.h"
#include "fileio.h"
#include "hosts.h"
#include "log.h"
#include "names.h"
#include "rollout.h"

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

static json_t *alert_json(struct server_notify *am, const struct server_alert *a, uint64_t now)
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
	aio_time_format_rfc3339(a->started_ms, t, sizeof(t));
	json_object_set_new(o, "startsAt", json_string(t));
	aio_time_format_rfc3339(a->cleared_ms ? a->cleared_ms
	                                      : now + 4 * am->conf->alertmanager_resend_ms,
	                        t, sizeof(t));
	json_object_set_new(o, "endsAt", json_string(t));
	return o;
}

/* The signature header of body with the webhook secret. */
static void signature(const struct server_notify *am, const char *body, char *buf, size_t len)
{
	unsigned char mac[32];
	int n = snprintf(buf, len, "X-Aioctl-Signature: sha256=");

	mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	                (const unsigned char *)am->secret, am->secret_len,
	                (const unsigned char *)body, strlen(body), mac);
	for (size_t i = 0; i < sizeof(mac) && (size_t)n + 3 <= len; i++)
		n += snprintf(buf + n, len - (size_t)n, "%02x", mac[i]);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* POSTs body to url (with path), with header if not NULL; 0, or -EIO with
 * why in err. */
static int post(const char *url, const char *path, const char *header, const char *body, char *err,
                size_t errlen)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char full[2100], cerr[CURL_ERROR_SIZE] = "";
	size_t ul = strlen(url);
	long code = 0;
	CURLcode rc;

	/* "http://am:9093/" + "/api/v2/alerts": one slash; a webhook's as given */
	while (path[0] && ul && url[ul - 1] == '/')
		ul--;
	snprintf(full, sizeof(full), "%.*s%s", (int)ul, url, path);
	if (h && header)
		h = curl_slist_append(h, header);
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

static const char *const kind_name[] = { "alertmanager", "webhook" };

/* STATE-DIR/notify/KIND-N: the URL and the time of the last push taken. */
static void mark_path(const struct server_notify *am, const struct server_notify_sink *s, char *buf,
                      size_t len)
{
	snprintf(buf, len, "%s/notify/%s-%zu", am->conf->state_dir, kind_name[s->kind],
	         (size_t)(s - am->sinks));
}

static void mark_load(struct server_notify *am, struct server_notify_sink *s)
{
	char path[4200], *text = NULL;
	size_t ul = strlen(s->url);

	mark_path(am, s, path, sizeof(path));
	if (aio_file_read_all(path, 8192, &text, NULL) == 0 && !strncmp(text, s->url, ul) &&
	    text[ul] == '\n')
		s->delivered_ms = strtoull(text + ul + 1, NULL, 10);
	free(text);
}

static void mark_save(struct server_notify *am, const struct server_notify_sink *s)
{
	char path[4200], dir[4200], text[2200];
	int n;

	snprintf(dir, sizeof(dir), "%s/notify", am->conf->state_dir);
	mark_path(am, s, path, sizeof(path));
	n = snprintf(text, sizeof(text), "%s\n%" PRIu64 "\n", s->url, s->delivered_ms);
	if (aio_mkdir_p(dir, 0700) < 0 || aio_file_write_atomic(path, text, (size_t)n, 0600) < 0)
		log_warn("%s: cannot keep when %s last took a push: after a restart it may hear "
		         "of some alerts again",
		         path, s->url);
}

/* A webhook's document: {"receiver":"aioctl","alerts":[... "status" ...]}
 * with the alerts that started or cleared in [since, now): one that moved
 * after now (while this push was made) is the next push's, so none is told
 * twice; *ret_news counts them. */
static char *webhook_body(struct server_notify *am, const struct server_alert *v, long n,
                          uint64_t since, uint64_t now, long *ret_news)
{
	json_t *doc = json_object(), *arr = json_array();
	char *body;

	*ret_news = 0;
	for (long i = 0; i < n; i++) {
		const struct server_alert *a = &v[i];
		/* as it stood at now */
		bool cleared = a->cleared_ms && a->cleared_ms < now;
		json_t *o;

		if (!(a->started_ms >= since && a->started_ms < now) &&
		    !(cleared && a->cleared_ms >= since))
			continue; /* told before, or the next push's */
		o = alert_json(am, a, now);
		json_object_set_new(o, "status", json_string(cleared ? "resolved" : "firing"));
		if (!cleared)
			json_object_del(o, "endsAt");
		json_array_append_new(arr, o);
		++*ret_news;
	}
	json_object_set_new(doc, "receiver", json_string("aioctl"));
	json_object_set_new(doc, "alerts", arr);
	body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return body;
}

static void push_one(struct server_notify *am, struct server_notify_sink *s, uint64_t now,
                     uint64_t generation)
{
	bool hook = s->kind == NOTIFY_WEBHOOK;
	uint64_t since = s->delivered_ms ? s->delivered_ms - (hook ? 0 : TICK_MS)
	                                 : (now > FIRST_CLEARS_MS ? now - FIRST_CLEARS_MS : 0);
	struct server_alert *v = NULL;
	long n = server_alerts_copy(am->alerts, since, &v), news = n;
	char *body = NULL, err[CURL_ERROR_SIZE + 64], sig[128];
	int r;

	if (n >= 0 && hook) {
		body = webhook_body(am, v, n, since, now, &news);
	} else if (n >= 0) {
		json_t *arr = json_array();

		for (long i = 0; i < n; i++)
			json_array_append_new(arr, alert_json(am, &v[i], now));
		body = json_dumps(arr, JSON_COMPACT);
		json_decref(arr);
	}
	free(v);
	if (n < 0 || !body || (hook && !news)) {
		free(body);
		if (hook && !news && n >= 0) /* nothing new: nothing to say */
			s->generation = generation;
		return;
	}
	if (hook && am->secret)
		signature(am, body, sig, sizeof(sig));
	r = post(s->url, hook ? "" : "/api/v2/alerts", hook && am->secret ? sig : NULL, body, err,
	         sizeof(err));
	free(body);
	if (r == 0) {
		if (s->failures)
			log_info("%s %s: delivered again (%ld alerts)", kind_name[s->kind], s->url,
			         news);
		s->failures = 0;
		s->backoff_ms = 0;
		s->delivered_ms = now;
		s->generation = generation;
		s->next_ms = now + am->conf->alertmanager_resend_ms;
		if (hook)
			mark_save(am, s);
		atomic_fetch_add(&am->pushed_total[s->kind], 1);
		return;
	}
	atomic_fetch_add(&am->failed_total[s->kind], 1);
	if (!s->failures++)
		log_warn("%s %s: %s; trying again with back-off", kind_name[s->kind], s->url, err);
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 1000;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->next_ms = now + s->backoff_ms;
}

static void notify_tick(struct server_notify *am);

static void tick(void *arg)
{
	struct server_notify *am = arg;

	/* of several servers on one database, the leader's alerts go out */
	if (!server_rollout_lead_held(am->alerts->engine))
		return;
	notify_tick(am);
}

static void notify_tick(struct server_notify *am)
{
	/* the generation first: whatever moves after it is read is pushed
	 * again next tick, and what moved after now is the next push's */
	uint64_t generation = server_alerts_generation(am->alerts), now = aio_now_ms();

	for (size_t i = 0; i < am->n_sinks; i++) {
		struct server_notify_sink *s = &am->sinks[i];

		bool due = now >= s->next_ms, news = generation != s->generation;

		/* backing off: only when due; else news at once, and Alertmanager
		 * the whole state again on resend */
		if (s->failures ? due : news || (due && s->kind == NOTIFY_ALERTMANAGER))
			push_one(am, s, now, generation);
	}
}

int server_notify_start(struct server_notify *am, const struct server_config *conf,
                        struct server_alerts *alerts, struct server_hosts *hosts)
{
	memset(am, 0, sizeof(*am));
	am->conf = conf;
	am->alerts = alerts;
	am->hosts = hosts;
	if (!conf->alertmanager_url.n && !conf->alert_webhook_url.n)
		return 0;
	if (conf->alert_webhook_secret_file) {
		int r = aio_file_read_all(conf->alert_webhook_secret_file, 4096, &am->secret, NULL);

		if (r == 0)
			am->secret_len = strcspn(am->secret, "\r\n");
		if (r < 0 || !am->secret_len) {
			log_err("--alert-webhook-secret-file %s: %s",
			        conf->alert_webhook_secret_file,
			        r < 0 ? strerror(-r) : "empty (one line: the shared secret)");
			return -EINVAL;
		}
	}
	am->n_sinks = conf->alertmanager_url.n + conf->alert_webhook_url.n;
	if (!(am->sinks = calloc(am->n_sinks, sizeof(*am->sinks))))
		return -ENOMEM;
	for (size_t i = 0; i < am->n_sinks; i++) {
		struct server_notify_sink *s = &am->sinks[i];
		bool hook = i >= conf->alertmanager_url.n;

		s->kind = hook ? NOTIFY_WEBHOOK : NOTIFY_ALERTMANAGER;
		s->url = hook ? conf->alert_webhook_url.v[i - conf->alertmanager_url.n]
		              : conf->alertmanager_url.v[i];
		if (strncmp(s->url, "http://", 7) != 0 && strncmp(s->url, "https://", 8) != 0) {
			log_err("--%s %s: not an http:// or https:// URL (example: %s)",
			        hook ? "alert-webhook-url" : "alertmanager-url", s->url,
			        hook ? "https://chat.example.net/hooks/aio"
			             : "http://127.0.0.1:9093");
			return -EINVAL;
		}
		s->generation = UINT64_MAX; /* nothing pushed yet */
		if (hook)
			mark_load(am, s);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	am->curl_inited = true;
	log_info("delivering alerts to %zu Alertmanager%s and %zu webhook%s",
	         conf->alertmanager_url.n, conf->alertmanager_url.n == 1 ? "" : "s",
	         conf->alert_webhook_url.n, conf->alert_webhook_url.n == 1 ? "" : "s");
	return aio_periodic_start(&am->thread, TICK_MS, tick, am);
}

void server_notify_stop(struct server_notify *am)
{
	aio_periodic_stop(&am->thread);
	free(am->sinks);
	am->sinks = NULL;
	am->n_sinks = 0;
	free(am->secret);
	am->secret = NULL;
	if (am->curl_inited)
		curl_global_cleanup();
	am->curl_inited = false;
}
