/* The JSON views of the admin replies: what `aioctl --output json` prints
 * and what aio-server's HTTP API answers, one builder for both. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "jsonw.h"
#include "output.h"

double cli_utilization(const Aioctl__V1__Sample *s);
/* The contexts of the largest VM this host runs or the guard saw asking
 * to start, whichever is more; 0 when neither is known. */
uint32_t cli_largest_demand(const Aioctl__V1__HostStatus *h);
void cli_labels_text(Aioctl__V1__Label *const *labels, size_t n, char *buf, size_t len);
/* The JSON object for one host, as fleet status and host show print it:
 * written straight (fleet status at 10,000 hosts), or as a tree for host
 * show to add to. */
void cli_host_write(struct cli_jw *w, const Aioctl__V1__HostStatus *h);
json_t *cli_host_json(const Aioctl__V1__HostStatus *h);
json_t *cli_event_json(const char *host, const Aioctl__V1__AioEvent *e);
/* Every source of an event's incident, the first first. */
json_t *cli_event_sources_json(const Aioctl__V1__AioEvent *e);
void cli_event_sources_text(const Aioctl__V1__AioEvent *e, char *buf, size_t len);
json_t *cli_user_json(const Aioctl__V1__AioUser *u);
/* fs.aio-max-nr's value when no sysctl file sets it. */
uint64_t cli_reboot_value(const Aioctl__V1__Persisted *p);
/* The value after a reboot would not be the live one. */
bool cli_persisted_differs(const Aioctl__V1__HostStatus *h);
/* host show: the host, its users and recent errors. */
json_t *cli_host_show_json(const Aioctl__V1__HostShowReply *rep);
/* One rollout with its steps, as rollout show prints it. */
json_t *cli_rollout_json(const Aioctl__V1__Rollout *r);
