/* The HTTP JSON API and the web console (web.h). */
#include "web.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "config.h"
#include "creds.h"
#include "duration.h"
#include "log.h"
#include "names.h"
#include "rpc_server.h"
#include "tls.h"
#include "web_assets.h"

#define WEB_DEADLINE_MS 30000 /* an API call's, as aioctl's default */
#define WEB_PARAMS_MAX  16
#define WEB_SEGMENTS    5
#define WEB_TOO_LARGE   1000 /* reply_error's status for 413 */

/* ------------------------------------------------------------ replies */

static const char api_headers[][2][64] = {
	{ "Content-Type", "application/json" },
	{ "Cache-Control", "no-store" },
	{ "X-Content-Type-Options", "nosniff" },
};

static void finish(nng_aio *aio, nng_http_res *res)
{
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Answers with body (taken), or a bare 500 when even that fails. */
static void reply(nng_aio *aio, uint16_t code, char *body, size_t len, const char *allow)
{
	nng_http_res *res = NULL;
	int rv;

	if ((rv = nng_http_res_alloc(&res)) == 0)
		rv = nng_http_res_set_status(res, code);
	for (size_t i = 0; rv == 0 && i < sizeof(api_headers) / sizeof(api_headers[0]); i++)
		rv = nng_http_res_set_header(res, api_headers[i][0], api_headers[i][1]);
	if (rv == 0 && code == 401)
		rv = nng_http_res_set_header(res, "WWW-Authenticate",
		                             "Bearer realm=\"aio-server\"");
	if (rv == 0 && allow)
		rv = nng_http_res_set_header(res, "Allow", allow);
	if (rv == 0 && body)
		rv = nng_http_res_copy_data(res, body, len);
	free(body);
	if (rv != 0) {
		if (res)
			nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	finish(aio, res);
}

static uint16_t http_code(int status)
{
	switch (status) {
	case AIO_OK:
		return 200;
	case AIO_INVALID_ARGUMENT:
	case AIO_OUT_OF_RANGE:
		return 400;
	case AIO_UNAUTHENTICATED:
		return 401;
	case AIO_PERMISSION_DENIED:
		return 403;
	case AIO_NOT_FOUND:
		return 404;
	case AIO_ALREADY_EXISTS:
	case AIO_FAILED_PRECONDITION:
	case AIO_ABORTED:
		return 409;
	case AIO_RESOURCE_EXHAUSTED:
		return 429;
	case AIO_UNIMPLEMENTED:
		return 501;
	case AIO_UNAVAILABLE:
	case AIO_CANCELLED:
		return 503;
	case AIO_DEADLINE_EXCEEDED:
		return 504;
	default:
		return 500;
	}
}

/* {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": ...}} */
static void reply_error(nng_aio *aio, int status, const char *allow, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void reply_error(nng_aio *aio, int status, const char *allow, const char *fmt, ...)
{
	char msg[AIO_RPC_STATUS_MESSAGE_MAX];
	/* a wrong method says which it takes (405); a body too large, 413 */
	uint16_t code = allow ? 405 : status == WEB_TOO_LARGE ? 413 : http_code(status);
	json_t *o = json_object(), *e = json_object();
	va_list ap;
	char *body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status == WEB_TOO_LARGE)
		status = AIO_RESOURCE_EXHAUSTED;
	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "status", json_string(aio_status_name(status)));
	json_object_set_new(e, "message", cli_json_text(msg));
	json_object_set_new(o, "error", e);
	body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	reply(aio, code, body, body ? strlen(body) : 0, allow);
}

/* ------------------------------------------------------------ parsing */

struct param {
	char *key, *value; /* decoded, in the request's copy */
};

/* %XX and + decoded in place; false on a bad escape or a NUL. */
static bool percent_decode(char *s, bool plus)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			unsigned v;

			if (sscanf(s + 1, "%2x", &v) != 1 || !s[1] || !s[2] || v == 0)
				return false;
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = plus && *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
	return true;
}

struct web_req {
	nng_aio *aio;
	struct server_web *w;
	char uri[WEB_URI_MAX + 1];
	char *seg[WEB_SEGMENTS]; /* after /api/v1/ */
	size_t n_seg;
	struct param params[WEB_PARAMS_MAX];
	size_t n_params;
	const char *method;
	char token[AIO_RPC_CRED_MAX + 1];
	/* the call */
	const char *rpc;
	const ProtobufCMessageDescriptor *out;
	struct cli c; /* the options the answer is printed with */
	char *select_buf[32];
	const char *host; /* history's */
	bool one_rollout, one_host;
};

static const char *param(struct web_req *r, const char *key)
{
	for (size_t i = 0; i < r->n_params; i++)
		if (!strcmp(r->params[i].key, key))
			return r->params[i].value;
	return NULL;
}

/* Refuses a parameter not in allowed (a NULL-ended list): a typo must not
 * widen a query silently. */
static bool params_known(struct web_req *r, const char *const *allowed)
{
	for (size_t i = 0; i < r->n_params; i++) {
		bool ok = false;

		for (size_t j = 0; allowed[j] && !ok; j++)
			ok = !strcmp(r->params[i].key, allowed[j]);
		if (!ok) {
			reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
			            "unknown parameter '%s' (see /api/v1/openapi.json)",
			            r->params[i].key);
			return false;
		}
	}
	return true;
}

static int parse_uri(struct web_req *r, const char *uri)
{
	char *q, *p, *save = NULL;

	if (strlen(uri) > WEB_URI_MAX)
		return -E2BIG;
	snprintf(r->uri, sizeof(r->uri), "%s", uri);
	if ((q = strchr(r->uri, '?')))
		*q++ = '\0';
	p = r->uri + strlen("/api/v1");
	for (char *s = strtok_r(p, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (r->n_seg == WEB_SEGMENTS || !percent_decode(s, false) || strchr(s, '/'))
			return -EINVAL;
		r->seg[r->n_seg++] = s;
	}
	for (char *s = q ? strtok_r(q, "&", &save) : NULL; s; s = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(s, '=');

		if (r->n_params == WEB_PARAMS_MAX)
			return -E2BIG;
		if (eq)
			*eq++ = '\0';
		if (!percent_decode(s, true) || (eq && !percent_decode(eq, true)))
			return -EINVAL;
		r->params[r->n_params].key = s;
		r->params[r->n_params++].value = eq ? eq : "";
	}
	return 0;
}

static bool truthy(const char *v)
{
	return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !*v);
}

/* A since/until parameter, as aioctl's --since takes it; false after an
 * answer. */
static bool time_param(struct web_req *r, const char *key, uint64_t *ret_ms,
                       protobuf_c_boolean *has)
{
	const char *v = param(r, key);

	*has = false;
	if (!v)
		return true;
	if (cli_time_parse(v, aio_now_ms(), ret_ms) < 0) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "%s=%s: not a time (examples: 2h, 30d, yesterday, 2026-11-26, "
		            "2026-11-26T05:00:00Z)",
		            key, v);
		return false;
	}
	*has = true;
	return true;
}

static bool uint_param(struct web_req *r, const char *key, uint64_t max, uint64_t *ret, bool *has)
{
	const char *v = param(r, key);
	char *end;
	unsigned long long n;

	*has = false;
	if (!v)
		return true;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || !*v || *v == '-' || n > max) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "%s=%s: not a whole number up to %" PRIu64, key, v, max);
		return false;
	}
	*ret = n;
	*has = true;
	return true;
}

/* select=k=v (repeatable) and hosts=GLOB into r->c, checked as aioctl
 * checks --select and --hosts. */
static bool selection(struct web_req *r, Aioctl__V1__Selector *sel, struct cli_selector *cs)
{
	const char *hosts = param(r, "hosts");

	for (size_t i = 0; i < r->n_params; i++) {
		if (strcmp(r->params[i].key, "select"))
			continue;
		if (r->c.n_select == 32) {
			reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL, "more than 32 select=");
			return false;
		}
		r->c.select[r->c.n_select++] = r->params[i].value;
	}
	if (hosts && (!*hosts || strlen(hosts) > AIO_HOST_NAME_MAX * 4)) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL, "hosts=%s: not a host glob list",
		            hosts);
		return false;
	}
	r->c.hosts_glob = hosts;
	if (cli_selector(&r->c, cs) < 0) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "select: not KEY=VALUE labels (example: select=rack=r1)");
		return false;
	}
	if (sel)
		*sel = cs->sel;
	return true;
}

/* ------------------------------------------------------------ answers */

/* The local call answered: the reply printed as aioctl prints it. */
static void answered(void *arg, int status, const char *message, const ProtobufCBinaryData *payload)
{
	struct web_req *r = arg;
	ProtobufCMessage *m = NULL;
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int rv = 0;

	atomic_fetch_sub(&r->w->inflight, 1);
	if (status != AIO_OK) {
		reply_error(r->aio, status, NULL, "%s",
		            message ? message : aio_status_name(status));
		goto out;
	}
	if (!payload ||
	    !(m = protobuf_c_message_unpack(r->out, NULL, payload->len, payload->data)) ||
	    !(f = open_memstream(&body, &len))) {
		reply_error(r->aio, AIO_RESOURCE_EXHAUSTED, NULL, "server out of memory");
		goto out;
	}
	if (r->out == &aioctl__v1__fleet_status_reply__descriptor)
		rv = cli_fleet_print(&r->c, (void *)m, f);
	else if (r->out == &aioctl__v1__host_show_reply__descriptor)
		rv = cli_json_print(cli_host_show_json((void *)m), f);
	else if (r->out == &aioctl__v1__errors_reply__descriptor)
		rv = cli_errors_print(&r->c, (void *)m, f);
	else if (r->out == &aioctl__v1__alerts_reply__descriptor)
		rv = cli_alerts_print(&r->c, (void *)m, f);
	else if (r->out == &aioctl__v1__history_reply__descriptor)
		rv = cli_history_print(&r->c, r->host, (void *)m, f);
	else if (r->out == &aioctl__v1__trend_reply__descriptor)
		rv = cli_trend_print(&r->c, (void *)m, f);
	else if (r->out == &aioctl__v1__drift_reply__descriptor)
		rv = cli_drift_print(&r->c, (void *)m, f);
	else if (r->out == &aioctl__v1__rollout_list_reply__descriptor)
		rv = cli_rollouts_print(&r->c, (void *)m, f);
	else if (r->out == &aioctl__v1__audit_reply__descriptor)
		rv = cli_audit_print(&r->c, (void *)m, f);
	else
		rv = cli_json_print(cli_rollout_json((void *)m), f);
	if (fclose(f) != 0 || rv != 0) {
		free(body);
		reply_error(r->aio, AIO_RESOURCE_EXHAUSTED, NULL, "server out of memory");
		goto out;
	}
	reply(r->aio, 200, body, len, NULL);
out:
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	for (size_t i = 0; i < 32; i++)
		free(r->select_buf[i]);
	free(r);
}

static void call(struct web_req *r, const char *method, const ProtobufCMessage *in)
{
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
	        &aioctl__v1__admin__descriptor, method);
	int rv;

	r->out = m->output;
	r->c.format = CLI_JSON;
	if (atomic_fetch_add(&r->w->inflight, 1) >= WEB_INFLIGHT_MAX) {
		atomic_fetch_sub(&r->w->inflight, 1);
		reply_error(r->aio, AIO_RESOURCE_EXHAUSTED, NULL,
		            "too many API calls at once (%d): retry", WEB_INFLIGHT_MAX);
		free(r);
		return;
	}
	rv = aio_rpc_server_call_local(r->w->admin, method, r->token, "web",
	                               aio_now_ms() + WEB_DEADLINE_MS, in, answered, r);
	if (rv < 0) {
		atomic_fetch_sub(&r->w->inflight, 1);
		reply_error(r->aio, rv == -ESHUTDOWN ? AIO_UNAVAILABLE : AIO_RESOURCE_EXHAUSTED,
		            NULL, "%s",
		            rv == -ESHUTDOWN ? "server is shutting down" : "out of memory");
		free(r);
	}
}

/* ------------------------------------------------------------ routes */

static bool refuse_method(struct web_req *r, const char *allow)
{
	if (!strcmp(r->method, allow) || (!strcmp(allow, "GET") && !strcmp(r->method, "HEAD")))
		return false;
	reply_error(r->aio, AIO_INVALID_ARGUMENT, allow, "%s %s: only %s", r->method, r->uri,
	            allow);
	return true;
}

static void hosts_route(struct web_req *r)
{
	static const char *const ok[] = { "select", "hosts", "sort", "reverse", "live", NULL };
	Aioctl__V1__FleetStatusRequest in = AIOCTL__V1__FLEET_STATUS_REQUEST__INIT;
	struct cli_selector cs;

	if (!params_known(r, ok) || !selection(r, NULL, &cs))
		goto out_free;
	r->c.sort = param(r, "sort");
	r->c.reverse = truthy(param(r, "reverse"));
	if (!cli_fleet_sort_known(r->c.sort)) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "sort=%s: not a column (room, util, nr, max, seen or name)", r->c.sort);
		goto out_free;
	}
	if (truthy(param(r, "live"))) {
		in.has_live = in.live = true;
		in.has_timeout_ms = true;
		in.timeout_ms = 2500;
	}
	call(r, "FleetStatus", &in.base);
	return;
out_free:
	free(r);
}

static void host_route(struct web_req *r)
{
	static const char *const none[] = { NULL };
	static const char *const hist[] = { "since", "until", "step", "vm", NULL };

	if (!aio_host_name_valid(r->seg[1])) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL, "not a host name");
		goto out_free;
	}
	if (r->n_seg == 2) {
		Aioctl__V1__HostShowRequest in = AIOCTL__V1__HOST_SHOW_REQUEST__INIT;

		if (!params_known(r, none))
			goto out_free;
		in.host = r->seg[1];
		call(r, "HostShow", &in.base);
		return;
	}
	if (r->n_seg == 3 && !strcmp(r->seg[2], "history")) {
		Aioctl__V1__HistoryRequest in = AIOCTL__V1__HISTORY_REQUEST__INIT;
		const char *step = param(r, "step");

		if (!params_known(r, hist) ||
		    !time_param(r, "since", &in.since_ms, &in.has_since_ms) ||
		    !time_param(r, "until", &in.until_ms, &in.has_until_ms))
			goto out_free;
		if (step && aio_duration_parse(step, &in.step_ms) < 0) {
			reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
			            "step=%s: not a duration (examples: 5m, 1h)", step);
			goto out_free;
		}
		in.has_step_ms = step != NULL;
		in.host = r->seg[1];
		in.vm = (char *)param(r, "vm");
		r->c.vm = in.vm;
		r->host = r->seg[1];
		call(r, "History", &in.base);
		return;
	}
	reply_error(r->aio, AIO_NOT_FOUND, NULL, "no such path (see /api/v1/openapi.json)");
out_free:
	free(r);
}

static void errors_route(struct web_req *r)
{
	static const char *const ok[] = { "since", "host", "vm", "limit", NULL };
	Aioctl__V1__ErrorsRequest in = AIOCTL__V1__ERRORS_REQUEST__INIT;
	uint64_t limit;
	bool has;

	if (!params_known(r, ok) || !time_param(r, "since", &in.since_ms, &in.has_since_ms) ||
	    !uint_param(r, "limit", UINT32_MAX, &limit, &has))
		goto out_free;
	if (!in.has_since_ms) {
		in.has_since_ms = true;
		in.since_ms = aio_now_ms() - AIO_DAY_MS;
	}
	in.has_limit = has;
	in.limit = (uint32_t)limit;
	in.host = (char *)param(r, "host");
	in.vm = (char *)param(r, "vm");
	call(r, "Errors", &in.base);
	return;
out_free:
	free(r);
}

static void trend_route(struct web_req *r)
{
	static const char *const ok[] = { "since", "select", "hosts", "group_by",
		                          "top",   "series", NULL };
	Aioctl__V1__TrendRequest in = AIOCTL__V1__TREND_REQUEST__INIT;
	Aioctl__V1__Selector sel = AIOCTL__V1__SELECTOR__INIT;
	struct cli_selector cs;
	uint64_t since = 0, top = 0, series = 0;
	protobuf_c_boolean has;
	bool has_series;

	if (!params_known(r, ok) || !selection(r, &sel, &cs) ||
	    !time_param(r, "since", &since, &has) ||
	    !uint_param(r, "top", 100000, &top, &(bool){ false }) ||
	    !uint_param(r, "series", 50, &series, &has_series))
		goto out_free;
	in.has_series = has_series;
	in.series = (uint32_t)series;
	if (has) { /* the request takes a duration back from now */
		uint64_t now = aio_now_ms();

		in.has_since_ms = true;
		in.since_ms = now > since ? now - since : 1;
	}
	if (r->c.n_select || r->c.hosts_glob)
		in.selector = &sel;
	in.group_by = (char *)param(r, "group_by");
	r->c.group_by = in.group_by;
	r->c.top = top;
	call(r, "Trend", &in.base);
	return;
out_free:
	free(r);
}

static void simple_route(struct web_req *r, const char *method)
{
	static const char *const ok[] = { "since", "limit", NULL };
	static const char *const none[] = { NULL };
	union {
		Aioctl__V1__AlertsRequest alerts;
		Aioctl__V1__AuditRequest audit;
		Aioctl__V1__DriftRequest drift;
		Aioctl__V1__RolloutListRequest list;
	} in;
	uint64_t since = 0, limit = 0;
	protobuf_c_boolean has_since = false;
	bool has_limit = false;

	if (!params_known(r, strcmp(method, "Drift") ? ok : none) ||
	    !time_param(r, "since", &since, &has_since) ||
	    !uint_param(r, "limit", UINT32_MAX, &limit, &has_limit))
		goto out_free;
	if (!strcmp(method, "Alerts")) {
		in.alerts = (Aioctl__V1__AlertsRequest)AIOCTL__V1__ALERTS_REQUEST__INIT;
		in.alerts.has_since_ms = true;
		in.alerts.since_ms = has_since ? since : aio_now_ms() - AIO_DAY_MS;
		in.alerts.has_limit = has_limit;
		in.alerts.limit = (uint32_t)limit;
	} else if (!strcmp(method, "Audit")) {
		in.audit = (Aioctl__V1__AuditRequest)AIOCTL__V1__AUDIT_REQUEST__INIT;
		in.audit.has_since_ms = has_since;
		in.audit.since_ms = since;
		in.audit.has_limit = has_limit;
		in.audit.limit = (uint32_t)limit;
	} else if (!strcmp(method, "Drift")) {
		in.drift = (Aioctl__V1__DriftRequest)AIOCTL__V1__DRIFT_REQUEST__INIT;
	} else {
		in.list = (Aioctl__V1__RolloutListRequest)AIOCTL__V1__ROLLOUT_LIST_REQUEST__INIT;
		in.list.has_limit = has_limit;
		in.list.limit = (uint32_t)limit;
	}
	call(r, method, (ProtobufCMessage *)&in);
	return;
out_free:
	free(r);
}

/* A JSON body's member of type, or an answer and false. */
static bool member(struct web_req *r, json_t *body, const char *key, int type, json_t **ret)
{
	json_t *v = json_object_get(body, key);

	*ret = v;
	if (!v || (int)json_typeof(v) == type || (type == JSON_TRUE && json_is_boolean(v)))
		return true;
	reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL, "%s: must be %s", key,
	            type == JSON_INTEGER  ? "a whole number"
	            : type == JSON_STRING ? "a string"
	            : type == JSON_ARRAY  ? "an array of KEY=VALUE strings"
	                                  : "true or false");
	return false;
}

/* POST /rollouts: aioctl fleet set's options as a JSON object. */
static void create_rollout(struct web_req *r, const char *data, size_t len)
{
	static const struct {
		const char *key;
		int type;
	} known[] = {
		{ "max", JSON_INTEGER },
		{ "select", JSON_ARRAY },
		{ "hosts", JSON_STRING },
		{ "canary", JSON_INTEGER },
		{ "batch", JSON_INTEGER },
		{ "batch_percent", JSON_TRUE },
		{ "max_failures", JSON_INTEGER },
		{ "max_failures_percent", JSON_TRUE },
		{ "soak", JSON_STRING },
		{ "rollback_on_failure", JSON_TRUE },
		{ "offline_timeout", JSON_STRING },
		{ "force", JSON_TRUE },
		{ "dry_run", JSON_TRUE },
		{ "supersede", JSON_TRUE },
		{ "allow_lower", JSON_TRUE },
	};
	Aioctl__V1__SetLimitRequest in = AIOCTL__V1__SET_LIMIT_REQUEST__INIT;
	Aioctl__V1__Selector sel = AIOCTL__V1__SELECTOR__INIT;
	struct cli_selector cs;
	json_error_t jerr;
	json_t *body, *v[sizeof(known) / sizeof(known[0])];
	const char *key;
	json_t *val;

	if (!(body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr)) ||
	    !json_is_object(body)) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "body: not a JSON object (%s at line %d)",
		            body ? "another value" : jerr.text, jerr.line);
		json_decref(body);
		free(r);
		return;
	}
	json_object_foreach(body, key, val)
	{
		size_t i = 0;

		while (i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i].key))
			i++;
		if (i == sizeof(known) / sizeof(known[0])) {
			reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
			            "body: unknown field '%.64s' (see /api/v1/openapi.json)", key);
			goto out_free;
		}
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!member(r, body, known[i].key, known[i].type, &v[i]))
			goto out_free;
	if (!v[0] || json_integer_value(v[0]) <= 0) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "max: the new fs.aio-max-nr is required, a positive number");
		goto out_free;
	}
	in.target = (uint64_t)json_integer_value(v[0]);
	if (v[1]) {
		size_t i;
		json_t *e;

		json_array_foreach(v[1], i, e)
		{
			if (!json_is_string(e) || i >= 32) {
				reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
				            "select: up to 32 KEY=VALUE strings");
				goto out_free;
			}
			r->select_buf[i] = strdup(json_string_value(e));
			r->c.select[r->c.n_select++] = r->select_buf[i];
		}
	}
	r->c.hosts_glob = v[2] ? json_string_value(v[2]) : NULL;
	if (cli_selector(&r->c, &cs) < 0) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "select: not KEY=VALUE labels (example: [\"rack=r1\"])");
		goto out_free;
	}
	sel = cs.sel;
	if (r->c.n_select || r->c.hosts_glob)
		in.selector = &sel;
	for (size_t i = 3; i <= 6; i += 1) {
		json_int_t n = v[i] && json_is_integer(v[i]) ? json_integer_value(v[i]) : 0;

		if (n < 0 || n > UINT32_MAX) {
			reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL, "%s: out of range",
			            known[i].key);
			goto out_free;
		}
	}
	in.has_canary = v[3] != NULL;
	in.canary = v[3] ? (uint32_t)json_integer_value(v[3]) : 0;
	in.has_batch = v[4] != NULL;
	in.batch = v[4] ? (uint32_t)json_integer_value(v[4]) : 0;
	in.has_batch_percent = v[5] != NULL;
	in.batch_percent = json_is_true(v[5]);
	in.has_max_failures = v[6] != NULL;
	in.max_failures = v[6] ? (uint32_t)json_integer_value(v[6]) : 0;
	in.has_max_failures_percent = v[7] != NULL;
	in.max_failures_percent = json_is_true(v[7]);
	if (v[8] && aio_duration_parse(json_string_value(v[8]), &in.soak_ms) < 0) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL, "soak: not a duration (30s, 5m)");
		goto out_free;
	}
	in.has_soak_ms = v[8] != NULL;
	in.has_rollback_on_failure = v[9] != NULL;
	in.rollback_on_failure = json_is_true(v[9]);
	if (v[10] && aio_duration_parse(json_string_value(v[10]), &in.offline_timeout_ms) < 0) {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL,
		            "offline_timeout: not a duration (10m, 1h)");
		goto out_free;
	}
	in.has_offline_timeout_ms = v[10] != NULL;
	in.has_force = in.force = json_is_true(v[11]);
	in.has_dry_run = in.dry_run = json_is_true(v[12]);
	in.has_supersede = in.supersede = json_is_true(v[13]);
	in.has_allow_lower = in.allow_lower = json_is_true(v[14]);
	call(r, "SetLimit", &in.base);
	json_decref(body);
	return;
out_free:
	json_decref(body);
	for (size_t i = 0; i < 32; i++)
		free(r->select_buf[i]);
	free(r);
}

static void rollout_route(struct web_req *r, const char *data, size_t len)
{
	static const char *const none[] = { NULL };
	static const char *const actions[][2] = { { "pause", "RolloutPause" },
		                                  { "resume", "RolloutResume" },
		                                  { "abort", "RolloutAbort" },
		                                  { "rollback", "RolloutRollback" } };
	Aioctl__V1__RolloutRequest in = AIOCTL__V1__ROLLOUT_REQUEST__INIT;
	char *end;

	if (r->n_seg == 1) {
		if (!strcmp(r->method, "POST")) {
			if (!params_known(r, none))
				goto out_free;
			create_rollout(r, data, len);
			return;
		}
		if (refuse_method(r, "GET"))
			goto out_free;
		simple_route(r, "RolloutList");
		return;
	}
	errno = 0;
	in.id = strtoull(r->seg[1], &end, 10);
	if (errno || *end || !in.id || *r->seg[1] == '-') {
		reply_error(r->aio, AIO_INVALID_ARGUMENT, NULL, "%.40s: not a rollout id",
		            r->seg[1]);
		goto out_free;
	}
	if (!params_known(r, none))
		goto out_free;
	if (r->n_seg == 2) {
		if (refuse_method(r, "GET"))
			goto out_free;
		call(r, "RolloutGet", &in.base);
		return;
	}
	for (size_t i = 0; r->n_seg == 3 && i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(r->seg[2], actions[i][0]))
			continue;
		if (refuse_method(r, "POST"))
			goto out_free;
		call(r, actions[i][1], &in.base);
		return;
	}
	reply_error(r->aio, AIO_NOT_FOUND, NULL, "no such path (see /api/v1/openapi.json)");
out_free:
	free(r);
}

/* GET /session: who the token is and what its role may do, for the
 * console to offer only that. */
static void session_route(struct web_req *r)
{
	static const char *const methods[][2] = {
		{ "start_rollouts", "aioctl.v1.Admin/SetLimit" },
		{ "control_rollouts", "aioctl.v1.Admin/RolloutPause" },
		{ "read_audit", "aioctl.v1.Admin/Audit" },
	};
	const struct server_token *t = server_creds_find_token(r->w->creds, r->token);
	json_t *o, *may;
	char *body;

	if (!t) {
		reply_error(r->aio, AIO_UNAUTHENTICATED, NULL, "admin token not accepted");
		free(r);
		return;
	}
	o = json_object();
	may = json_object();
	json_object_set_new(o, "name", cli_json_text(t->name));
	json_object_set_new(o, "role", json_string(server_creds_role_name(t->role)));
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		json_object_set_new(may, methods[i][0],
		                    json_boolean(t->role >= server_creds_role_for(methods[i][1])));
	json_object_set_new(o, "may", may);
	json_object_set_new(o, "version", json_string(AIO_VERSION));
	body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	reply(r->aio, 200, body, body ? strlen(body) : 0, NULL);
	free(r);
}

static void api_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct server_web *w = nng_http_handler_get_data(h);
	const char *auth = nng_http_req_get_header(req, "Authorization");
	struct web_req *r;
	void *data = NULL;
	size_t len = 0;
	int rv;

	atomic_fetch_add(&w->requests_total, 1);
	if (!(r = calloc(1, sizeof(*r)))) {
		reply_error(aio, AIO_RESOURCE_EXHAUSTED, NULL, "server out of memory");
		return;
	}
	r->aio = aio;
	r->w = w;
	r->method = nng_http_req_get_method(req);
	nng_http_req_get_data(req, &data, &len);
	if ((rv = parse_uri(r, nng_http_req_get_uri(req))) < 0) {
		reply_error(aio, AIO_INVALID_ARGUMENT, NULL,
		            rv == -E2BIG ? "path and query longer than %d bytes, or more than %d "
		                           "parameters"
		                         : "bad path or query: a bad %%-escape, %%00, or an "
		                           "escaped '/' (limits: %d bytes, %d parameters)",
		            WEB_URI_MAX, WEB_PARAMS_MAX);
		goto out_free;
	}
	if (r->n_seg == 1 && !strcmp(r->seg[0], "openapi.json")) {
		if (refuse_method(r, "GET"))
			goto out_free;
		reply(aio, 200, strndup(web_openapi_json, web_openapi_json_len),
		      web_openapi_json_len, NULL);
		goto out_free;
	}
	if (!auth || strncmp(auth, "Bearer ", 7) || !auth[7]) {
		reply_error(aio, AIO_UNAUTHENTICATED, NULL,
		            "send the token: Authorization: Bearer TOKEN (aioctl token create)");
		goto out_free;
	}
	if (strlen(auth + 7) > AIO_RPC_CRED_MAX) {
		reply_error(aio, AIO_UNAUTHENTICATED, NULL, "admin token not accepted");
		goto out_free;
	}
	snprintf(r->token, sizeof(r->token), "%s", auth + 7);
	if (len > WEB_BODY_MAX) {
		reply_error(aio, WEB_TOO_LARGE, NULL, "body of %zu bytes: at most %d", len,
		            WEB_BODY_MAX);
		goto out_free;
	}
	if (strcmp(r->method, "POST") && len) {
		reply_error(aio, AIO_INVALID_ARGUMENT, NULL, "%s takes no body", r->method);
		goto out_free;
	}
	if (!r->n_seg) {
		reply_error(aio, AIO_NOT_FOUND, NULL, "no such path (see /api/v1/openapi.json)");
		goto out_free;
	}
	if (!strcmp(r->seg[0], "rollouts") && r->n_seg <= 3) {
		rollout_route(r, data, len);
		return;
	}
	if (refuse_method(r, "GET"))
		goto out_free;
	if (!strcmp(r->seg[0], "hosts") && r->n_seg == 1)
		hosts_route(r);
	else if (!strcmp(r->seg[0], "hosts") && r->n_seg <= 3)
		host_route(r);
	else if (!strcmp(r->seg[0], "session") && r->n_seg == 1)
		session_route(r);
	else if (!strcmp(r->seg[0], "errors") && r->n_seg == 1)
		errors_route(r);
	else if (!strcmp(r->seg[0], "trend") && r->n_seg == 1)
		trend_route(r);
	else if (!strcmp(r->seg[0], "drift") && r->n_seg == 1)
		simple_route(r, "Drift");
	else if (!strcmp(r->seg[0], "alerts") && r->n_seg == 1)
		simple_route(r, "Alerts");
	else if (!strcmp(r->seg[0], "audit") && r->n_seg == 1)
		simple_route(r, "Audit");
	else {
		reply_error(aio, AIO_NOT_FOUND, NULL, "no such path (see /api/v1/openapi.json)");
		goto out_free;
	}
	return;
out_free:
	free(r);
}

/* ------------------------------------------------------------ console */

/* Scripts and styles from this listener only: a string a host sends
 * cannot run in an operator's browser even if it got past the escaping. */
#define CSP                                                                               \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

static void asset_cb(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	const struct web_asset *a = nng_http_handler_get_data(h);
	nng_http_res *res = NULL;
	int rv;

	if ((rv = nng_http_res_alloc(&res)) == 0 &&
	    (rv = nng_http_res_set_header(res, "Content-Type", a->type)) == 0 &&
	    (rv = nng_http_res_set_header(res, "Content-Security-Policy", CSP)) == 0 &&
	    (rv = nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff")) == 0 &&
	    (rv = nng_http_res_set_header(res, "Referrer-Policy", "no-referrer")) == 0 &&
	    (rv = nng_http_res_set_header(res, "X-Frame-Options", "DENY")) == 0 &&
	    (rv = nng_http_res_set_data(res, a->data, a->len)) == 0) {
		finish(aio, res);
		return;
	}
	if (res)
		nng_http_res_free(res);
	nng_aio_finish(aio, rv);
}

static int add(struct server_web *w, const char *path, void (*cb)(nng_aio *), void *data, bool tree,
               const char *method)
{
	nng_http_handler *h = NULL;
	int rv;

	if ((rv = nng_http_handler_alloc(&h, path, cb)) == 0 &&
	    (rv = nng_http_handler_set_method(h, method)) == 0 &&
	    (rv = nng_http_handler_set_data(h, data, NULL)) == 0 &&
	    (!tree || (rv = nng_http_handler_set_tree(h)) == 0) &&
	    (!tree || (rv = nng_http_handler_collect_body(h, true, WEB_BODY_READ_MAX)) == 0) &&
	    (rv = nng_http_server_add_handler(w->http, h)) == 0)
		return 0;
	if (h)
		nng_http_handler_free(h);
	return rv;
}

bool server_web_url_safe(const char *url)
{
	static const char *const ok[] = { "https://", "http://127.",
		                          "http://localhost:", "http://localhost/",
		                          "http://[::1]" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(url, ok[i], strlen(ok[i])))
			return true;
	return false;
}

static int web_tls(struct server_web *w, const struct server_config *c)
{
	struct aio_tls_opts o = { .cert_file = c->tls_cert,
		                  .key_file = c->tls_key,
		                  .no_peer_cert = true };
	nng_tls_config *cfg = NULL;
	char err[512];
	int rv;

	if (!c->tls_cert) {
		log_err("--web-listen %s: https needs --tls-cert and --tls-key", w->url);
		return -EINVAL;
	}
	if (aio_tls_config_new(&o, true, &cfg, err, sizeof(err)) < 0) {
		log_err("--web-listen %s: %s", w->url, err);
		return -EINVAL;
	}
	if ((rv = nng_http_server_set_tls(w->http, cfg)) != 0)
		log_err("--web-listen %s: %s", w->url, nng_strerror(rv));
	nng_tls_config_free(cfg); /* the server holds its own reference */
	return rv ? -EINVAL : 0;
}

int server_web_start(struct server_web *w, const char *url)
{
	bool shared = w->conf->http_listen && !strcmp(url, w->conf->http_listen);
	nng_url *u = NULL;
	int rv;

	snprintf(w->url, sizeof(w->url), "%s", url);
	if ((rv = nng_url_parse(&u, url)) != 0) {
		log_err("--web-listen %s: not a URL (example: http://127.0.0.1:7702)", url);
		return -EINVAL;
	}
	rv = nng_http_server_hold(&w->http, u);
	nng_url_free(u);
	if (rv != 0) {
		log_err("--web-listen %s: %s", url, nng_strerror(rv));
		return -EINVAL;
	}
	if (!strncmp(url, "https://", 8) && (rv = web_tls(w, w->conf)) < 0)
		return rv;
	if ((rv = add(w, "/api/v1", api_cb, w, true, NULL)) != 0)
		goto fail;
	for (size_t i = 0; i < web_assets_n; i++)
		if ((rv = add(w, web_assets[i].path, asset_cb, (void *)&web_assets[i], false,
		              "GET")) != 0)
			goto fail;
	/* "/" is the index of /metrics when the listener is shared */
	if (!shared && (rv = add(w, "/", asset_cb, (void *)&web_assets[0], false, "GET")) != 0)
		goto fail;
	if ((rv = nng_http_server_start(w->http)) != 0) {
		log_err("--web-listen %s: %s", url, nng_strerror(rv));
		nng_http_server_release(w->http);
		w->http = NULL;
		return -EADDRINUSE;
	}
	log_info("serving the web console on %s/ui/ and the API on %s/api/v1/", url, url);
	return 0;
fail:
	log_err("--web-listen %s: %s", url, nng_strerror(rv));
	nng_http_server_release(w->http);
	w->http = NULL;
	return -EINVAL;
}

void server_web_stop(struct server_web *w)
{
	if (!w->http)
		return;
	nng_http_server_stop(w->http);
	nng_http_server_release(w->http);
	w->http = NULL;
}
