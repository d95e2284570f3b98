#include "rollout_pack.h"

#include <stdlib.h>
#include <string.h>

static void fill(Aioctl__V1__Rollout *m, const struct server_rollout *ro, bool steps)
{
	aioctl__v1__rollout__init(m);
	m->id = ro->id;
	m->state = (char *)server_rollouts_state_name(ro->state);
	m->has_state_code = true;
	m->state_code = server_rollouts_state_code(ro->state);
	m->has_target = true;
	m->target = ro->opts->target;
	m->created_by = (char *)ro->created_by;
	m->has_created_ms = true;
	m->created_ms = ro->created_ms;
	m->has_finished_ms = ro->finished_ms != 0;
	m->finished_ms = ro->finished_ms;
	m->message = (char *)ro->message;
	m->options = ro->opts;
	m->has_waves = true;
	m->waves = ro->n_waves;
	m->has_wave = true;
	m->wave = ro->wave;
	m->has_offline_deadline_ms = true;
	m->offline_deadline_ms = ro->offline_deadline_ms;
	if (steps && ro->n_steps) {
		Aioctl__V1__RolloutStep *v = calloc(ro->n_steps, sizeof(*v));
		Aioctl__V1__RolloutStep **pv = calloc(ro->n_steps, sizeof(*pv));

		if (v && pv) {
			for (size_t i = 0; i < ro->n_steps; i++) {
				const struct server_step *p = &ro->steps[i];
				Aioctl__V1__RolloutStep *q = &v[i];

				aioctl__v1__rollout_step__init(q);
				q->host = (char *)p->host;
				q->state = (char *)(p->state == STEP_PENDING && p->offline_since_ms
				                            ? "offline"
				                            : server_rollouts_step_state_name(
				                                      p->state));
				q->has_state_code = true;
				q->state_code = server_rollouts_step_code(p->state,
				                                          p->offline_since_ms != 0);
				q->has_wave = true;
				q->wave = p->wave;
				q->has_target = true;
				q->target = p->target;
				q->has_step_id = true;
				q->step_id = p->id;
				q->has_runtime_before = p->has_runtime_before;
				q->runtime_before = p->runtime_before;
				q->has_runtime_after = p->has_runtime_after;
				q->runtime_after = p->runtime_after;
				q->has_persisted_before = p->has_persisted_before;
				q->persisted_before = p->persisted_before;
				q->has_persisted_after = p->has_persisted_after;
				q->persisted_after = p->persisted_after;
				q->message = (char *)p->message;
				q->has_started_ms = p->started_ms != 0;
				q->started_ms = p->started_ms;
				q->has_finished_ms = p->finished_ms != 0;
				q->finished_ms = p->finished_ms;
				q->rollback = (char *)server_rollouts_rb_state_name(p->rb);
				q->has_rollback_code = true;
				q->rollback_code = server_rollouts_rb_code(p->rb);
				pv[i] = q;
			}
			m->steps = pv;
			m->n_steps = ro->n_steps;
		} else {
			free(v);
			free(pv);
		}
	}
}

static char **split(const char *list, const char *sep, size_t *ret_n)
{
	size_t n = 0, cap = 8;
	char **v, *copy, *save = NULL;

	*ret_n = 0;
	if (!list || !*list || !(copy = strdup(list)))
		return NULL;
	v = calloc(cap + 1, sizeof(*v));
	for (char *t = strtok_r(copy, sep, &save); v && t; t = strtok_r(NULL, sep, &save)) {
		if (n == cap) {
			char **nv = realloc(v, (cap * 2 + 1) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap *= 2;
		}
		v[n++] = strdup(t);
	}
	free(copy);
	*ret_n = n;
	return v;
}

static void lists(Aioctl__V1__Rollout *m, const struct server_rollout *ro)
{
	m->skipped = split(ro->skipped, ",", &m->n_skipped);
	m->refused = split(ro->refused, ";", &m->n_refused);
}

void server_rollout_pack_done(Aioctl__V1__Rollout *m)
{
	if (m->n_steps)
		free(m->steps[0]);
	free(m->steps);
	for (size_t i = 0; i < m->n_skipped; i++)
		free(m->skipped[i]);
	for (size_t i = 0; i < m->n_refused; i++)
		free(m->refused[i]);
	free(m->skipped);
	free(m->refused);
}

void server_rollout_pack(Aioctl__V1__Rollout *m, const struct server_rollout *ro, bool full)
{
	fill(m, ro, full);
	if (full)
		lists(m, ro);
}

void server_rollout_pack_answer(const struct server_rollout *ro, bool dry_run,
                                Aioctl__V1__Rollout_Closure closure, void *data)
{
	Aioctl__V1__Rollout m;

	server_rollout_pack(&m, ro, true);
	if (dry_run) {
		m.state = "planned";
		m.state_code = AIOCTL__V1__ROLLOUT_STATE__ROLLOUT_PLANNED;
		m.has_dry_run = true;
		m.dry_run = true;
		for (size_t i = 0; i < m.n_steps; i++) {
			m.steps[i]->state = "planned";
			m.steps[i]->state_code = AIOCTL__V1__STEP_STATE__STEP_PLANNED;
		}
	}
	closure(&m, data);
	server_rollout_pack_done(&m);
}

void server_rollout_pack_list(const struct server_rollout *list, uint32_t limit,
                              Aioctl__V1__RolloutListReply_Closure closure, void *data)
{
	Aioctl__V1__RolloutListReply rep = AIOCTL__V1__ROLLOUT_LIST_REPLY__INIT;
	Aioctl__V1__Rollout *v, **pv;
	size_t n = 0;

	if (!limit || limit > SERVER_ROLLOUTS_KEPT)
		limit = SERVER_ROLLOUTS_KEPT;
	v = calloc(limit, sizeof(*v));
	pv = calloc(limit, sizeof(*pv));
	for (const struct server_rollout *ro = list; v && pv && ro && n < limit; ro = ro->next) {
		server_rollout_pack(&v[n], ro, false);
		pv[n] = &v[n];
		n++;
	}
	rep.rollouts = pv;
	rep.n_rollouts = n;
	closure(&rep, data);
	free(v);
	free(pv);
}
