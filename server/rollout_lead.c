/* The rollout engine among several servers on one database: the leader
 * runs the rollouts, the others follow (cluster.c says which). */
#include <pthread.h>

#include "log.h"
#include "rollout.h"
#include "rollout_store.h"

void server_rollout_lead_follow(struct server_engine *e)
{
	struct server_rollout *old;
	struct server_save *sv;

	/* a follower holds no rollout (its engine ticks over an empty list,
	 * and acks find no step), so none of its changes is written over the
	 * leader's */
	pthread_mutex_lock(&e->lock);
	if (!e->follower)
		log_info("rollouts: another server leads; this one runs none");
	e->follower = true;
	old = e->rollouts;
	e->rollouts = NULL;
	sv = e->pending;
	e->pending = NULL;
	pthread_mutex_unlock(&e->lock);
	server_save_submit(sv, NULL, NULL, true);
	server_rollouts_free_list(old);
}

int server_rollout_lead_take(struct server_engine *e, struct server_sql *conn)
{
	struct server_rollout *list = NULL, *old;
	uint64_t next_ro = 1, next_step = 1;
	int r;

	/* the last leader's state, as it stored it: steps keep their ids, and
	 * agents apply each once however often it comes */
	if ((r = server_rollout_store_load_on(conn, e->hosts, &list, &next_ro, &next_step)) < 0) {
		server_rollouts_free_list(list);
		return r;
	}
	pthread_mutex_lock(&e->lock);
	old = e->rollouts;
	e->rollouts = list;
	e->next_rollout_id = next_ro;
	e->next_step_id = next_step;
	e->follower = false;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	server_rollouts_free_list(old);
	return 0;
}

bool server_rollout_lead_held(struct server_engine *e)
{
	bool leads;

	pthread_mutex_lock(&e->lock);
	leads = !e->follower;
	pthread_mutex_unlock(&e->lock);
	return leads;
}
