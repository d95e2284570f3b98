/* The server's in-memory view of every host: identity, labels and latest
 * values. Handlers read and update it without touching disk; the database
 * thread persists it. Readers hold the registry's read lock while they use
 * a host's fields. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aioctl.pb-c.h"
#include "clock.h"

#define SERVER_RECENT_EVENTS 32   /* kept per host for host show */
#define SERVER_EVENT_TIMES   1024 /* event times kept for errors_24h */
#define SERVER_GUARD_TIMES   64   /* the guard's newest decisions kept */

struct server_label {
	char *key;
	char *value;
};

struct server_host {
	int64_t id;
	char *name;
	struct server_label *labels;
	size_t n_labels;
	char *kernel;
	char *agent_version;
	uint32_t interval_ms;
	int counting;
	uint64_t first_seen_ms;
	uint64_t last_seen_ms;
	uint64_t last_seq; /* highest seq committed */
	bool has_sample;
	Aioctl__V1__Sample sample;
	uint64_t dropped;               /* reports the agent's spool dropped */
	Aioctl__V1__HostDetail *detail; /* latest scans (owned), or NULL */
	uint32_t largest_vm_contexts;   /* the most one VM holds in detail */
	/* newest events (owned copies), a ring */
	Aioctl__V1__AioEvent *recent[SERVER_RECENT_EVENTS];
	size_t n_recent, recent_head;
	/* times of the newest events, a ring, allocated at the first event */
	uint64_t *event_times;
	size_t n_event_times, event_times_head;
	uint64_t last_event_ms;           /* the newest event's time */
	uint64_t guard_raised_ms;         /* the newest guard-raised event's time */
	uint32_t largest_demand_contexts; /* the largest domain the guard saw */
	/* events by kind (EventKind 0..7) since the server started, with the
	 * last day's loaded at start: /metrics' counters */
	uint32_t events_by_kind[8];
	/* the guard's decisions: time, kind (raised, refused, warned: 0..2); a
	 * ring, allocated at the first */
	struct server_guard_time {
		uint64_t time_ms;
		int kind;
	} * guard_times;
	size_t n_guard_times, guard_times_head;
	/* from Hello: the agent's own policy and file, and the boot time */
	uint64_t limit_min, limit_max, limit_margin;
	char *sysctl_file;
	uint64_t boot_time_ms;
	/* what the last completed rollout step set here */
	bool has_desired;
	uint64_t desired, desired_rollout, desired_ms;
	uint64_t applied_ms;      /* agent clock: the last change a command made */
	uint64_t served_ms;       /* when this server last had a call from it (mono) */
	uint64_t peer_detail_len; /* the detail a peer server stored, last read */
	char secret_hash[65];     /* "" until enrolled */
	uint64_t revoked_ms;      /* 0 unless revoked */
};

struct server_hosts {
	pthread_rwlock_t lock;
	struct server_host **all; /* dense, in order of creation */
	size_t n, cap;
	int64_t next_id;
	/* several servers on one database: new hosts take ids from blocks
	 * the database hands out (server_hosts_id_block) */
	bool blocks;
	int64_t block_next, block_end, spare_next, spare_end;
	struct server_host **index; /* open addressing by name */
	size_t index_cap;
};

int server_hosts_init(struct server_hosts *reg);
void server_hosts_done(struct server_hosts *reg);
/* The registry's lock is taken in hosts.c only: callers say what to do
 * with a host, and fn runs under the read lock (read_*) or the write lock
 * (update_*). They return fn's result, or -ENOENT for an unknown host
 * (update_name with create adds it: -ENOMEM if it cannot, -EAGAIN while
 * no id is left of the blocks, server_hosts_id_block). */
typedef int (*server_host_read_fn)(const struct server_host *h, void *arg);
typedef int (*server_host_update_fn)(struct server_host *h, void *arg);
typedef int (*server_hosts_read_fn)(const struct server_host *const *all, size_t n, void *arg);
int server_hosts_read_id(struct server_hosts *reg, int64_t id, server_host_read_fn fn, void *arg);
int server_hosts_read_name(struct server_hosts *reg, const char *name, server_host_read_fn fn,
                           void *arg);
int server_hosts_update_id(struct server_hosts *reg, int64_t id, server_host_update_fn fn,
                           void *arg);
int server_hosts_update_name(struct server_hosts *reg, const char *name, bool create,
                             server_host_update_fn fn, void *arg);
/* update_id for a host another server stored: added here with its id
 * and name if it is new (-EEXIST if the name is another id's here). */
int server_hosts_update_peer(struct server_hosts *reg, int64_t id, const char *name,
                             server_host_update_fn fn, void *arg);
/* fn sees every host, in order of creation. */
int server_hosts_read_all(struct server_hosts *reg, server_hosts_read_fn fn, void *arg);
/* The id of the host with this name, 0 if unknown. */
int64_t server_hosts_id(struct server_hosts *reg, const char *name);
/* Forgets host id and frees it (a decommissioned host); -ENOENT. */
int server_hosts_remove(struct server_hosts *reg, int64_t id);
/* New hosts get ids from next_id on at least (ids of removed hosts stay
 * taken); before the server starts serving. */
void server_hosts_ids_from(struct server_hosts *reg, int64_t next_id);
/* From now on new hosts take ids from blocks: [from, from + n) is the next
 * (kept as a spare while one is in use); adding a host fails with EAGAIN
 * when none is left. */
void server_hosts_id_block(struct server_hosts *reg, int64_t from, int64_t n);
/* Ids left in the blocks (the spare takes over in server_hosts_add). */
int64_t server_hosts_ids_left(struct server_hosts *reg);
size_t server_hosts_count(struct server_hosts *reg);
/* Every host's id, in order of creation, into *ret_ids (malloc'd, the
 * caller frees; NULL when out of memory). */
size_t server_hosts_ids(struct server_hosts *reg, int64_t **ret_ids);
/* A host's latest reading, unless it was taken before the host's last
 * change (by the agent's clock); the host was seen at now_ms. */
void server_host_set_sample(struct server_host *h, const Aioctl__V1__Sample *sample,
                            uint64_t now_ms);
void server_hosts_set_sample(struct server_hosts *reg, int64_t id, const Aioctl__V1__Sample *sample,
                             uint64_t now_ms);

/* What the engine asks of a step's host: online at now_ms; its latest
 * report, taken after judged_after_ms, shows a limit other than target;
 * it had an AIO error at or after events_since_ms. */
struct server_host_check {
	bool online, changed, new_error;
};

void server_hosts_check(struct server_hosts *reg, int64_t id, uint64_t now_ms, uint64_t target,
                        uint64_t judged_after_ms, uint64_t events_since_ms,
                        struct server_host_check *ret);
/* The value a completed step set (rollout_id 0: the host's rollout stays,
 * as after a rollback). */
void server_hosts_set_desired(struct server_hosts *reg, int64_t id, uint64_t value,
                              uint64_t rollout_id, uint64_t when_ms);
/* server_host_note_applied for the host with this id. */
void server_hosts_note_applied(struct server_hosts *reg, int64_t id,
                               const Aioctl__V1__AckRequest *ack);

/* Lookup under a lock the caller holds (the functions above, or a registry
 * not yet shared); NULL if unknown. */
struct server_host *server_hosts_find(struct server_hosts *reg, const char *name);
/* The host with this id among all (sorted by id, as read_all gives them). */
const struct server_host *server_hosts_find_in(const struct server_host *const *all, size_t n,
                                               int64_t id);
/* Lookup by database id, under a lock the caller holds; NULL if unknown. */
struct server_host *server_hosts_find_id(struct server_hosts *reg, int64_t id);
/* Adds a host (write lock held by the caller). id 0 assigns the next id. */
struct server_host *server_hosts_add(struct server_hosts *reg, const char *name, int64_t id);
/* Replaces a host's labels with copies of the given ones (write lock held). */
int server_hosts_set_labels(struct server_host *h, Aioctl__V1__Label *const *labels, size_t n);
/* Appends one label (write lock held). */
int server_hosts_add_label(struct server_host *h, const char *key, const char *value);
int server_hosts_set_string(char **field, const char *value);
/* Keeps a copy of ev among h's recent events (write lock held). */
void server_host_add_event(struct server_host *h, const Aioctl__V1__AioEvent *ev);
/* Sets ev's sources from the stored form (one per line; NULL or "" for
 * none): malloc'd, freed with ev by protobuf_c_message_free_unpacked, or by
 * server_event_sources_free for an event on the stack. */
int server_event_sources_parse(Aioctl__V1__AioEvent *ev, const char *text);
void server_event_sources_free(Aioctl__V1__AioEvent *ev);
/* Merges ev into the recent event of its incident, if h still has it: the
 * VM and disk where it had none, ev's source among its sources (write lock
 * held). Counts nothing: one failure is one error. */
void server_host_merge_event(struct server_host *h, const Aioctl__V1__AioEvent *ev);
/* Events in the 24 hours before now (at most SERVER_EVENT_TIMES). */
uint32_t server_host_errors_24h(const struct server_host *h, uint64_t now_ms);
/* Events at or after since_ms (at most SERVER_EVENT_TIMES). */
uint32_t server_host_errors_since(const struct server_host *h, uint64_t since_ms);
/* The guard's decisions at or after since_ms, by kind: raised, refused,
 * warned (at most SERVER_GUARD_TIMES in all). */
void server_host_guard_since(const struct server_host *h, uint64_t since_ms, uint32_t n[3]);
/* Replaces h's detail (taking detail, which may be NULL) and what is
 * derived from it (write lock held, or h not yet shared). */
void server_host_set_detail(struct server_host *h, Aioctl__V1__HostDetail *detail);
/* Merges what a report says of users and persisted config into h's detail:
 * parts the report leaves out keep their last value. */
int server_host_merge_detail(struct server_host *h, const Aioctl__V1__ReportRequest *r,
                             uint64_t now_ms);
/* What an agent's acknowledgement says is now live and persisted; reports
 * read before it (by the agent's clock) no longer change those. */
int server_host_note_applied(struct server_host *h, const Aioctl__V1__AckRequest *ack);
/* The value h gets after a reboot, from its latest scan: false when it has
 * not been scanned. */
bool server_host_persisted(const struct server_host *h, uint64_t *ret_value);
/* Online when the last report is younger than three report intervals. */
bool server_host_online(const struct server_host *h, uint64_t now_ms);
/* Matches every label of sel and its name glob; a NULL sel matches all. */
bool server_host_selected(const struct server_host *h, const Aioctl__V1__Selector *sel);
/* Why a request's selector is refused, or NULL (also for none). */
const char *server_selector_invalid(const Aioctl__V1__Selector *sel);
