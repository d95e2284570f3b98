/* The fleet status answer: every host's HostStatus, built from the
 * registry. The FleetStatus and HostShow handlers and live queries all
 * answer through here. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "hosts.h"

/* Fills st from h: fields point into h, so st is packed before the
 * registry's lock is released; server_status_done frees its arrays. */
int server_status_fill(Aioctl__V1__HostStatus *st, const struct server_host *h, uint64_t now_ms);
void server_status_done(Aioctl__V1__HostStatus *st);
/* Answers closure with every host, naming the hosts in silent (ids) as
 * not answered. */
void server_status_answer(struct server_hosts *reg, Aioctl__V1__FleetStatusReply_Closure closure,
                          void *data, const int64_t *silent, size_t n_silent);
