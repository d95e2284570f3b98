#include "persist.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "path.h"

#define KEY           "fs.aio-max-nr"
#define FILES_MAX     1024          /* sysctl.d files considered */
#define FILE_SIZE_MAX (1024 * 1024) /* a larger file is skipped */

static const char *const dirs[] = {
	"/etc/sysctl.d",     "/run/sysctl.d", "/usr/local/lib/sysctl.d",
	"/usr/lib/sysctl.d", "/lib/sysctl.d",
};

struct conf_file {
	char name[NAME_MAX + 1];     /* sort key */
	char path[AIO_PATH_MAX + 1]; /* on the host */
	bool pseudo;                 /* /etc/sysctl.conf standing in as 99-sysctl.conf */
};

struct file_list {
	struct conf_file *v;
	size_t n;
};

static bool has_name(const struct file_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return true;
	return false;
}

static bool masked(const char *real_path)
{
	char target[64];
	ssize_t n = readlink(real_path, target, sizeof(target) - 1);

	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "/dev/null") == 0;
}

static int add_file(struct file_list *l, const char *name, const char *path, bool pseudo)
{
	if (l->n >= FILES_MAX)
		return -E2BIG;
	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
	snprintf(l->v[l->n].path, sizeof(l->v[l->n].path), "%s", path);
	l->v[l->n].pseudo = pseudo;
	l->n++;
	return 0;
}

/* Names already seen (also masked ones) hide later directories' files. */
static void scan_dir(const char *sysroot, const char *dir, struct file_list *l,
                     struct file_list *seen)
{
	char real[AIO_PATH_MAX + 1], path[AIO_PATH_MAX + 1];
	struct dirent *de;
	DIR *d;

	if (aio_path_join(sysroot, dir, real, sizeof(real)) < 0 || !(d = opendir(real)))
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char file_real[AIO_PATH_MAX + 1];

		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0 || de->d_name[0] == '.')
			continue;
		if (has_name(seen, de->d_name) || seen->n >= FILES_MAX)
			continue;
		add_file(seen, de->d_name, "", false);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (aio_path_join(sysroot, path, file_real, sizeof(file_real)) < 0 ||
		    masked(file_real))
			continue;
		add_file(l, de->d_name, path, false);
	}
	closedir(d);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct conf_file *)a)->name, ((const struct conf_file *)b)->name);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* systemd normalises "fs/aio-max-nr" to "fs.aio-max-nr" */
static bool is_our_key(char *key)
{
	if (*key == '-')
		key++;
	if (strchr(key, '/') && (!strchr(key, '.') || strchr(key, '/') < strchr(key, '.')))
		for (char *p = key; *p; p++)
			*p = *p == '/' ? '.' : *p == '.' ? '/' : *p;
	return strcmp(key, KEY) == 0;
}

void agent_persist_parse(const char *text, const char *file, struct agent_persist_setting *settings,
                         size_t *n, size_t max)
{
	unsigned lineno = 0;
	const char *p;

	/* count lines by hand: strtok would skip empty ones */
	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char buf[1024], *key, *value, *eq, *end, *line;
		size_t len = strcspn(p, "\n");
		unsigned long long v;

		lineno++;
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, p, len);
		buf[len] = '\0';
		line = trim(buf);
		if (!*line || *line == '#' || *line == ';' || !(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		if (!is_our_key(key) || !isdigit((unsigned char)*value))
			continue;
		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno || *end || *n >= max)
			continue;
		snprintf(settings[*n].file, sizeof(settings[*n].file), "%s", file);
		settings[*n].line = lineno;
		settings[*n].value = v;
		(*n)++;
	}
}

/* Appends every setting of the key in one file to settings. */
static void parse_file(const char *sysroot, const struct conf_file *f,
                       struct agent_persist_setting *settings, size_t *n, size_t max)
{
	char real[AIO_PATH_MAX + 1], *text = NULL;

	if (aio_path_join(sysroot, f->path, real, sizeof(real)) < 0 ||
	    aio_file_read_all(real, FILE_SIZE_MAX, &text, NULL) < 0)
		return;
	agent_persist_parse(text, f->path, settings, n, max);
	free(text);
}

int agent_persist_scan(const char *sysroot, struct agent_persist *ret)
{
	struct file_list files = { 0 }, seen = { 0 };
	struct agent_persist_setting procps[AIO_SETTINGS_MAX];
	char conf_real[AIO_PATH_MAX + 1];
	size_t n_procps = 0;
	bool have_conf;
	int r = 0;

	files.v = calloc(FILES_MAX, sizeof(*files.v));
	seen.v = calloc(FILES_MAX, sizeof(*seen.v));
	if (!files.v || !seen.v) {
		r = -ENOMEM;
		goto out_free;
	}
	memset(ret, 0, sizeof(*ret));
	ret->scanned_ms = aio_now_ms();
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char real[AIO_PATH_MAX + 1], usr[AIO_PATH_MAX + 1];
		struct stat a, b;

		/* with a merged /usr, /lib/sysctl.d is /usr/lib/sysctl.d again */
		if (strcmp(dirs[i], "/lib/sysctl.d") == 0 &&
		    aio_path_join(sysroot, dirs[i], real, sizeof(real)) == 0 &&
		    aio_path_join(sysroot, "/usr/lib/sysctl.d", usr, sizeof(usr)) == 0 &&
		    stat(real, &a) == 0 && stat(usr, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			continue;
		scan_dir(sysroot, dirs[i], &files, &seen);
	}
	have_conf = aio_path_join(sysroot, "/etc/sysctl.conf", conf_real, sizeof(conf_real)) == 0 &&
	            access(conf_real, R_OK) == 0;
	if (have_conf && !has_name(&seen, "99-sysctl.conf"))
		add_file(&files, "99-sysctl.conf", "/etc/sysctl.conf", true);
	qsort(files.v, files.n, sizeof(*files.v), by_name);

	for (size_t i = 0; i < files.n; i++) {
		parse_file(sysroot, &files.v[i], ret->settings, &ret->n_settings, AIO_SETTINGS_MAX);
		if (!files.v[i].pseudo)
			parse_file(sysroot, &files.v[i], procps, &n_procps, AIO_SETTINGS_MAX);
	}
	if (have_conf) {
		struct conf_file etc = { "sysctl.conf", "/etc/sysctl.conf", false };

		parse_file(sysroot, &etc, procps, &n_procps, AIO_SETTINGS_MAX);
	}
	if (ret->n_settings) {
		const struct agent_persist_setting *last = &ret->settings[ret->n_settings - 1];

		ret->has_value = true;
		ret->value = last->value;
		snprintf(ret->file, sizeof(ret->file), "%s", last->file);
	}
	if (n_procps) {
		ret->procps_has_value = true;
		ret->procps_value = procps[n_procps - 1].value;
		snprintf(ret->procps_file, sizeof(ret->procps_file), "%s",
		         procps[n_procps - 1].file);
	}

out_free:
	free(files.v);
	free(seen.v);
	return r;
}

bool agent_persist_differs(const struct agent_persist *p)
{
	return p->procps_has_value != p->has_value || (p->has_value && p->procps_value != p->value);
}
