/* aio-server's configuration: one table, read from the file and flags. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

struct server_config {
	char *config;
	char *listen;
	char *admin_listen;
	char *state_dir;
	char *db;
	char *server_name;
	char *migrate_from;
	int log_level;
	uint64_t max_message_size;
	uint64_t rpc_pool;
	uint64_t max_connections, max_admin_connections;
	uint64_t idle_timeout_ms;
	uint64_t db_queue_max;
	uint64_t db_batch_max;
	uint64_t db_batch_wait_ms;
	uint64_t replay_max_ms;
	uint64_t trend_headroom;
	uint64_t trend_horizon_ms;
	uint64_t raw_keepalive_ms;
	uint64_t raw_retention_ms;
	uint64_t rollup_5m_retention_ms;
	uint64_t rollup_1h_retention_ms;
	uint64_t event_retention_ms;
	uint64_t audit_retention_ms;
	uint64_t vm_usage_retention_ms;
	uint64_t prune_interval_ms;
	uint64_t prune_batch;
	uint64_t alert_interval_ms;
	uint64_t alert_utilization;
	uint64_t alert_room;
	uint64_t alert_errors;
	uint64_t alert_guard;
	uint64_t alert_silent_ms;
	bool alert_drift;
	uint64_t alert_rollout_stalled_ms;
	struct aio_strv alertmanager_url;
	uint64_t alertmanager_resend_ms;
	struct aio_strv alert_webhook_url;
	char *alert_webhook_secret_file;
	char *http_listen;
	char *web_listen; /* NULL: http_listen's */
	char *tls_ca;
	char *admin_tls_ca; /* NULL: tls_ca */
	char *tls_cert;
	char *tls_key;
	bool insecure;
	bool initialize;
};

extern const struct aio_conf_spec server_config_spec;
