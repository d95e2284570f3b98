/* What fs.aio-max-nr will be after a reboot: scans the sysctl.d
 * directories and /etc/sysctl.conf under the sysroot with systemd-sysctl's
 * rules, and says where procps `sysctl --system` would end up elsewhere.
 *
 * systemd-sysctl: *.conf files from /etc, /run, /usr/local/lib, /usr/lib
 * (and /lib) sysctl.d; a name in an earlier directory hides the same name
 * in later ones; a link to /dev/null masks; all files are applied sorted by
 * name and the last setting of a key wins. /etc/sysctl.conf enters as
 * 99-sysctl.conf (Debian links /etc/sysctl.d/99-sysctl.conf to it).
 * procps applies the same files, then /etc/sysctl.conf last. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

struct agent_persist_setting {
	char file[AIO_PATH_MAX + 1]; /* as seen on the host, without the sysroot */
	unsigned line;
	uint64_t value;
};

struct agent_persist {
	bool has_value; /* false: nothing sets it; the kernel default stays */
	uint64_t value;
	char file[AIO_PATH_MAX + 1];
	/* every setting, in the order systemd-sysctl applies them */
	struct agent_persist_setting settings[AIO_SETTINGS_MAX];
	size_t n_settings;
	bool procps_has_value;
	uint64_t procps_value;
	char procps_file[AIO_PATH_MAX + 1];
	uint64_t scanned_ms; /* Unix ms */
};

int agent_persist_scan(const char *sysroot, struct agent_persist *ret);
/* Appends the fs.aio-max-nr settings in one file's text to settings[*n],
 * at most max in all. */
void agent_persist_parse(const char *text, const char *file, struct agent_persist_setting *settings,
                         size_t *n, size_t max);
/* True when procps `sysctl --system` would end with another value. */
bool agent_persist_differs(const struct agent_persist *p);
