/* aio-agent's configuration: one table, read from the file and flags. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

struct agent_config {
	char *config;
	char *server;
	char *host_id;
	struct aio_strv labels;
	char *sysroot;
	uint64_t interval_ms;
	uint64_t sample_interval_ms;
	char *state_dir;
	int log_level;
	uint64_t max_message_size;
	uint64_t call_timeout_ms;
	uint64_t spool_max;
	uint64_t attribution_interval_ms;
	uint64_t journal_backlog_ms;
	uint64_t limit_min;
	uint64_t limit_max;
	uint64_t limit_margin;
	char *sysctl_file;
	char *enroll_token;
	char *enroll_token_file;
	uint64_t watch_max_ms;
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	char *tls_server_name;
	char *guard;                   /* raise, refuse, warn, off (guard.h) */
	uint64_t guard_reservation_ms; /* how long a start's room stays reserved */
};

extern const struct aio_conf_spec agent_config_spec;
