/* Integration test harness: runs the real aio-server, aio-agent and aioctl
 * binaries on loopback in a scratch directory, and waits for conditions
 * with deadlines instead of sleeping. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define H_PROCS_MAX        64
#define H_SERVER_EXTRA_MAX 16

struct h_env {
	char dir[256];
	char agent_url[64];
	char admin_url[64];
	char http_url[64];
	char token_file[400];
	char state_dir[320];
	/* AIO_TEST_PG set (a PostgreSQL URL, tests/pg/pg-cluster.sh): the
	 * database of this test's own, which h_server_start passes as --db */
	char db_url[320];
	pid_t server;
	const char *aioctl_extra[12]; /* flags every aioctl call gets (TLS) */
	/* more aio-server flags for h_server_start, NULL-terminated */
	const char *server_extra[H_SERVER_EXTRA_MAX];
	pid_t procs[H_PROCS_MAX];
	size_t n_procs;
};

/* A loopback port free now. */
int h_free_port(void);
/* Makes a scratch dir and picks free loopback ports; with AIO_TEST_PG
 * set, a fresh PostgreSQL database for the test (dropped by h_env_fini). */
void h_env_init(struct h_env *e);
/* Kills every process started and removes the scratch dir. */
void h_env_fini(struct h_env *e);

/* Starts a program (argv[0] a path) with stdout/stderr in DIR/log.log. */
pid_t h_spawn(struct h_env *e, const char *log, const char *const *argv);
/* SIGTERM, then waits; returns the exit status (or -1). */
int h_stop(struct h_env *e, pid_t pid);
bool h_alive(pid_t pid);

/* Starts aio-server on the env's ports and waits until it answers. */
void h_server_start(struct h_env *e);
/* Starts aio-server as h_server_start does (its flags, --db, the extras)
 * without waiting: a restart. */
pid_t h_server_spawn(struct h_env *e, const char *log);
/* A sysroot under DIR/name with the two counters; *ret_path gets its path. */
void h_sysroot_make(struct h_env *e, const char *name, uint64_t nr, uint64_t max, char *ret_path,
                    size_t len);
void h_sysroot_set(const char *sysroot, uint64_t nr, uint64_t max);
/* The live fs.aio-max-nr a sysroot holds (asserts it can be read). */
uint64_t h_sysroot_max(const char *sysroot);
/* Starts aio-agent; extra is a NULL-terminated list of more flags or NULL. */
pid_t h_agent_start(struct h_env *e, const char *host, const char *sysroot, const char *interval,
                    const char *const *extra);

/* Starts aio-sim against the env's server (its agent and admin URLs and
 * token) with more flags in extra (NULL-terminated); output in DIR/log.log. */
pid_t h_sim_start(struct h_env *e, const char *log, const char *const *extra);
/* The same, and waits: fails the test unless aio-sim exits 0. */
void h_sim_run(struct h_env *e, const char *log, const char *const *extra);
/* The figures aio-sim printed at its end into log (asserts there are). */
json_t *h_sim_figures(struct h_env *e, const char *log);

/* Runs aioctl with --server and --token-file; returns its exit code and, if
 * asked, its stdout and stderr (caller frees). */
int h_aioctl(struct h_env *e, char **ret_out, char **ret_err, const char *const *args);
/* `aioctl fleet status --output json`, parsed; NULL on failure. */
json_t *h_fleet(struct h_env *e);
/* The host object named name in a fleet document, or NULL. */
json_t *h_fleet_host(json_t *fleet, const char *name);
/* The first object of array whose string member key equals value, or NULL. */
json_t *h_json_find(json_t *array, const char *key, const char *value);
/* `aioctl errors --host HOST` over all time, parsed (NULL on failure), and
 * how many events it lists. */
json_t *h_errors(struct h_env *e, const char *host);
size_t h_n_errors(struct h_env *e, const char *host);

/* Path of a fixture: ../shared/fixtures/NAME beside the checkout if there,
 * else the project's own copy in tests/fixtures. */
const char *h_fixture(const char *name, char *buf, size_t len);
/* Runs a shell command (sh -c); fails the test if it fails. */
void h_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs aioctl ARGS --output json and parses it; NULL if aioctl failed. */
json_t *h_aioctl_json(struct h_env *e, const char *const *args);
/* Starts aio-hold (argv[0] its path) and waits for its "ready": it holds
 * its AIO contexts until *ret_release is closed. */
pid_t h_aio_hold(const char *const *argv, int *ret_release);
/* One number from the server's database (read-only). */
long long h_db_value(struct h_env *e, const char *sql);
/* Runs SQL on the server's database behind its back (to damage it): the
 * SQLite text on server.db (through sqlite3, in double quotes), or the
 * PostgreSQL text on the test's database. */
void h_db_sql(struct h_env *e, const char *sqlite_sql, const char *pg_sql);
/* GET path from the server's http-listen (/metrics); the body, malloc'd;
 * asserts a 200. */
char *h_http_get(struct h_env *e, const char *path);
/* The last max bytes of a process's log (h_spawn's name: "server",
 * "agent-HOST"), for a failure message. */
const char *h_log_tail(struct h_env *e, const char *log, size_t max);
/* How often needle is in DIR/log.log (all of it, up to 16 MiB); -1 if it
 * cannot be read. */
int h_count_in_log(struct h_env *e, const char *log, const char *needle);
/* For h_wait: true when the query (arg, a string) gives 0. */
bool h_db_zero(struct h_env *e, void *sql);
/* Speaks SP over plain TCP to url (tcp://127.0.0.1:PORT) and announces a
 * message of len bytes: true if the server closed the connection within
 * timeout_ms, as it must past its size bound. */
bool h_sp_oversize(const char *url, uint64_t len, int timeout_ms);
/* Polls cond every 50ms until it is true or timeout_ms passed. */
bool h_wait(bool (*cond)(struct h_env *e, void *arg), struct h_env *e, void *arg, int timeout_ms);
uint64_t h_mono_ms(void);
/* Path of a built program: bin/NAME in the build tree. */
#define H_BIN(name) AIO_BIN_DIR "/" name
