#include "config.h"
#include "clock.h"

#include <stddef.h>

#define KEY(name, type, field, def, min, max, metavar, help)                                    \
	{                                                                                       \
		name, type, offsetof(struct server_config, field), def, min, max, metavar, help \
	}

static const struct aio_conf_key keys[] = {
	KEY("config", AIO_CONF_STRING, config, NULL, 0, 0, "FILE", "read settings from FILE"),
	KEY("listen", AIO_CONF_STRING, listen, "tcp://127.0.0.1:7700", 0, 0, "URL",
	    "where agents connect (tcp:// or tls+tcp://)"),
	KEY("admin-listen", AIO_CONF_STRING, admin_listen, "tcp://127.0.0.1:7701", 0, 0, "URL",
	    "where aioctl connects"),
	KEY("state-dir", AIO_CONF_STRING, state_dir, "/var/lib/aio-server", 0, 0, "DIR",
	    "holds server.db and admin.token"),
	KEY("db", AIO_CONF_STRING, db, NULL, 0, 0, "PATH|URL",
	    "SQLite database [STATE-DIR/server.db], or PostgreSQL's postgresql://... URL that "
	    "several servers share"),
	KEY("migrate-from", AIO_CONF_STRING, migrate_from, NULL, 0, 0, "FILE",
	    "copy this SQLite database into the empty PostgreSQL one --db names, check it "
	    "row for row, and exit"),
	KEY("server-name", AIO_CONF_STRING, server_name, NULL, 0, 0, "NAME",
	    "this server's name among several on one PostgreSQL [HOSTNAME:PORT]"),
	KEY("log-level", AIO_CONF_LOGLEVEL, log_level, "info", 0, 0, "LEVEL",
	    "error, warning, info or debug"),
	KEY("max-message-size", AIO_CONF_SIZE, max_message_size, "1MiB", 4096, 64 << 20, "SIZE",
	    "largest request accepted"),
	KEY("max-connections", AIO_CONF_UINT, max_connections, "0", 0, 10000000, "N",
	    "agent connections open at once (each holds a descriptor; past the cap a new one is "
	    "closed and logged); 0: what the descriptor limit allows, with room kept for the "
	    "admin listener"),
	KEY("max-admin-connections", AIO_CONF_UINT, max_admin_connections, "256", 1, 100000, "N",
	    "aioctl connections open at once"),
	KEY("idle-timeout", AIO_CONF_DURATION, idle_timeout_ms, "2m", 1000, AIO_DAY_MS, "DUR",
	    "close a connection with no call under way for this long (agents call every interval; "
	    "a held Watch is a call)"),
	KEY("rpc-pool", AIO_CONF_UINT, rpc_pool, "32", 1, 4096, "N",
	    "contexts waiting for requests per listener"),
	KEY("db-queue-max", AIO_CONF_UINT, db_queue_max, "100000", 16, 10000000, "N",
	    "writes queued before agents are told to retry"),
	KEY("db-batch-max", AIO_CONF_UINT, db_batch_max, "5000", 1, 1000000, "N",
	    "writes per transaction"),
	KEY("db-batch-wait", AIO_CONF_DURATION, db_batch_wait_ms, "0", 0, 100, "DUR",
	    "under load, how long a batch may wait to fill (0: never)"),
	KEY("replay-max", AIO_CONF_DURATION, replay_max_ms, "31d", 60000, 400ULL * 86400000, "DUR",
	    "oldest sample accepted (spool replays, backfills)"),
	KEY("trend-headroom", AIO_CONF_UINT, trend_headroom, "50", 0, 1000, "PERCENT",
	    "report trend: recommend the observed peak plus this much"),
	KEY("trend-horizon", AIO_CONF_DURATION, trend_horizon_ms, "365d", 86400000,
	    3650ULL * 86400000, "DUR", "report trend: how far ahead exhaustion is projected"),
	KEY("raw-keepalive", AIO_CONF_DURATION, raw_keepalive_ms, "5m", 0, 86400000, "DUR",
	    "store a report equal to the last one again after this long (0: store all)"),
	KEY("raw-retention", AIO_CONF_DURATION, raw_retention_ms, "7d", 0, 3650ULL * 86400000,
	    "DUR", "keep raw samples this long (0: for ever)"),
	KEY("rollup-5m-retention", AIO_CONF_DURATION, rollup_5m_retention_ms, "90d", 0,
	    3650ULL * 86400000, "DUR", "keep 5-minute rollups this long (0: for ever)"),
	KEY("rollup-1h-retention", AIO_CONF_DURATION, rollup_1h_retention_ms, "730d", 0,
	    3650ULL * 86400000, "DUR", "keep hourly rollups this long (0: for ever)"),
	KEY("event-retention", AIO_CONF_DURATION, event_retention_ms, "365d", 0, 3650ULL * 86400000,
	    "DUR", "keep AIO error events this long (0: for ever)"),
	KEY("audit-retention", AIO_CONF_DURATION, audit_retention_ms, "730d", 0, 3650ULL * 86400000,
	    "DUR",
	    "keep audit entries this long, a day at least (0: for ever); the database refuses to "
	    "remove a younger one"),
	KEY("vm-usage-retention", AIO_CONF_DURATION, vm_usage_retention_ms, "90d", 0,
	    3650ULL * 86400000, "DUR", "keep per-VM usage changes this long (0: for ever)"),
	KEY("prune-interval", AIO_CONF_DURATION, prune_interval_ms, "10m", 100, 86400000, "DUR",
	    "how often retention runs"),
	KEY("prune-batch", AIO_CONF_UINT, prune_batch, "2000", 1, 1000000, "N",
	    "rows one retention step deletes at most"),
	KEY("alert-interval", AIO_CONF_DURATION, alert_interval_ms, "15s", 100, AIO_HOUR_MS, "DUR",
	    "how often alerts are evaluated"),
	KEY("alert-room", AIO_CONF_UINT, alert_room, "4", 0, 1000000, "CONTEXTS",
	    "alert when fewer 1024-event AIO contexts than this fit under a host's limit "
	    "at its interval's peak (0: off)"),
	KEY("alert-utilization", AIO_CONF_UINT, alert_utilization, "80", 0, 1000, "PERCENT",
	    "alert when a host's aio-nr peak reaches this share of its limit (0: off)"),
	KEY("alert-errors", AIO_CONF_UINT, alert_errors, "1", 0, 1000000, "N",
	    "alert when a host logs this many AIO errors within an hour (0: off)"),
	KEY("alert-guard", AIO_CONF_UINT, alert_guard, "1", 0, 1000000, "N",
	    "alert when the guard refuses, raises for or warns of this many VM starts on a "
	    "host within an hour (0: off)"),
	KEY("alert-silent", AIO_CONF_DURATION, alert_silent_ms, "5m", 0, 30ULL * 86400000, "DUR",
	    "alert when a host has not reported for this long (0: off)"),
	KEY("alert-drift", AIO_CONF_BOOL, alert_drift, "yes", 0, 0, "",
	    "alert when a host's live or after-reboot value leaves what a rollout set"),
	KEY("alert-rollout-stalled", AIO_CONF_DURATION, alert_rollout_stalled_ms, "1h", 0,
	    30ULL * 86400000, "DUR",
	    "alert when a rollout's steps have not moved for this long (0: off)"),
	KEY("alertmanager-url", AIO_CONF_LIST, alertmanager_url, NULL, 0, 0, "URL",
	    "push alerts to this Alertmanager's v2 API (repeatable; http:// or https://)"),
	KEY("alertmanager-resend", AIO_CONF_DURATION, alertmanager_resend_ms, "1m", 1000,
	    AIO_HOUR_MS, "DUR",
	    "push the active alerts again this often (under Alertmanager's resolve_timeout)"),
	KEY("alert-webhook-url", AIO_CONF_LIST, alert_webhook_url, NULL, 0, 0, "URL",
	    "POST each alert's start and clear once to this JSON webhook (repeatable)"),
	KEY("alert-webhook-secret-file", AIO_CONF_STRING, alert_webhook_secret_file, NULL, 0, 0,
	    "FILE", "sign webhook bodies: X-Aioctl-Signature: sha256=HMAC-SHA256(secret, body)"),
	KEY("http-listen", AIO_CONF_STRING, http_listen, "http://127.0.0.1:7702", 0, 0, "URL",
	    "serve /metrics here ('' to turn it off)"),
	KEY("web-listen", AIO_CONF_STRING, web_listen, NULL, 0, 0, "URL",
	    "serve the web console (/ui/) and the HTTP API (/api/v1/) here: https:// with "
	    "tls-cert and tls-key, or plain http:// on loopback (default: on http-listen when "
	    "that is loopback; '' to turn it off)"),
	KEY("tls-ca", AIO_CONF_STRING, tls_ca, NULL, 0, 0, "FILE",
	    "CA that signs client certificates (the agents')"),
	KEY("admin-tls-ca", AIO_CONF_STRING, admin_tls_ca, NULL, 0, 0, "FILE",
	    "CA that signs aioctl's certificates on the admin listener (default: tls-ca, and then "
	    "an agent's certificate passes TLS there too)"),
	KEY("tls-cert", AIO_CONF_STRING, tls_cert, NULL, 0, 0, "FILE", "server certificate (PEM)"),
	KEY("tls-key", AIO_CONF_STRING, tls_key, NULL, 0, 0, "FILE", "server key (PEM)"),
	KEY("initialize", AIO_CONF_BOOL, initialize, "no", 0, 0, "",
	    "start an empty fleet although STATE-DIR says a server ran here and its database is "
	    "missing or empty (every host enrolls again)"),
	KEY("insecure", AIO_CONF_BOOL, insecure, "no", 0, 0, "",
	    "allow plain tcp:// on addresses other than loopback"),
};

/* the keys SIGHUP changes while running; the rest need a restart */
static const char *const live_keys[] = {
	"log-level",           "raw-retention",   "rollup-5m-retention",
	"rollup-1h-retention", "event-retention", "audit-retention",
	"vm-usage-retention",  "prune-batch",     "alert-room",
	"alert-utilization",   "alert-errors",    "alert-guard",
	"alert-silent",        "alert-drift",     "alert-rollout-stalled",
	"trend-headroom",      "trend-horizon",   NULL,
};

const struct aio_conf_spec server_config_spec = {
	.prog = "aio-server",
	.summary = "Keeps the fleet's AIO history and runs limit rollouts.",
	.keys = keys,
	.n_keys = sizeof(keys) / sizeof(keys[0]),
	.default_file = "/etc/aioctl/server.conf",
	.live = live_keys,
};
