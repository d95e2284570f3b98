#include "config.h"
#include "clock.h"

#include <stddef.h>
#include <stdint.h>

#define KEY(name, type, field, def, min, max, metavar, help)                                   \
	{                                                                                      \
		name, type, offsetof(struct agent_config, field), def, min, max, metavar, help \
	}

static const struct aio_conf_key keys[] = {
	KEY("config", AIO_CONF_STRING, config, NULL, 0, 0, "FILE", "read settings from FILE"),
	KEY("server", AIO_CONF_STRING, server, "tcp://127.0.0.1:7700", 0, 0, "URL[,URL...]",
	    "aio-server to report to (tcp:// or tls+tcp://); several servers on one "
	    "database, comma-separated, are tried in turn when one stops answering"),
	KEY("host-id", AIO_CONF_STRING, host_id, NULL, 0, 0, "NAME",
	    "this host's name in the fleet [the hostname]"),
	KEY("label", AIO_CONF_LIST, labels, NULL, 0, 0, "KEY=VALUE",
	    "a label for selecting hosts (repeatable)"),
	KEY("sysroot", AIO_CONF_STRING, sysroot, "/", 0, 0, "DIR",
	    "read /proc, /etc and logs under DIR (tests, demos)"),
	KEY("interval", AIO_CONF_DURATION, interval_ms, "10s", 100, AIO_HOUR_MS, "DUR",
	    "report interval"),
	KEY("sample-interval", AIO_CONF_DURATION, sample_interval_ms, "1s", 100, AIO_HOUR_MS, "DUR",
	    "how often the counters are read (at most the report interval)"),
	KEY("state-dir", AIO_CONF_STRING, state_dir, "/var/lib/aio-agent", 0, 0, "DIR",
	    "where the agent keeps its state"),
	KEY("log-level", AIO_CONF_LOGLEVEL, log_level, "info", 0, 0, "LEVEL",
	    "error, warning, info or debug"),
	KEY("max-message-size", AIO_CONF_SIZE, max_message_size, "1MiB", 4096, 64 << 20, "SIZE",
	    "largest reply accepted"),
	KEY("call-timeout", AIO_CONF_DURATION, call_timeout_ms, "5s", 100, 600 * 1000, "DUR",
	    "how long one call to the server may take"),
	KEY("spool-max", AIO_CONF_SIZE, spool_max, "64MiB", 64 * 1024, 1ULL << 40, "SIZE",
	    "disk kept for reports the server has not acknowledged"),
	KEY("attribution-interval", AIO_CONF_DURATION, attribution_interval_ms, "30s", 1000,
	    AIO_DAY_MS, "DUR", "how often /proc/*/maps and sysctl.d are scanned"),
	KEY("journal-backlog", AIO_CONF_DURATION, journal_backlog_ms, "1d", 0, 3650ULL * AIO_DAY_MS,
	    "DUR", "on first start, read the journal this far back (0: all of it)"),
	KEY("limit-min", AIO_CONF_UINT, limit_min, "65536", 1, UINT32_MAX, "N",
	    "lowest fs.aio-max-nr this host accepts, whatever the server asks"),
	KEY("limit-max", AIO_CONF_UINT, limit_max, "16777216", 1, UINT32_MAX, "N",
	    "highest fs.aio-max-nr this host accepts"),
	KEY("limit-margin", AIO_CONF_UINT, limit_margin, "4096", 0, UINT32_MAX, "N",
	    "refuse limits below fs.aio-nr plus this, unless the rollout forces it"),
	KEY("sysctl-file", AIO_CONF_STRING, sysctl_file, "/etc/sysctl.d/zz-aioctl.conf", 0, 0,
	    "PATH", "the one sysctl.d file the agent writes (named to sort last)"),
	KEY("enroll-token", AIO_CONF_STRING, enroll_token, NULL, 0, 0, "TOKEN",
	    "one-time token from 'aioctl enroll create', used once for a host secret"),
	KEY("enroll-token-file", AIO_CONF_STRING, enroll_token_file, NULL, 0, 0, "FILE",
	    "read the enrollment token from FILE"),
	KEY("watch-max", AIO_CONF_DURATION, watch_max_ms, "30s", 1000, 600 * 1000, "DUR",
	    "how long the server may hold a Watch before answering"),
	KEY("guard", AIO_CONF_STRING, guard, "raise", 0, 0, "POLICY",
	    "libvirt's qemu hook (aio-agent guard) when a domain's AIO demand does not fit: raise "
	    "(within limit-max), refuse, warn or off"),
	KEY("guard-reservation", AIO_CONF_DURATION, guard_reservation_ms, "2m", 1000, AIO_HOUR_MS,
	    "DUR", "how long a start the guard let through keeps its room reserved"),
	KEY("tls-ca", AIO_CONF_STRING, tls_ca, NULL, 0, 0, "FILE", "CA that signed the server"),
	KEY("tls-cert", AIO_CONF_STRING, tls_cert, NULL, 0, 0, "FILE", "this agent's certificate"),
	KEY("tls-key", AIO_CONF_STRING, tls_key, NULL, 0, 0, "FILE", "this agent's key"),
	KEY("tls-server-name", AIO_CONF_STRING, tls_server_name, NULL, 0, 0, "NAME",
	    "name in the server's certificate"),
};

/* the keys SIGHUP changes while running; the rest need a restart (the
 * guard reads the file at every call) */
static const char *const live_keys[] = { "log-level", NULL };

const struct aio_conf_spec agent_config_spec = {
	.prog = "aio-agent",
	.summary = "Samples this hypervisor's AIO counters and reports them to aio-server.",
	.keys = keys,
	.n_keys = sizeof(keys) / sizeof(keys[0]),
	.default_file = "/etc/aioctl/agent.conf",
	.live = live_keys,
};
