#include "hosts.h"

#include "bounds.h"
#include "names.h"
#include "rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_INITIAL  1024
#define OFFLINE_MIN_MS 1000

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

int server_hosts_init(struct server_hosts *reg)
{
	memset(reg, 0, sizeof(*reg));
	reg->next_id = 1;
	reg->index_cap = INDEX_INITIAL;
	reg->index = calloc(reg->index_cap, sizeof(*reg->index));
	if (!reg->index)
		return -ENOMEM;
	pthread_rwlock_init(&reg->lock, NULL);
	return 0;
}

static void free_labels(struct server_host *h)
{
	for (size_t i = 0; i < h->n_labels; i++) {
		free(h->labels[i].key);
		free(h->labels[i].value);
	}
	free(h->labels);
	h->labels = NULL;
	h->n_labels = 0;
}

static void host_free(struct server_host *h)
{
	if (!h)
		return;
	free_labels(h);
	for (size_t i = 0; i < h->n_recent; i++)
		protobuf_c_message_free_unpacked(&h->recent[i]->base, NULL);
	if (h->detail)
		aioctl__v1__host_detail__free_unpacked(h->detail, NULL);
	free(h->event_times);
	free(h->guard_times);
	free(h->name);
	free(h->kernel);
	free(h->agent_version);
	free(h->sysctl_file);
	free(h);
}

void server_hosts_done(struct server_hosts *reg)
{
	for (size_t i = 0; i < reg->n; i++)
		host_free(reg->all[i]);
	free(reg->all);
	free(reg->index);
	pthread_rwlock_destroy(&reg->lock);
	memset(reg, 0, sizeof(*reg));
}

struct server_host *server_hosts_find(struct server_hosts *reg, const char *name)
{
	size_t mask = reg->index_cap - 1;

	for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
		struct server_host *h = reg->index[i];

		if (!h)
			return NULL;
		if (strcmp(h->name, name) == 0)
			return h;
	}
}

const struct server_host *server_hosts_find_in(const struct server_host *const *all, size_t n,
                                               int64_t id)
{
	/* ids are given in order of creation, so all[] is sorted by id */
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (all[mid]->id == id)
			return all[mid];
		if (all[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct server_host *server_hosts_find_id(struct server_hosts *reg, int64_t id)
{
	return (struct server_host *)server_hosts_find_in(
	        (const struct server_host *const *)reg->all, reg->n, id);
}

static void index_put(struct server_host **index, size_t cap, struct server_host *h)
{
	size_t mask = cap - 1, i = hash_name(h->name) & mask;

	while (index[i])
		i = (i + 1) & mask;
	index[i] = h;
}

static int grow(struct server_hosts *reg)
{
	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 64;
		struct server_host **all = realloc(reg->all, cap * sizeof(*all));

		if (!all)
			return -ENOMEM;
		reg->all = all;
		reg->cap = cap;
	}
	/* keep the index at most half full */
	if ((reg->n + 1) * 2 > reg->index_cap) {
		size_t cap = reg->index_cap * 2;
		struct server_host **index = calloc(cap, sizeof(*index));

		if (!index)
			return -ENOMEM;
		for (size_t i = 0; i < reg->n; i++)
			index_put(index, cap, reg->all[i]);
		free(reg->index);
		reg->index = index;
		reg->index_cap = cap;
	}
	return 0;
}

struct server_host *server_hosts_add(struct server_hosts *reg, const char *name, int64_t id)
{
	struct server_host *h;

	if (grow(reg) < 0)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->name = strdup(name);
	if (!h->name) {
		free(h);
		return NULL;
	}
	if (!id && reg->blocks && reg->block_next >= reg->block_end &&
	    reg->spare_next < reg->spare_end) {
		reg->block_next = reg->spare_next; /* the spare takes over */
		reg->block_end = reg->spare_end;
		reg->spare_next = reg->spare_end = 0;
	}
	if (!id && reg->blocks && reg->block_next >= reg->block_end) {
		/* servers on one database take ids in blocks: none left until
		 * the cluster thread brings the next */
		free(h->name);
		free(h);
		errno = EAGAIN;
		return NULL;
	}
	if (!id && reg->blocks)
		id = reg->block_next++;
	h->id = id ? id : reg->next_id;
	if (h->id >= reg->next_id)
		reg->next_id = h->id + 1;
	aioctl__v1__sample__init(&h->sample);
	/* all[] stays sorted by id: another server's hosts come in late */
	{
		size_t i = reg->n;

		while (i > 0 && reg->all[i - 1]->id > h->id)
			i--;
		memmove(reg->all + i + 1, reg->all + i, (reg->n - i) * sizeof(*reg->all));
		reg->all[i] = h;
		reg->n++;
	}
	index_put(reg->index, reg->index_cap, h);
	return h;
}

int server_hosts_remove(struct server_hosts *reg, int64_t id)
{
	struct server_host *h;
	size_t i;

	pthread_rwlock_wrlock(&reg->lock);
	if (!(h = server_hosts_find_id(reg, id))) {
		pthread_rwlock_unlock(&reg->lock);
		return -ENOENT;
	}
	for (i = 0; reg->all[i] != h; i++)
		;
	memmove(reg->all + i, reg->all + i + 1, (reg->n - i - 1) * sizeof(*reg->all));
	reg->n--;
	/* open addressing: the index is made again without it */
	memset(reg->index, 0, reg->index_cap * sizeof(*reg->index));
	for (i = 0; i < reg->n; i++)
		index_put(reg->index, reg->index_cap, reg->all[i]);
	pthread_rwlock_unlock(&reg->lock);
	host_free(h);
	return 0;
}

void server_hosts_id_block(struct server_hosts *reg, int64_t from, int64_t n)
{
	pthread_rwlock_wrlock(&reg->lock);
	reg->blocks = true;
	if (reg->block_next >= reg->block_end) {
		reg->block_next = from;
		reg->block_end = from + n;
	} else {
		reg->spare_next = from;
		reg->spare_end = from + n;
	}
	pthread_rwlock_unlock(&reg->lock);
}

int64_t server_hosts_ids_left(struct server_hosts *reg)
{
	int64_t n;

	pthread_rwlock_rdlock(&reg->lock);
	n = reg->block_end - reg->block_next + reg->spare_end - reg->spare_next;
	pthread_rwlock_unlock(&reg->lock);
	return n;
}

void server_hosts_ids_from(struct server_hosts *reg, int64_t next_id)
{
	if (next_id > reg->next_id)
		reg->next_id = next_id;
}

int server_hosts_set_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value && *field && !strcmp(value, *field))
		return 0; /* as it was: no copy (the cluster's refresh, each second) */
	if (value && !(copy = strdup(value)))
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

int server_hosts_set_labels(struct server_host *h, Aioctl__V1__Label *const *labels, size_t n)
{
	struct server_label *copy = calloc(n ? n : 1, sizeof(*copy));

	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		copy[i].key = strdup(labels[i]->key);
		copy[i].value = strdup(labels[i]->value);
		if (!copy[i].key || !copy[i].value) {
			for (size_t j = 0; j <= i; j++) {
				free(copy[j].key);
				free(copy[j].value);
			}
			free(copy);
			return -ENOMEM;
		}
	}
	free_labels(h);
	h->labels = copy;
	h->n_labels = n;
	return 0;
}

int server_hosts_add_label(struct server_host *h, const char *key, const char *value)
{
	struct server_label *labels = realloc(h->labels, (h->n_labels + 1) * sizeof(*labels));

	if (!labels)
		return -ENOMEM;
	h->labels = labels;
	labels[h->n_labels].key = strdup(key);
	labels[h->n_labels].value = strdup(value);
	if (!labels[h->n_labels].key || !labels[h->n_labels].value) {
		free(labels[h->n_labels].key);
		free(labels[h->n_labels].value);
		return -ENOMEM;
	}
	h->n_labels++;
	return 0;
}

void server_host_add_event(struct server_host *h, const Aioctl__V1__AioEvent *ev)
{
	Aioctl__V1__AioEvent *copy = (Aioctl__V1__AioEvent *)aio_rpc_dup(&ev->base);
	size_t slot;

	if (copy) {
		slot = (h->recent_head + h->n_recent) % SERVER_RECENT_EVENTS;
		if (h->n_recent == SERVER_RECENT_EVENTS) {
			protobuf_c_message_free_unpacked(&h->recent[h->recent_head]->base, NULL);
			h->recent_head = (h->recent_head + 1) % SERVER_RECENT_EVENTS;
		} else {
			h->n_recent++;
		}
		h->recent[slot] = copy;
	}
	if (ev->kind == AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED &&
	    ev->time_ms > h->guard_raised_ms)
		h->guard_raised_ms = ev->time_ms;
	if ((unsigned)ev->kind < sizeof(h->events_by_kind) / sizeof(h->events_by_kind[0]))
		h->events_by_kind[ev->kind]++;
	if (ev->has_contexts && ev->contexts > h->largest_demand_contexts)
		h->largest_demand_contexts = ev->contexts;
	if (ev->kind >= AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED &&
	    ev->kind <= AIOCTL__V1__EVENT_KIND__EVENT_GUARD_WARNED &&
	    (h->guard_times ||
	     (h->guard_times = calloc(SERVER_GUARD_TIMES, sizeof(*h->guard_times))))) {
		slot = (h->guard_times_head + h->n_guard_times) % SERVER_GUARD_TIMES;
		if (h->n_guard_times == SERVER_GUARD_TIMES)
			h->guard_times_head = (h->guard_times_head + 1) % SERVER_GUARD_TIMES;
		else
			h->n_guard_times++;
		h->guard_times[slot].time_ms = ev->time_ms;
		h->guard_times[slot].kind = ev->kind - AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED;
	}
	if (!aio_event_is_error(ev->kind))
		return; /* listed, not counted as an error */
	if (!h->event_times && !(h->event_times = calloc(SERVER_EVENT_TIMES, sizeof(uint64_t))))
		return;
	slot = (h->event_times_head + h->n_event_times) % SERVER_EVENT_TIMES;
	if (h->n_event_times == SERVER_EVENT_TIMES)
		h->event_times_head = (h->event_times_head + 1) % SERVER_EVENT_TIMES;
	else
		h->n_event_times++;
	h->event_times[slot] = ev->time_ms;
	if (ev->time_ms > h->last_event_ms)
		h->last_event_ms = ev->time_ms;
}

int server_event_sources_parse(Aioctl__V1__AioEvent *ev, const char *text)
{
	size_t n = 0;

	ev->sources = NULL;
	ev->n_sources = 0;
	if (!text || !*text)
		return 0;
	if (!(ev->sources = calloc(AIO_EVENT_SOURCES_MAX, sizeof(*ev->sources))))
		return -ENOMEM;
	for (const char *p = text; *p && n < AIO_EVENT_SOURCES_MAX;) {
		size_t l = strcspn(p, "\n");

		if (l && !(ev->sources[n++] = strndup(p, l)))
			break;
		p += l + (p[l] == '\n');
	}
	ev->n_sources = n;
	return 0;
}

void server_event_sources_free(Aioctl__V1__AioEvent *ev)
{
	for (size_t i = 0; i < ev->n_sources; i++)
		free(ev->sources[i]);
	free(ev->sources);
	ev->sources = NULL;
	ev->n_sources = 0;
}

static bool has_source(const Aioctl__V1__AioEvent *e, const char *source)
{
	if (strcmp(e->source, source) == 0)
		return true;
	for (size_t i = 0; i < e->n_sources; i++)
		if (strcmp(e->sources[i], source) == 0)
			return true;
	return false;
}

static void set_if_empty(char **field, const char *value)
{
	char *copy;

	if (*field && **field)
		return;
	if (!value || !(copy = strdup(value)))
		return;
	free(*field);
	*field = copy;
}

void server_host_merge_event(struct server_host *h, const Aioctl__V1__AioEvent *ev)
{
	for (size_t i = 0; ev->incident && i < h->n_recent; i++) {
		Aioctl__V1__AioEvent *e = h->recent[(h->recent_head + i) % SERVER_RECENT_EVENTS];
		char **sources, *copy;

		if (!e->incident || strcmp(e->incident, ev->incident) != 0)
			continue;
		set_if_empty(&e->vm, ev->vm);
		set_if_empty(&e->disk, ev->disk);
		if (has_source(e, ev->source) || e->n_sources + 1 >= AIO_EVENT_SOURCES_MAX)
			return;
		if (!(copy = strdup(ev->source)))
			return;
		if (!(sources = realloc(e->sources, (e->n_sources + 1) * sizeof(*sources)))) {
			free(copy);
			return;
		}
		e->sources = sources;
		e->sources[e->n_sources++] = copy;
		return;
	}
}

uint32_t server_host_errors_since(const struct server_host *h, uint64_t since_ms)
{
	uint32_t n = 0;

	for (size_t i = 0; i < h->n_event_times; i++)
		n += h->event_times[(h->event_times_head + i) % SERVER_EVENT_TIMES] >= since_ms;
	return n;
}

void server_host_guard_since(const struct server_host *h, uint64_t since_ms, uint32_t n[3])
{
	n[0] = n[1] = n[2] = 0;
	for (size_t i = 0; i < h->n_guard_times; i++) {
		const struct server_guard_time *g =
		        &h->guard_times[(h->guard_times_head + i) % SERVER_GUARD_TIMES];

		if (g->time_ms >= since_ms)
			n[g->kind]++;
	}
}

uint32_t server_host_errors_24h(const struct server_host *h, uint64_t now_ms)
{
	return server_host_errors_since(h, now_ms > AIO_DAY_MS ? now_ms - AIO_DAY_MS : 0);
}

void server_host_set_detail(struct server_host *h, Aioctl__V1__HostDetail *detail)
{
	if (h->detail)
		aioctl__v1__host_detail__free_unpacked(h->detail, NULL);
	h->detail = detail;
	/* worked out once per scan, not on every fleet status */
	h->largest_vm_contexts = 0;
	for (size_t i = 0; detail && i < detail->n_users; i++)
		if (detail->users[i]->is_vm && detail->users[i]->contexts > h->largest_vm_contexts)
			h->largest_vm_contexts = detail->users[i]->contexts;
}

int server_host_merge_detail(struct server_host *h, const Aioctl__V1__ReportRequest *r,
                             uint64_t now_ms)
{
	Aioctl__V1__HostDetail d = AIOCTL__V1__HOST_DETAIL__INIT, *old = h->detail, *copy;
	bool users = r->has_unexplained || r->n_users;

	if (!users && !r->persisted && !r->has_counting)
		return 0;
	if (old)
		d = *old; /* shallow: the copy below takes what it needs */
	if (users) {
		d.users = r->users;
		d.n_users = r->n_users;
		d.has_unexplained = r->has_unexplained;
		d.unexplained = r->unexplained;
		d.has_contexts = r->has_contexts;
		d.contexts = r->contexts;
		d.has_users_time_ms = true;
		d.users_time_ms = now_ms;
	}
	/* a scan from before the last change would undo what the ack said */
	if (r->persisted &&
	    !(r->persisted->has_scanned_ms && r->persisted->scanned_ms < h->applied_ms))
		d.persisted = r->persisted;
	if (r->has_counting) {
		d.has_counting = true;
		d.counting = r->counting;
	}
	copy = (Aioctl__V1__HostDetail *)aio_rpc_dup(&d.base);
	if (!copy)
		return -ENOMEM;
	server_host_set_detail(h, copy);
	return 0;
}

int server_host_note_applied(struct server_host *h, const Aioctl__V1__AckRequest *ack)
{
	Aioctl__V1__HostDetail d = AIOCTL__V1__HOST_DETAIL__INIT, *copy;

	if (ack->sample) {
		h->sample = *ack->sample;
		h->sample.base.n_unknown_fields = 0;
		h->sample.base.unknown_fields = NULL;
		h->has_sample = true;
		h->applied_ms = ack->sample->time_ms;
	} else if (h->has_sample && ack->has_runtime_after) {
		h->sample.aio_max_nr = ack->runtime_after;
	}
	if (!ack->persisted_after)
		return 0;
	if (h->detail)
		d = *h->detail;
	d.persisted = ack->persisted_after;
	if (!(copy = (Aioctl__V1__HostDetail *)aio_rpc_dup(&d.base)))
		return -ENOMEM;
	server_host_set_detail(h, copy);
	return 0;
}

bool server_host_persisted(const struct server_host *h, uint64_t *ret_value)
{
	if (!h->detail || !h->detail->persisted)
		return false;
	*ret_value = h->detail->persisted->has_value ? h->detail->persisted->value
	                                             : AIO_KERNEL_DEFAULT_MAX;
	return true;
}

bool server_host_online(const struct server_host *h, uint64_t now_ms)
{
	uint64_t limit = 3ULL * (h->interval_ms ? h->interval_ms : 10000);

	if (limit < OFFLINE_MIN_MS)
		limit = OFFLINE_MIN_MS;
	return h->last_seen_ms && now_ms <= h->last_seen_ms + limit;
}

bool server_host_selected(const struct server_host *h, const Aioctl__V1__Selector *sel)
{
	if (!sel)
		return true;
	if (sel->hosts_glob && !aio_glob_list_match(sel->hosts_glob, h->name))
		return false;
	for (size_t i = 0; i < sel->n_labels; i++) {
		bool found = false;

		for (size_t j = 0; j < h->n_labels; j++)
			found |= strcmp(h->labels[j].key, sel->labels[i]->key) == 0 &&
			         strcmp(h->labels[j].value, sel->labels[i]->value) == 0;
		if (!found)
			return false;
	}
	return true;
}

const char *server_selector_invalid(const Aioctl__V1__Selector *sel)
{
	if (!sel)
		return NULL;
	if (sel->n_labels > AIO_LABELS_MAX)
		return "too many --select labels";
	if (sel->hosts_glob && !aio_text_valid(sel->hosts_glob, AIO_HOSTS_GLOB_MAX))
		return "--hosts: a glob of up to 253 characters";
	return NULL;
}

int server_hosts_read_id(struct server_hosts *reg, int64_t id, server_host_read_fn fn, void *arg)
{
	const struct server_host *h;
	int r;

	pthread_rwlock_rdlock(&reg->lock);
	h = server_hosts_find_id(reg, id);
	r = h ? fn(h, arg) : -ENOENT;
	pthread_rwlock_unlock(&reg->lock);
	return r;
}

int server_hosts_read_name(struct server_hosts *reg, const char *name, server_host_read_fn fn,
                           void *arg)
{
	const struct server_host *h;
	int r;

	pthread_rwlock_rdlock(&reg->lock);
	h = server_hosts_find(reg, name);
	r = h ? fn(h, arg) : -ENOENT;
	pthread_rwlock_unlock(&reg->lock);
	return r;
}

int server_hosts_update_peer(struct server_hosts *reg, int64_t id, const char *name,
                             server_host_update_fn fn, void *arg)
{
	struct server_host *h;
	int r;

	pthread_rwlock_wrlock(&reg->lock);
	if (!(h = server_hosts_find_id(reg, id))) {
		/* a name this server gave another id: that host is the database's
		 * to settle, not a second one here */
		h = server_hosts_find(reg, name) ? NULL : server_hosts_add(reg, name, id);
	}
	r = h ? fn(h, arg) : -EEXIST;
	pthread_rwlock_unlock(&reg->lock);
	return r;
}

int server_hosts_update_id(struct server_hosts *reg, int64_t id, server_host_update_fn fn,
                           void *arg)
{
	struct server_host *h;
	int r;

	pthread_rwlock_wrlock(&reg->lock);
	h = server_hosts_find_id(reg, id);
	r = h ? fn(h, arg) : -ENOENT;
	pthread_rwlock_unlock(&reg->lock);
	return r;
}

int server_hosts_update_name(struct server_hosts *reg, const char *name, bool create,
                             server_host_update_fn fn, void *arg)
{
	struct server_host *h;
	int r;

	pthread_rwlock_wrlock(&reg->lock);
	h = server_hosts_find(reg, name);
	if (!h && create && !(h = server_hosts_add(reg, name, 0)))
		r = errno == EAGAIN ? -EAGAIN : -ENOMEM;
	else
		r = h ? fn(h, arg) : -ENOENT;
	pthread_rwlock_unlock(&reg->lock);
	return r;
}

int server_hosts_read_all(struct server_hosts *reg, server_hosts_read_fn fn, void *arg)
{
	int r;

	pthread_rwlock_rdlock(&reg->lock);
	r = fn((const struct server_host *const *)reg->all, reg->n, arg);
	pthread_rwlock_unlock(&reg->lock);
	return r;
}

int64_t server_hosts_id(struct server_hosts *reg, const char *name)
{
	const struct server_host *h;
	int64_t id;

	pthread_rwlock_rdlock(&reg->lock);
	h = server_hosts_find(reg, name);
	id = h ? h->id : 0;
	pthread_rwlock_unlock(&reg->lock);
	return id;
}

size_t server_hosts_count(struct server_hosts *reg)
{
	size_t n;

	pthread_rwlock_rdlock(&reg->lock);
	n = reg->n;
	pthread_rwlock_unlock(&reg->lock);
	return n;
}

size_t server_hosts_ids(struct server_hosts *reg, int64_t **ret_ids)
{
	int64_t *ids;
	size_t n;

	pthread_rwlock_rdlock(&reg->lock);
	n = reg->n;
	if ((ids = malloc((n + 1) * sizeof(*ids))))
		for (size_t i = 0; i < n; i++)
			ids[i] = reg->all[i]->id;
	pthread_rwlock_unlock(&reg->lock);
	*ret_ids = ids;
	return ids ? n : 0;
}

/* Scalars only: a peer's unknown fields stay with its message. */
void server_host_set_sample(struct server_host *h, const Aioctl__V1__Sample *sample,
                            uint64_t now_ms)
{
	h->last_seen_ms = now_ms;
	if (h->has_sample && sample->time_ms < h->applied_ms)
		return;
	h->sample = *sample;
	h->sample.base.n_unknown_fields = 0;
	h->sample.base.unknown_fields = NULL;
	h->has_sample = true;
}

void server_hosts_set_sample(struct server_hosts *reg, int64_t id, const Aioctl__V1__Sample *sample,
                             uint64_t now_ms)
{
	struct server_host *h;

	pthread_rwlock_wrlock(&reg->lock);
	if ((h = server_hosts_find_id(reg, id)))
		server_host_set_sample(h, sample, now_ms);
	pthread_rwlock_unlock(&reg->lock);
}

void server_hosts_check(struct server_hosts *reg, int64_t id, uint64_t now_ms, uint64_t target,
                        uint64_t judged_after_ms, uint64_t events_since_ms,
                        struct server_host_check *ret)
{
	const struct server_host *h;

	memset(ret, 0, sizeof(*ret));
	pthread_rwlock_rdlock(&reg->lock);
	if ((h = server_hosts_find_id(reg, id))) {
		ret->online = server_host_online(h, now_ms);
		ret->changed = h->has_sample && h->sample.time_ms > judged_after_ms &&
		               h->sample.aio_max_nr != target;
		ret->new_error = h->last_event_ms >= events_since_ms;
	}
	pthread_rwlock_unlock(&reg->lock);
}

void server_hosts_set_desired(struct server_hosts *reg, int64_t id, uint64_t value,
                              uint64_t rollout_id, uint64_t when_ms)
{
	struct server_host *h;

	pthread_rwlock_wrlock(&reg->lock);
	if ((h = server_hosts_find_id(reg, id))) {
		h->has_desired = true;
		h->desired = value;
		if (rollout_id)
			h->desired_rollout = rollout_id;
		h->desired_ms = when_ms;
	}
	pthread_rwlock_unlock(&reg->lock);
}

void server_hosts_note_applied(struct server_hosts *reg, int64_t id,
                               const Aioctl__V1__AckRequest *ack)
{
	struct server_host *h;

	pthread_rwlock_wrlock(&reg->lock);
	if ((h = server_hosts_find_id(reg, id)))
		server_host_note_applied(h, ack);
	pthread_rwlock_unlock(&reg->lock);
}
