/* Capacity review: per host peak, p95, growth per day, projected date of
 * exhaustion, recommended limit and a verdict, from stored history. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "history.h"

struct server_config;
struct server_hosts;
struct server_query;

/* What the reports read: the configuration, the hosts, the query thread. */
struct server_trend_ctx {
	const struct server_config *conf;
	struct server_hosts *hosts;
	struct server_query *query;
};

struct trend_policy {
	unsigned headroom_percent;     /* on top of the observed peak */
	uint64_t horizon_ms;           /* exhaustion further out is "not within horizon" */
	uint64_t bound_min, bound_max; /* the host's own policy; 0: none */
};

struct trend_result {
	uint64_t peak, p95;
	double peak_utilization;
	bool has_growth; /* two days or more of samples */
	double growth_per_day;
	bool has_exhaustion;
	uint64_t exhaustion_ms;
	uint64_t recommended;
	unsigned days;
	const char *verdict;
};

/* The model, pure: hours oldest first, limit the host's limit now. hours is
 * reordered (p95). The recommendation is the observed peak (or, growing,
 * the fitted value 90 days ahead) plus head room, rounded up to a power of
 * two, at least the kernel's default 65536, inside the host's bounds. */
void server_trend_compute(struct server_history_hour *hours, size_t n, uint64_t limit,
                          uint32_t errors, uint64_t now_ms, const struct trend_policy *p,
                          struct trend_result *ret);

/* Each host of a rollout in equal windows before and after its change. */
void server_trend_rollout_report(const struct server_trend_ctx *t,
                                 const Aioctl__V1__RolloutReportRequest *in,
                                 Aioctl__V1__RolloutReportReply_Closure closure, void *data);

void server_trend(const struct server_trend_ctx *t, const Aioctl__V1__TrendRequest *in,
                  Aioctl__V1__TrendReply_Closure closure, void *data);
