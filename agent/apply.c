#include "apply.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "path.h"
#include "persist.h"
#include "rpc.h"

#define FILE_BEFORE_MAX (64 * 1024) /* our file's old content kept for rollback */
#define RECORD_MAX      (256 * 1024)

int agent_apply_init(struct agent_applier *ap, const char *sysroot, const char *file,
                     const char *state_dir, uint64_t min, uint64_t max, uint64_t margin)
{
	int r;

	memset(ap, 0, sizeof(*ap));
	snprintf(ap->sysroot, sizeof(ap->sysroot), "%s", sysroot);
	snprintf(ap->file, sizeof(ap->file), "%s", file);
	ap->min = min;
	ap->max = max;
	ap->margin = margin;
	if ((r = aio_path_join(sysroot, file, ap->file_real, sizeof(ap->file_real))) < 0 ||
	    (r = aio_path_join(sysroot, "/proc/sys/fs/aio-max-nr", ap->max_real,
	                       sizeof(ap->max_real))) < 0 ||
	    (r = aio_path_join(sysroot, "/proc/sys/fs/aio-nr", ap->nr_real, sizeof(ap->nr_real))) <
	            0)
		return r;
	if (snprintf(ap->steps_dir, sizeof(ap->steps_dir), "%s/steps", state_dir) >=
	    (int)sizeof(ap->steps_dir))
		return -ENAMETOOLONG;
	return aio_mkdir_p(ap->steps_dir, 0700);
}

static void record_path(const struct agent_applier *ap, uint64_t step, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%020" PRIu64, ap->steps_dir, step);
}

Aioctl__V1__AgentStepRecord *agent_apply_record_parse(const uint8_t *data, size_t len)
{
	Aioctl__V1__AgentStepRecord *rec = aioctl__v1__agent_step_record__unpack(NULL, len, data);

	/* only what this agent writes: an answer, a value it could have read
	 * and a file it could have kept */
	if (rec && (!rec->ack || rec->file_before.len > FILE_BEFORE_MAX ||
	            (rec->ack->status == AIOCTL__V1__STATUS_CODE__OK &&
	             (!rec->has_runtime_before || rec->runtime_before == 0 ||
	              rec->runtime_before > AIO_COUNTER_MAX)))) {
		aioctl__v1__agent_step_record__free_unpacked(rec, NULL);
		rec = NULL;
	}
	return rec;
}

/* The record of step, or NULL: *ret_damaged tells a damaged one from none. */
static Aioctl__V1__AgentStepRecord *load_record(const struct agent_applier *ap, uint64_t step,
                                                bool *ret_damaged)
{
	char path[4200], *data = NULL;
	Aioctl__V1__AgentStepRecord *rec;
	size_t len;
	int r;

	record_path(ap, step, path, sizeof(path));
	if ((r = aio_file_read_all(path, RECORD_MAX, &data, &len)) < 0) {
		*ret_damaged = r != -ENOENT;
		return NULL;
	}
	rec = agent_apply_record_parse((uint8_t *)data, len);
	free(data);
	*ret_damaged = !rec;
	return rec;
}

static int save_record(const struct agent_applier *ap, uint64_t step,
                       const Aioctl__V1__AgentStepRecord *rec)
{
	size_t len = aioctl__v1__agent_step_record__get_packed_size(rec);
	uint8_t *buf = malloc(len ? len : 1);
	char path[4200];
	int r;

	if (!buf)
		return -ENOMEM;
	aioctl__v1__agent_step_record__pack(rec, buf);
	record_path(ap, step, path, sizeof(path));
	r = aio_file_write_atomic(path, buf, len, 0600);
	free(buf);
	return r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_record(const struct dirent *d)
{
	return strlen(d->d_name) == 20 && strspn(d->d_name, "0123456789") == 20;
}

/* Keeps the newest AGENT_STEPS_KEPT records (names sort as step ids): a
 * server, broken or not, cannot fill the disk with them. A step older than
 * those is long finished; delivered again, it would apply again. */
static void prune_records(const struct agent_applier *ap)
{
	struct dirent **v = NULL;
	int n = scandir(ap->steps_dir, &v, is_record, by_name);

	for (int i = 0; i < n; i++) {
		if (i < n - AGENT_STEPS_KEPT) {
			char path[4400];

			snprintf(path, sizeof(path), "%s/%s", ap->steps_dir, v[i]->d_name);
			if (unlink(path) < 0 && errno != ENOENT)
				log_warn("cannot remove %s: %s", path, strerror(errno));
		}
		free(v[i]);
	}
	free(v);
}

static Aioctl__V1__AckRequest *new_ack(uint64_t command_id)
{
	Aioctl__V1__AckRequest *ack = calloc(1, sizeof(*ack));

	if (ack) {
		aioctl__v1__ack_request__init(ack);
		ack->command_id = command_id;
		ack->status = AIOCTL__V1__STATUS_CODE__OK;
	}
	return ack;
}

static void ack_fail(Aioctl__V1__AckRequest *ack, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void ack_fail(Aioctl__V1__AckRequest *ack, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ack->status = (Aioctl__V1__StatusCode)status;
	free(ack->message);
	ack->message = strdup(msg);
}

/* What a reboot would give, as an ack field (malloc'd for free_unpacked). */
static Aioctl__V1__Persisted *persisted_now(const struct agent_applier *ap,
                                            struct agent_persist *scratch)
{
	Aioctl__V1__Persisted *p = calloc(1, sizeof(*p));

	if (!p || agent_persist_scan(ap->sysroot, scratch) < 0) {
		free(p);
		return NULL;
	}
	aioctl__v1__persisted__init(p);
	p->has_value = scratch->has_value;
	p->value = scratch->value;
	p->file = scratch->has_value ? strdup(scratch->file) : NULL;
	return p;
}

/* The counters right after a change, stamped with this host's clock: the
 * server ignores older readings that arrive later. */
static Aioctl__V1__Sample *sample_now(const struct agent_applier *ap)
{
	Aioctl__V1__Sample *s = calloc(1, sizeof(*s));
	uint64_t nr = 0, max = 0;

	if (!s)
		return NULL;
	aioctl__v1__sample__init(s);
	aio_file_read_u64(ap->nr_real, &nr);
	aio_file_read_u64(ap->max_real, &max);
	s->time_ms = aio_now_ms();
	s->aio_nr = s->aio_nr_min = s->aio_nr_max = nr;
	s->aio_max_nr = max;
	return s;
}

static int write_runtime(const struct agent_applier *ap, uint64_t value)
{
	char text[32];
	int fd, len, r = 0;

	len = snprintf(text, sizeof(text), "%" PRIu64 "\n", value);
	/* O_TRUNC matters for sysroot files; /proc ignores it */
	fd = open(ap->max_real, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* Puts the file back as it was: its old content, or no file. */
static int restore_file(const struct agent_applier *ap, bool existed, const uint8_t *data,
                        size_t len)
{
	if (!existed)
		return unlink(ap->file_real) < 0 && errno != ENOENT ? -errno : 0;
	return aio_file_write_atomic(ap->file_real, data, len, 0644);
}

/* The sysctl file's directory, made 0755 when the host has none. */
static int make_parent(const struct agent_applier *ap)
{
	char dir[sizeof(ap->file_real)], *slash;
	struct stat st;
	int r;

	snprintf(dir, sizeof(dir), "%s", ap->file_real);
	if (!(slash = strrchr(dir, '/')) || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &st) == 0)
		return 0;
	if ((r = aio_mkdir_p(dir, 0755)) < 0)
		return r;
	/* as systemd-sysctl's own directories are, whatever our umask */
	return chmod(dir, 0755) < 0 ? -errno : 0;
}

static void apply_new(struct agent_applier *ap, const Aioctl__V1__SetLimit *cmd,
                      Aioctl__V1__AckRequest *ack, Aioctl__V1__AgentStepRecord *rec)
{
	struct agent_persist *scan = calloc(1, sizeof(*scan));
	char content[512], *old = NULL;
	uint64_t nr = 0, live = 0, after = 0;
	size_t old_len = 0;
	int r;

	if (!scan) {
		ack_fail(ack, AIO_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if ((r = aio_file_read_u64(ap->max_real, &live)) < 0 ||
	    (r = aio_file_read_u64(ap->nr_real, &nr)) < 0) {
		ack_fail(ack, AIO_FAILED_PRECONDITION, "cannot read fs.aio-nr/aio-max-nr: %s",
		         strerror(-r));
		goto out_free;
	}
	ack->has_runtime_before = true;
	ack->runtime_before = live;
	ack->persisted_before = persisted_now(ap, scan);

	/* the host's own policy holds whatever the server says */
	if (cmd->target < ap->min || cmd->target > ap->max) {
		ack_fail(ack, AIO_PERMISSION_DENIED,
		         "target %" PRIu64 " is outside this host's bounds %" PRIu64 "..%" PRIu64
		         " (agent.conf limit-min/limit-max)",
		         cmd->target, ap->min, ap->max);
		goto out_free;
	}
	if (!cmd->force && cmd->target < nr + ap->margin) {
		ack_fail(ack, AIO_FAILED_PRECONDITION,
		         "target %" PRIu64 " is below current usage %" PRIu64
		         " plus margin %" PRIu64 " (--force to allow)",
		         cmd->target, nr, ap->margin);
		goto out_free;
	}

	r = aio_file_read_all(ap->file_real, FILE_BEFORE_MAX, &old, &old_len);
	if (r < 0 && r != -ENOENT) {
		ack_fail(ack, AIO_FAILED_PRECONDITION, "%s: %s", ap->file, strerror(-r));
		goto out_free;
	}
	rec->has_file_existed = true;
	rec->file_existed = r == 0;
	rec->has_file_before = r == 0;
	rec->file_before.data = (uint8_t *)old;
	rec->file_before.len = old_len;
	old = NULL; /* the record owns it now */
	rec->has_runtime_before = true;
	rec->runtime_before = live;

	if (cmd->persist || !cmd->has_persist) {
		/* a minimal host has no sysctl.d yet; systemd-sysctl reads it once
		 * it exists */
		if ((r = make_parent(ap)) < 0) {
			ack_fail(ack, AIO_FAILED_PRECONDITION,
			         "cannot create the directory of %s: %s", ap->file, strerror(-r));
			goto out_free;
		}
		if (cmd->step_id & AGENT_GUARD_STEP)
			snprintf(
			        content, sizeof(content),
			        "# Written by aio-agent's guard (libvirt's qemu hook) to let a "
			        "domain "
			        "start.\n# Change it with aioctl, not by hand: drift is reported.\n"
			        "fs.aio-max-nr = %" PRIu64 "\n",
			        cmd->target);
		else
			snprintf(content, sizeof(content),
			         "# Written by aio-agent for aioctl rollout %" PRIu64
			         ", step %" PRIu64
			         ".\n# Change it with aioctl, not by hand: drift is reported.\n"
			         "fs.aio-max-nr = %" PRIu64 "\n",
			         cmd->rollout_id, cmd->step_id, cmd->target);
		if ((r = aio_file_write_atomic(ap->file_real, content, strlen(content), 0644)) <
		    0) {
			ack_fail(ack, AIO_FAILED_PRECONDITION, "cannot write %s: %s", ap->file,
			         strerror(-r));
			goto out_free;
		}
		/* would it win at boot? */
		if (agent_persist_scan(ap->sysroot, scan) < 0 || !scan->has_value ||
		    strcmp(scan->file, ap->file) != 0 || scan->value != cmd->target) {
			restore_file(ap, rec->file_existed, rec->file_before.data,
			             rec->file_before.len);
			ack_fail(ack, AIO_FAILED_PRECONDITION,
			         "%s would win at boot (it sets fs.aio-max-nr = %" PRIu64
			         ") over %s; nothing changed",
			         scan->has_value ? scan->file : "(no file)", scan->value, ap->file);
			goto out_free;
		}
	}
	if ((r = write_runtime(ap, cmd->target)) < 0) {
		restore_file(ap, rec->file_existed, rec->file_before.data, rec->file_before.len);
		ack_fail(ack, AIO_FAILED_PRECONDITION, "cannot write fs.aio-max-nr: %s",
		         strerror(-r));
		goto out_free;
	}
	if ((r = aio_file_read_u64(ap->max_real, &after)) < 0 || after != cmd->target) {
		ack_fail(ack, AIO_FAILED_PRECONDITION,
		         "fs.aio-max-nr reads back %" PRIu64 " after writing %" PRIu64, after,
		         cmd->target);
	}
	ack->has_runtime_after = true;
	ack->runtime_after = after;
	ack->persisted_after = persisted_now(ap, scan);
	ack->sample = sample_now(ap);

out_free:
	free(old);
	free(scan);
}

static void rollback(struct agent_applier *ap, Aioctl__V1__AgentStepRecord *rec,
                     Aioctl__V1__AckRequest *ack)
{
	struct agent_persist *scan = calloc(1, sizeof(*scan));
	uint64_t live = 0, after = 0;
	int r;

	if (!scan) {
		ack_fail(ack, AIO_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	aio_file_read_u64(ap->max_real, &live);
	ack->has_runtime_before = true;
	ack->runtime_before = live;
	ack->persisted_before = persisted_now(ap, scan);
	if ((r = restore_file(ap, rec->file_existed, rec->file_before.data, rec->file_before.len)) <
	    0)
		ack_fail(ack, AIO_FAILED_PRECONDITION, "cannot restore %s: %s", ap->file,
		         strerror(-r));
	else if ((r = write_runtime(ap, rec->runtime_before)) < 0)
		ack_fail(ack, AIO_FAILED_PRECONDITION, "cannot write fs.aio-max-nr: %s",
		         strerror(-r));
	else if (aio_file_read_u64(ap->max_real, &after) < 0 || after != rec->runtime_before)
		ack_fail(ack, AIO_FAILED_PRECONDITION,
		         "fs.aio-max-nr reads back %" PRIu64 " after restoring %" PRIu64, after,
		         rec->runtime_before);
	ack->has_runtime_after = true;
	ack->runtime_after = after;
	ack->persisted_after = persisted_now(ap, scan);
	ack->sample = sample_now(ap);
	free(scan);
}

/* A copy of a stored ack, answering command_id this time. */
static Aioctl__V1__AckRequest *again(const Aioctl__V1__AckRequest *stored, uint64_t command_id)
{
	Aioctl__V1__AckRequest *ack = (Aioctl__V1__AckRequest *)aio_rpc_dup(&stored->base);

	if (ack) {
		ack->command_id = command_id;
		ack->has_repeated_delivery = true;
		ack->repeated_delivery = true;
	}
	return ack;
}

Aioctl__V1__AckRequest *agent_apply(struct agent_applier *ap, uint64_t command_id,
                                    const Aioctl__V1__SetLimit *cmd)
{
	Aioctl__V1__AgentStepRecord *rec;
	Aioctl__V1__AckRequest *ack;
	char path[4200];
	bool damaged;
	int r;

	rec = load_record(ap, cmd->step_id, &damaged);
	record_path(ap, cmd->step_id, path, sizeof(path));
	/* a record there but unreadable, or not one this agent wrote: what was
	 * done is unknown, so nothing is done again and nothing reported done */
	if (damaged) {
		log_err("rollout %" PRIu64 " step %" PRIu64 ": %s is damaged: refused",
		        cmd->rollout_id, cmd->step_id, path);
		if ((ack = new_ack(command_id)))
			ack_fail(ack, AIO_FAILED_PRECONDITION,
			         "the agent's record of step %" PRIu64
			         " (%s) is damaged; nothing was "
			         "changed: check the host's fs.aio-max-nr and sysctl.d by hand",
			         cmd->step_id, path);
		goto out_free;
	}
	if (!cmd->rollback && rec) {
		log_info("rollout %" PRIu64 " step %" PRIu64
		         ": delivered again, answering as before",
		         cmd->rollout_id, cmd->step_id);
		ack = again(rec->ack, command_id);
		goto out_free;
	}
	if (cmd->rollback && rec && rec->rollback_ack) {
		ack = again(rec->rollback_ack, command_id);
		goto out_free;
	}
	if (!(ack = new_ack(command_id)))
		goto out_free;
	if (cmd->rollback) {
		if (!rec || rec->ack->status != AIOCTL__V1__STATUS_CODE__OK) {
			/* never applied here: nothing to put back */
			ack->message = strdup("step never changed this host; nothing to restore");
			goto out_free;
		}
		rollback(ap, rec, ack);
		rec->rollback_ack = (Aioctl__V1__AckRequest *)aio_rpc_dup(&ack->base);
		log_info("rollout %" PRIu64 " step %" PRIu64 ": rolled back to %" PRIu64 ": %s",
		         cmd->rollout_id, cmd->step_id, rec->runtime_before,
		         aio_status_name(ack->status));
	} else {
		Aioctl__V1__AgentStepRecord fresh = AIOCTL__V1__AGENT_STEP_RECORD__INIT;

		rec = (Aioctl__V1__AgentStepRecord *)aio_rpc_dup(&fresh.base);
		if (!rec)
			goto out_free;
		apply_new(ap, cmd, ack, rec);
		rec->ack = (Aioctl__V1__AckRequest *)aio_rpc_dup(&ack->base);
		if (ack->status == AIOCTL__V1__STATUS_CODE__OK)
			log_info("rollout %" PRIu64 " step %" PRIu64 ": fs.aio-max-nr %" PRIu64
			         " -> %" PRIu64 " (live and %s)",
			         cmd->rollout_id, cmd->step_id, ack->runtime_before,
			         ack->runtime_after, ap->file);
		else
			log_warn("rollout %" PRIu64 " step %" PRIu64 ": refused: %s",
			         cmd->rollout_id, cmd->step_id, ack->message);
	}
	if (!rec->ack || (r = save_record(ap, cmd->step_id, rec)) < 0)
		log_err("step %" PRIu64 ": cannot record the result; a repeat would apply again",
		        cmd->step_id);
	prune_records(ap);

out_free:
	if (rec)
		aioctl__v1__agent_step_record__free_unpacked(rec, NULL);
	return ack;
}
