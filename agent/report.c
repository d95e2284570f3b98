/* The report thread: reads the counters every second and, once per
 * interval, builds the report (the window's sample, the events seen and
 * the latest scans) and puts it in the on-disk spool. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "log.h"
#include "names.h"

/* What one report carries besides the sample; owned by the sample thread
 * while it builds the message. */
struct report_parts {
	struct agent_event *events;
	size_t n_events;
	char *positions;
	struct agent_attrib *attrib;
	struct agent_persist *persist;
	Aioctl__V1__CountingMode counting;
	uint64_t unexplained;
	uint64_t dropped;
};

/* Takes the pending events, positions and newest scans (lock held). */
static void take_parts(struct agent *a, struct report_parts *p, struct agent_event *spare)
{
	p->events = a->pending;
	p->n_events = a->n_pending;
	a->pending = spare;
	a->n_pending = 0;
	p->positions = a->positions ? strdup(a->positions) : NULL;
	p->attrib = a->attrib;
	p->persist = a->persist;
	a->attrib = NULL;
	a->persist = NULL;
	p->counting = a->counting;
	p->unexplained = a->unexplained;
	p->dropped = a->spool.dropped;
}

/* The report's text as the server will store and show it: a control
 * character or a byte that is not UTF-8 (a process can set its own argv, a
 * log line holds what QEMU quoted) is sent as \xNN, so no field is refused
 * and nothing vanishes. */
static void escape_parts(struct report_parts *p)
{
	for (size_t i = 0; i < p->n_events; i++) {
		struct agent_event *e = &p->events[i];

		aio_text_escape_in_place(e->vm, sizeof(e->vm));
		aio_text_escape_in_place(e->disk, sizeof(e->disk));
		aio_text_escape_in_place(e->line, sizeof(e->line));
		aio_text_escape_in_place(e->source, sizeof(e->source));
		aio_text_escape_in_place(e->key, sizeof(e->key));
		aio_text_escape_in_place(e->incident, sizeof(e->incident));
	}
	for (size_t i = 0; p->attrib && i < p->attrib->n; i++) {
		struct agent_user *u = &p->attrib->users[i];

		aio_text_escape_in_place(u->name, sizeof(u->name));
		aio_text_escape_in_place(u->basis, sizeof(u->basis));
	}
	if (p->persist) {
		aio_text_escape_in_place(p->persist->file, sizeof(p->persist->file));
		aio_text_escape_in_place(p->persist->procps_file, sizeof(p->persist->procps_file));
		for (size_t i = 0; i < p->persist->n_settings; i++)
			aio_text_escape_in_place(p->persist->settings[i].file,
			                         sizeof(p->persist->settings[i].file));
	}
}

/* Fills m from p; s and sp hold the settings (AIO_SETTINGS_MAX each). */
static void persisted_fill(Aioctl__V1__Persisted *m, Aioctl__V1__SysctlSetting *s,
                           Aioctl__V1__SysctlSetting **sp, const struct agent_persist *p)
{
	aioctl__v1__persisted__init(m);
	m->has_value = p->has_value;
	m->value = p->value;
	m->file = p->has_value ? (char *)p->file : NULL;
	for (size_t i = 0; i < p->n_settings; i++) {
		aioctl__v1__sysctl_setting__init(&s[i]);
		s[i].file = (char *)p->settings[i].file;
		s[i].value = p->settings[i].value;
		s[i].has_line = true;
		s[i].line = p->settings[i].line;
		sp[i] = &s[i];
	}
	m->settings = sp;
	m->n_settings = p->n_settings;
	m->has_scanned_ms = true;
	m->scanned_ms = p->scanned_ms;
	if (agent_persist_differs(p)) {
		m->has_procps_value = p->procps_has_value;
		m->procps_value = p->procps_value;
		m->procps_file = p->procps_has_value ? (char *)p->procps_file : NULL;
	}
}

/* The events of a report the spool could not keep go first into the next
 * one (lock held): the log positions are past them already. The lost
 * sample is counted by the spool. */
static void give_back_events(struct agent *a, const struct report_parts *p)
{
	size_t keep = p->n_events, room = AIO_EVENTS_MAX - a->n_pending;

	if (keep > room) {
		log_warn("%zu AIO events lost with a report that could not be spooled",
		         keep - room);
		keep = room;
	}
	memmove(a->pending + keep, a->pending, a->n_pending * sizeof(*a->pending));
	memcpy(a->pending, p->events, keep * sizeof(*a->pending));
	a->n_pending += keep;
}

/* Builds the report around the sample and puts it in the spool. */
static void spool_report(struct agent *a, Aioctl__V1__Sample *sample, struct report_parts *p)
{
	Aioctl__V1__ReportRequest r = AIOCTL__V1__REPORT_REQUEST__INIT;
	Aioctl__V1__AioEvent *ev = calloc(p->n_events + 1, sizeof(*ev));
	Aioctl__V1__AioEvent **evp = calloc(p->n_events + 1, sizeof(*evp));
	size_t n_users = p->attrib ? p->attrib->n : 0;
	Aioctl__V1__AioUser *us = calloc(n_users + 1, sizeof(*us));
	Aioctl__V1__AioUser **usp = calloc(n_users + 1, sizeof(*usp));
	Aioctl__V1__Persisted persisted;
	Aioctl__V1__SysctlSetting settings[AIO_SETTINGS_MAX], *setting_ptrs[AIO_SETTINGS_MAX];
	int err;

	if (!ev || !evp || !us || !usp) {
		log_err("out of memory: report lost");
		goto out_free;
	}
	escape_parts(p);
	r.seq = 0; /* numbered by the spool */
	r.sample = sample;
	for (size_t i = 0; i < p->n_events; i++) {
		const struct agent_event *e = &p->events[i];

		aioctl__v1__aio_event__init(&ev[i]);
		ev[i].time_ms = e->time_ms;
		ev[i].kind = e->kind;
		ev[i].source = (char *)e->source;
		ev[i].vm = e->vm[0] ? (char *)e->vm : NULL;
		ev[i].disk = e->disk[0] ? (char *)e->disk : NULL;
		ev[i].line = (char *)e->line;
		ev[i].key = (char *)e->key;
		ev[i].incident = e->incident[0] ? (char *)e->incident : NULL;
		ev[i].has_contexts = e->contexts > 0;
		ev[i].contexts = e->contexts;
		evp[i] = &ev[i];
	}
	r.events = evp;
	r.n_events = p->n_events;
	for (size_t i = 0; i < n_users; i++) {
		const struct agent_user *u = &p->attrib->users[i];

		aioctl__v1__aio_user__init(&us[i]);
		us[i].name = (char *)u->name;
		us[i].has_pid = true;
		us[i].pid = u->pid;
		us[i].has_is_vm = true;
		us[i].is_vm = u->is_vm;
		us[i].contexts = u->contexts;
		us[i].has_events = true;
		us[i].events = u->events;
		us[i].has_events_exact = true;
		us[i].events_exact = u->exact;
		us[i].events_basis = (char *)u->basis;
		usp[i] = &us[i];
	}
	if (p->attrib) {
		r.users = usp;
		r.n_users = n_users;
		r.has_unexplained = true;
		r.unexplained = p->unexplained;
		r.has_contexts = true;
		r.contexts = p->attrib->contexts;
	}
	if (p->persist) {
		persisted_fill(&persisted, settings, setting_ptrs, p->persist);
		r.persisted = &persisted;
	}
	r.has_counting = true;
	r.counting = p->counting;
	r.has_dropped = p->dropped > 0;
	r.dropped = p->dropped;

	pthread_mutex_lock(&a->lock);
	if ((err = agent_spool_append(&a->spool, &r, p->positions)) < 0)
		give_back_events(a, p);
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->lock);

out_free:
	free(ev);
	free(evp);
	free(us);
	free(usp);
}

void *agent_report_thread(void *arg)
{
	struct agent *a = arg;
	/* the first report goes out after the first reading: a new host shows
	 * its values at once, not one interval later */
	uint64_t next_sample = aio_mono_ms(), next_report = next_sample;
	struct agent_event *spare = calloc(AIO_EVENTS_MAX, sizeof(*spare));
	int last_err = 0;

	if (!spare) {
		log_err("out of memory");
		return NULL;
	}
	a->sampler.start_ms = aio_now_ms();
	while (!agent_wait_until(a, next_sample)) {
		int r = agent_sampler_read(&a->sampler);

		atomic_store(&a->sampled_ms, aio_mono_ms());
		if (r < 0 && r != last_err)
			log_warn_errno(r, "cannot read %s or %s", a->sampler.nr_path,
			               a->sampler.max_path);
		else if (r == 0 && last_err)
			log_info("counters readable again");
		last_err = r;

		next_sample += a->conf.sample_interval_ms;
		if (aio_mono_ms() >= next_report) {
			Aioctl__V1__Sample sample;
			struct report_parts parts = { 0 };

			next_report += a->conf.interval_ms;
			if (agent_sampler_take(&a->sampler, aio_now_ms(), &sample)) {
				pthread_mutex_lock(&a->lock);
				take_parts(a, &parts, spare);
				pthread_mutex_unlock(&a->lock);
				spool_report(a, &sample, &parts);
				spare = parts.events;
				free(parts.positions);
				if (parts.attrib)
					agent_attrib_done(parts.attrib);
				free(parts.attrib);
				free(parts.persist);
			}
		}
		/* after a stall (suspend, overload) skip missed ticks, don't burst */
		if (next_sample + a->conf.interval_ms < aio_mono_ms()) {
			next_sample = aio_mono_ms();
			next_report = next_sample + a->conf.interval_ms;
		}
	}
	free(spare);
	return NULL;
}
