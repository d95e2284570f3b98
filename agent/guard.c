#include "guard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "apply.h"
#include "clock.h"
#include "fileio.h"
#include "names.h"
#include "path.h"

#define RESERVATIONS_MAX 256 /* starts under way counted at most */

int agent_guard_policy_parse(const char *s, enum agent_guard_policy *ret)
{
	static const char *const names[] = { "off", "warn", "refuse", "raise" };

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*ret = (enum agent_guard_policy)i;
			return 0;
		}
	return -EINVAL;
}

/* A start under way: the aio-nr at which its contexts are counted. */
struct reservation {
	char domain[AIO_VM_NAME_MAX + 1];
	uint64_t expect_nr, expires_ms;
};

static int reservation_path(const char *dir, const char *domain, char *buf, size_t len)
{
	char safe[AIO_VM_NAME_MAX + 1];
	size_t i;

	/* a file name from the domain's: letters, digits, '.', '-', '_' */
	for (i = 0; domain[i] && i < sizeof(safe) - 1; i++)
		safe[i] =
		        strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
		               domain[i])
		                ? domain[i]
		                : '_';
	safe[i] = '\0';
	if (!i || safe[0] == '.')
		return -EINVAL;
	return snprintf(buf, len, "%s/%s", dir, safe) >= (int)len ? -ENAMETOOLONG : 0;
}

/* The highest aio-nr a start under way expects (0 if none), dropping the
 * reservations it has reached or that expired; own (this domain's, from
 * an earlier try) does not count. */
static uint64_t reserved_level(const char *dir, const char *own, uint64_t nr, uint64_t now)
{
	uint64_t level = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n = 0;

	while (d && (de = readdir(d)) && n < RESERVATIONS_MAX) {
		char path[4500], *text = NULL;
		unsigned long long expect, expires;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' || !strcmp(path, own))
			continue;
		if (aio_file_read_all(path, 256, &text, NULL) < 0)
			continue;
		if (sscanf(text, "%llu %llu", &expect, &expires) != 2 || nr >= expect ||
		    now >= expires)
			unlink(path); /* its contexts are there, or it never started */
		else if (expect > level)
			level = expect, n++;
		else
			n++;
		free(text);
	}
	if (d)
		closedir(d);
	return level;
}

static uint64_t next_pow2(uint64_t v)
{
	uint64_t p = 1;

	while (p < v && p < (1ULL << 62))
		p <<= 1;
	return p;
}

/* The live value and the agent's file to target, as a rollout step would
 * (the host's own bounds, shadowing checked, a record to roll back). */
static int raise_limit(const struct agent_config *conf, uint64_t target, char *why, size_t len)
{
	Aioctl__V1__SetLimit cmd = AIOCTL__V1__SET_LIMIT__INIT;
	Aioctl__V1__AckRequest *ack;
	struct agent_applier ap;
	int r;

	if ((r = agent_apply_init(&ap, conf->sysroot, conf->sysctl_file, conf->state_dir,
	                          conf->limit_min, conf->limit_max, conf->limit_margin)) < 0) {
		snprintf(why, len, "%s: %s", conf->state_dir, strerror(-r));
		return r;
	}
	/* the guard's steps: ids of their own, above any server's */
	cmd.step_id = AGENT_GUARD_STEP | aio_now_ms();
	cmd.target = target;
	cmd.has_persist = cmd.persist = true;
	if (!(ack = agent_apply(&ap, cmd.step_id, &cmd)))
		return -ENOMEM;
	r = ack->status == AIOCTL__V1__STATUS_CODE__OK ? 0 : -EPERM;
	if (r < 0)
		snprintf(why, len, "%s", ack->message ? ack->message : "refused");
	aioctl__v1__ack_request__free_unpacked(ack, NULL);
	return r;
}

static int read_counters(const struct agent_config *conf, uint64_t *nr, uint64_t *max)
{
	char path[4200];
	int r;

	if ((r = aio_path_join(conf->sysroot, "/proc/sys/fs/aio-nr", path, sizeof(path))) < 0 ||
	    (r = aio_file_read_u64(path, nr)) < 0)
		return r;
	if ((r = aio_path_join(conf->sysroot, "/proc/sys/fs/aio-max-nr", path, sizeof(path))) < 0)
		return r;
	return aio_file_read_u64(path, max);
}

static void shortfall(struct agent_guard_result *g, uint64_t level, const char *what)
{
	uint64_t room = g->max > level ? g->max - level : 0;
	char domain[AIO_VM_NAME_MAX * 4 + 1];

	aio_text_escape(g->demand.domain, domain, sizeof(domain));
	snprintf(g->message, sizeof(g->message),
	         "aio-guard: domain %.128s needs %u AIO context%s (%" PRIu64
	         " events); this host has "
	         "room for %" PRIu64 " (fs.aio-nr %" PRIu64 ", %" PRIu64
	         " reserved by starts under way, fs.aio-max-nr %" PRIu64
	         ")%.200s; fix: sysctl -w fs.aio-max-nr=%" PRIu64 " and keep it in sysctl.d, or "
	         "aioctl fleet set --max %" PRIu64,
	         domain, g->demand.contexts, g->demand.contexts == 1 ? "" : "s", g->demand.events,
	         room / AIO_CONTEXT_EVENTS, g->nr, g->reserved, g->max, what,
	         next_pow2(level + g->demand.events), next_pow2(level + g->demand.events));
}

static int decide_locked(const struct agent_config *conf, enum agent_guard_policy policy,
                         const char *dir, struct agent_guard_result *g)
{
	uint64_t now = aio_now_ms(), level, need;
	char why[300], path[4400] = "";
	int r;

	if ((r = read_counters(conf, &g->nr, &g->max)) < 0) {
		snprintf(g->message, sizeof(g->message),
		         "aio-guard: cannot read fs.aio-nr/fs.aio-max-nr: %s", strerror(-r));
		return r;
	}
	if (reservation_path(dir, g->demand.domain, path, sizeof(path)) < 0)
		path[0] = '\0'; /* no name to keep it under: it is not reserved */
	level = reserved_level(dir, path, g->nr, now);
	g->reserved = level > g->nr ? level - g->nr : 0;
	if (level < g->nr)
		level = g->nr;
	need = level + g->demand.events;
	if (need > g->max) {
		uint64_t target = next_pow2(need + conf->limit_margin);

		if (policy == GUARD_WARN) {
			g->verdict = GUARD_WARNED;
			shortfall(g, level, " (policy warn: let through)");
			return 0;
		}
		if (policy == GUARD_RAISE && target > conf->limit_max) {
			g->verdict = GUARD_REFUSED;
			snprintf(why, sizeof(why), "; %" PRIu64 " would be past limit-max %" PRIu64,
			         target, conf->limit_max);
			shortfall(g, level, why);
			return 0;
		}
		if (policy == GUARD_RAISE) {
			if (raise_limit(conf, target, why, sizeof(why)) < 0) {
				char tail[400];

				g->verdict = GUARD_REFUSED;
				snprintf(tail, sizeof(tail), "; raising to %" PRIu64 " failed: %s",
				         target, why);
				shortfall(g, level, tail);
				return 0;
			}
			g->verdict = GUARD_RAISED;
			g->raised_to = target;
			snprintf(g->message, sizeof(g->message),
			         "aio-guard: fs.aio-max-nr raised from %" PRIu64 " to %" PRIu64
			         " for domain %.128s (%u contexts)",
			         g->max, target, g->demand.domain, g->demand.contexts);
			g->max = target;
		} else {
			g->verdict = GUARD_REFUSED;
			shortfall(g, level, "");
			return 0;
		}
	}
	/* it passes: its contexts count against the room until they appear */
	if (path[0]) {
		char line[64];

		snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 "\n", need,
		         now + conf->guard_reservation_ms);
		if ((r = aio_file_write_atomic(path, line, strlen(line), 0600)) < 0)
			snprintf(g->message, sizeof(g->message),
			         "aio-guard: %.300s: %s (the start goes on)", path, strerror(-r));
	}
	return 0;
}

/* ------------------------------------------------- decisions reported */

#define EVENTS_MAGIC "aioguard1"

static int events_dir(const char *state_dir, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/guard-events", state_dir) >= (int)len ? -ENAMETOOLONG : 0;
}

static void record(const struct agent_config *conf, const struct agent_guard_result *g)
{
	static const int kind[] = {
		[GUARD_RAISED] = AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED,
		[GUARD_WARNED] = AIOCTL__V1__EVENT_KIND__EVENT_GUARD_WARNED,
		[GUARD_REFUSED] = AIOCTL__V1__EVENT_KIND__EVENT_GUARD_REFUSED,
	};
	char dir[4200], path[4300], text[AIO_VM_NAME_MAX + 1200];
	int n, r;

	if (events_dir(conf->state_dir, dir, sizeof(dir)) < 0 || aio_mkdir_p(dir, 0700) < 0)
		return;
	snprintf(path, sizeof(path), "%s/%020" PRIu64 "-%08d", dir, aio_now_ms(),
	         (int)getpid() % 100000000);
	n = snprintf(text, sizeof(text), EVENTS_MAGIC " %d %u\n%s\n%s\n", kind[g->verdict],
	             g->demand.contexts, g->demand.domain, g->message);
	if ((r = aio_file_write_atomic(path, text, (size_t)n, 0600)) < 0)
		fprintf(stderr, "aio-guard: %s: %s (this decision is not reported)\n", path,
		        strerror(-r));
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_event(const struct dirent *d)
{
	return strlen(d->d_name) == AGENT_GUARD_EVENT_NAME && d->d_name[20] == '-';
}

void agent_guard_events_read(const char *state_dir, const char *after,
                             bool (*fn)(const struct agent_event *ev, void *arg), void *arg,
                             char *last)
{
	struct dirent **v = NULL;
	char dir[4200];
	bool more = true;
	int n;

	if (events_dir(state_dir, dir, sizeof(dir)) < 0 ||
	    (n = scandir(dir, &v, is_event, by_name)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		char path[4500], *text = NULL, *domain, *message;
		struct agent_event ev;
		unsigned contexts = 0;
		int kind;

		if (more && strcmp(v[i]->d_name, after) > 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, v[i]->d_name);
			if (aio_file_read_all(path, 8192, &text, NULL) == 0 &&
			    sscanf(text, EVENTS_MAGIC " %d %u", &kind, &contexts) >= 1 &&
			    kind >= AIOCTL__V1__EVENT_KIND__EVENT_GUARD_RAISED &&
			    kind <= AIOCTL__V1__EVENT_KIND__EVENT_GUARD_WARNED &&
			    (domain = strchr(text, '\n')) && (message = strchr(++domain, '\n'))) {
				*message++ = '\0';
				message[strcspn(message, "\n")] = '\0';
				memset(&ev, 0, sizeof(ev));
				ev.time_ms = strtoull(v[i]->d_name, NULL, 10);
				ev.kind = (Aioctl__V1__EventKind)kind;
				ev.contexts = contexts < AIO_DOMAIN_CONTEXTS_MAX
				                      ? contexts
				                      : AIO_DOMAIN_CONTEXTS_MAX;
				snprintf(ev.vm, sizeof(ev.vm), "%s", domain);
				snprintf(ev.line, sizeof(ev.line), "%s", message);
				snprintf(ev.source, sizeof(ev.source), "aio-guard");
				snprintf(ev.key, sizeof(ev.key), "guard:%.*s",
				         AGENT_GUARD_EVENT_NAME, v[i]->d_name);
				if ((more = fn(&ev, arg)))
					snprintf(last, AGENT_GUARD_EVENT_NAME + 1, "%.*s",
					         AGENT_GUARD_EVENT_NAME, v[i]->d_name);
			} else if (text || errno != ENOENT) {
				/* damaged: it can never be reported */
				unlink(path);
			}
			free(text);
		}
		free(v[i]);
	}
	free(v);
}

void agent_guard_events_trim(const char *state_dir, const char *upto)
{
	struct dirent **v = NULL;
	char dir[4200], path[4500];
	int n;

	if (!upto[0] || events_dir(state_dir, dir, sizeof(dir)) < 0 ||
	    (n = scandir(dir, &v, is_event, by_name)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, upto) <= 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, v[i]->d_name);
			unlink(path);
		}
		free(v[i]);
	}
	free(v);
}

/* ---------------------------------------------------------- deciding */

int agent_guard_decide(const struct agent_config *conf, enum agent_guard_policy policy,
                       const char *xml, size_t len, struct agent_guard_result *g)
{
	char dir[4200], lock[4200], err[256];
	int fd, r;

	memset(g, 0, sizeof(*g));
	if ((r = agent_demand_parse(xml, len, &g->demand, err, sizeof(err))) < 0) {
		snprintf(g->message, sizeof(g->message), "aio-guard: %s", err);
		return r;
	}
	if (policy == GUARD_OFF || g->demand.contexts == 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s/guard", conf->state_dir);
	snprintf(lock, sizeof(lock), "%s/guard.lock", conf->state_dir);
	if ((r = aio_mkdir_p(dir, 0700)) < 0 ||
	    (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		r = r < 0 ? r : -errno;
		snprintf(g->message, sizeof(g->message), "aio-guard: state dir %.300s: %s",
		         conf->state_dir, strerror(-r));
		return r;
	}
	/* starts at once are decided one after the other */
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	r = decide_locked(conf, policy, dir, g);
	close(fd);
	if (r == 0 && g->verdict != GUARD_PASSED)
		record(conf, g);
	return r;
}

void agent_guard_release(const struct agent_config *conf, const char *domain)
{
	char dir[4200], path[4400];

	snprintf(dir, sizeof(dir), "%s/guard", conf->state_dir);
	if (reservation_path(dir, domain, path, sizeof(path)) == 0)
		unlink(path);
}

int agent_guard_main(const struct agent_config *conf, int argc, char **argv, FILE *in, FILE *err)
{
	enum agent_guard_policy policy;
	struct agent_guard_result g;
	char *xml = NULL;
	size_t len = 0, cap = 0;
	int r;

	/* a domain that stopped, or whose start failed, holds no room */
	if (argc >= 2 && (!strcmp(argv[1], "stopped") || !strcmp(argv[1], "release"))) {
		agent_guard_release(conf, argv[0]);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "prepare") || strcmp(argv[2], "begin"))
		return 0; /* started, migrate, ...: not the guard's moment */
	if (agent_guard_policy_parse(conf->guard, &policy) < 0) {
		fprintf(err,
		        "aio-guard: guard = %s: use raise, refuse, warn or off; the start goes "
		        "on\n",
		        conf->guard ? conf->guard : "");
		return 0;
	}
	if (policy == GUARD_OFF)
		return 0;
	for (;;) {
		size_t got;

		if (len == cap) {
			char *p = cap > AGENT_DOMAIN_XML_MAX ? NULL
			                                     : realloc(xml, cap ? cap * 2 : 65536);

			if (!p)
				break; /* past the bound: the parser says so */
			xml = p;
			cap = cap ? cap * 2 : 65536;
		}
		if (!(got = fread(xml + len, 1, cap - len, in)))
			break;
		len += got;
	}
	r = agent_guard_decide(conf, policy, xml ? xml : "", len, &g);
	free(xml);
	if (r < 0) {
		/* the guard's own failure blocks a start only under refuse */
		fprintf(err, "%s%s\n", g.message,
		        policy == GUARD_REFUSE ? " (policy refuse)" : "; the start goes on");
		return policy == GUARD_REFUSE ? 1 : 0;
	}
	if (g.message[0])
		fprintf(err, "%s\n", g.message);
	return g.verdict == GUARD_REFUSED ? 1 : 0;
}
