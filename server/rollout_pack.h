/* A rollout as the Admin service answers it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "rollouts.h"

/* Fills m from ro: strings point into ro, arrays are malloc'd and freed by
 * server_rollout_pack_done. full adds the steps and the skipped and
 * refused hosts. */
void server_rollout_pack(Aioctl__V1__Rollout *m, const struct server_rollout *ro, bool full);
void server_rollout_pack_done(Aioctl__V1__Rollout *m);
/* Answers closure with ro (as planned, for a dry run). */
void server_rollout_pack_answer(const struct server_rollout *ro, bool dry_run,
                                Aioctl__V1__Rollout_Closure closure, void *data);
/* Answers closure with the newest rollouts of list (at most limit; 0 or
 * past SERVER_ROLLOUTS_KEPT: that many), without their steps. */
void server_rollout_pack_list(const struct server_rollout *list, uint32_t limit,
                              Aioctl__V1__RolloutListReply_Closure closure, void *data);
