#include "spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int agent_spool_init(struct agent_spool *sp, size_t cap)
{
	memset(sp, 0, sizeof(*sp));
	sp->ring = calloc(cap, sizeof(*sp->ring));
	if (!sp->ring)
		return -ENOMEM;
	sp->cap = cap;
	return 0;
}

void agent_spool_done(struct agent_spool *sp)
{
	free(sp->ring);
	memset(sp, 0, sizeof(*sp));
}

void agent_spool_push(struct agent_spool *sp, const struct agent_report *r)
{
	if (sp->len == sp->cap) {
		agent_spool_pop(sp);
		sp->dropped++;
	}
	sp->ring[(sp->head + sp->len) % sp->cap] = *r;
	sp->len++;
}

struct agent_report *agent_spool_peek(struct agent_spool *sp)
{
	return sp->len ? &sp->ring[sp->head] : NULL;
}

void agent_spool_pop(struct agent_spool *sp)
{
	if (!sp->len)
		return;
	sp->head = (sp->head + 1) % sp->cap;
	sp->len--;
}
