#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"

#define OUTPUT_MAX (16 << 20)

uint64_t h_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int h_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* AIO_TEST_PG: the directory of tests/pg/pg-cluster.sh's cluster, whose
 * url file holds its URL. */
static const char *pg_base(void)
{
	static char url[200];
	char path[300];
	FILE *f;

	if (url[0])
		return url;
	snprintf(path, sizeof(path), "%s/url", getenv("AIO_TEST_PG"));
	cr_assert((f = fopen(path, "r")), "%s: %s (is the pg_cluster fixture up?)", path,
	          strerror(errno));
	cr_assert(fgets(url, sizeof(url), f));
	fclose(f);
	url[strcspn(url, "\n")] = '\0';
	return url;
}

/* SQL on the test cluster's maintenance database. */
static void pg_admin(const char *sql)
{
	char url[300];
	PGconn *c;
	PGresult *res;

	snprintf(url, sizeof(url), "%s/postgres", pg_base());
	c = PQconnectdb(url);
	cr_assert(PQstatus(c) == CONNECTION_OK, "PostgreSQL at %s: %s", url, PQerrorMessage(c));
	res = PQexec(c, sql);
	cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

static void pg_database_make(struct h_env *e)
{
	char sql[128], name[64];

	snprintf(name, sizeof(name), "aio_%s", strrchr(e->dir, '-') + 1);
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
	pg_admin(sql);
	snprintf(e->db_url, sizeof(e->db_url), "%s/%s", pg_base(), name);
}

void h_env_init(struct h_env *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/aioctl-test-XXXXXX");
	cr_assert(mkdtemp(e->dir), "mkdtemp: %s", strerror(errno));
	snprintf(e->agent_url, sizeof(e->agent_url), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(e->admin_url, sizeof(e->admin_url), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(e->http_url, sizeof(e->http_url), "http://127.0.0.1:%d", h_free_port());
	snprintf(e->state_dir, sizeof(e->state_dir), "%s/server", e->dir);
	snprintf(e->token_file, sizeof(e->token_file), "%s/admin.token", e->state_dir);
	if (getenv("AIO_TEST_PG"))
		pg_database_make(e);
}

void h_env_fini(struct h_env *e)
{
	char cmd[512];

	for (size_t i = 0; i < e->n_procs; i++)
		if (e->procs[i] > 0)
			kill(e->procs[i], SIGKILL);
	for (size_t i = 0; i < e->n_procs; i++)
		if (e->procs[i] > 0)
			waitpid(e->procs[i], NULL, 0);
	e->n_procs = 0;
	if (e->db_url[0] && !getenv("AIO_TEST_KEEP")) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP DATABASE \"%s\" WITH (FORCE)",
		         strrchr(e->db_url, '/') + 1);
		pg_admin(sql);
		e->db_url[0] = '\0';
	}
	if (e->dir[0] && !getenv("AIO_TEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", e->dir);
	}
}

pid_t h_spawn(struct h_env *e, const char *log, const char *const *argv)
{
	char path[512];
	pid_t pid;
	int fd;

	cr_assert(e->n_procs < H_PROCS_MAX);
	snprintf(path, sizeof(path), "%s/%s.log", e->dir, log);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cr_assert(fd >= 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* die with the test, whatever happens to it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd);
	e->procs[e->n_procs++] = pid;
	return pid;
}

bool h_alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

int h_stop(struct h_env *e, pid_t pid)
{
	int status = 0;

	pid_t r;

	kill(pid, SIGTERM);
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r != pid)
		return -1;
	if (WIFSIGNALED(status))
		fprintf(stderr, "h_stop: process %d ended by signal %d\n", (int)pid,
		        WTERMSIG(status));
	for (size_t i = 0; i < e->n_procs; i++)
		if (e->procs[i] == pid)
			e->procs[i] = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool server_answers(struct h_env *e, void *arg)
{
	const char *args[] = { "fleet", "status", NULL };

	return access(e->token_file, R_OK) == 0 && h_aioctl(e, NULL, NULL, args) == 0;
}

static bool server_answers_or_exited(struct h_env *e, void *arg)
{
	return !h_alive(e->server) || server_answers(e, arg);
}

/* Ports were free when picked, but another suite running in parallel may
 * bind one first: a server that exits at start gets fresh ports, twice. */
/* aio-server's flags for e: the listeners, --db, the extras. */
static void server_argv(struct h_env *e, const char **argv)
{
	const char *base[] = {
		H_BIN("aio-server"), "--http-listen",  e->http_url,  "--listen",
		e->agent_url,        "--admin-listen", e->admin_url, "--state-dir",
		e->state_dir,        "--log-level",    "debug",
	};
	size_t n = sizeof(base) / sizeof(base[0]);

	memcpy(argv, base, sizeof(base));
	if (e->db_url[0]) {
		argv[n++] = "--db";
		argv[n++] = e->db_url;
	}
	for (size_t i = 0; i < H_SERVER_EXTRA_MAX && e->server_extra[i]; i++)
		argv[n++] = e->server_extra[i];
	argv[n] = NULL;
}

pid_t h_server_spawn(struct h_env *e, const char *log)
{
	const char *argv[14 + H_SERVER_EXTRA_MAX];

	server_argv(e, argv);
	return h_spawn(e, log, argv);
}

void h_server_start(struct h_env *e)
{
	static char log[16 << 10];
	char path[400];
	FILE *f;

	for (int attempt = 0; attempt < 3; attempt++) {
		e->server = h_server_spawn(e, "server");
		cr_assert(h_wait(server_answers_or_exited, e, NULL, 10000),
		          "aio-server neither answered nor exited in 10 s");
		if (h_alive(e->server))
			return;
		snprintf(e->agent_url, sizeof(e->agent_url), "tcp://127.0.0.1:%d", h_free_port());
		snprintf(e->admin_url, sizeof(e->admin_url), "tcp://127.0.0.1:%d", h_free_port());
		snprintf(e->http_url, sizeof(e->http_url), "http://127.0.0.1:%d", h_free_port());
	}
	snprintf(path, sizeof(path), "%s/server.log", e->dir);
	if ((f = fopen(path, "r"))) {
		log[fread(log, 1, sizeof(log) - 1, f)] = '\0';
		fclose(f);
	}
	cr_assert_fail("aio-server did not start: %s", log);
}

void h_sysroot_make(struct h_env *e, const char *name, uint64_t nr, uint64_t max, char *ret_path,
                    size_t len)
{
	char cmd[1024];

	snprintf(ret_path, len, "%s/%s", e->dir, name);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/proc/sys/fs'", ret_path);
	cr_assert(system(cmd) == 0);
	h_sysroot_set(ret_path, nr, max);
}

static void write_value(const char *path, uint64_t v)
{
	/* in place, as the kernel's files change: no rename */
	FILE *f = fopen(path, "w");

	cr_assert(f, "%s: %s", path, strerror(errno));
	fprintf(f, "%llu\n", (unsigned long long)v);
	fclose(f);
}

uint64_t h_sysroot_max(const char *sysroot)
{
	char path[700];
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-max-nr", sysroot);
	cr_assert_eq(aio_file_read_u64(path, &v), 0, "%s: cannot read", path);
	return v;
}

void h_sysroot_set(const char *sysroot, uint64_t nr, uint64_t max)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-nr", sysroot);
	write_value(path, nr);
	snprintf(path, sizeof(path), "%s/proc/sys/fs/aio-max-nr", sysroot);
	write_value(path, max);
}

pid_t h_agent_start(struct h_env *e, const char *host, const char *sysroot, const char *interval,
                    const char *const *extra)
{
	const char *argv[48];
	char state[512], log[300], token_path[512];
	size_t n = 0;

	snprintf(state, sizeof(state), "%s/agent-%s", e->dir, host);
	snprintf(log, sizeof(log), "agent-%s", host);
	argv[n++] = H_BIN("aio-agent");
	argv[n++] = "--server";
	argv[n++] = e->agent_url;
	argv[n++] = "--host-id";
	argv[n++] = host;
	argv[n++] = "--sysroot";
	argv[n++] = sysroot;
	argv[n++] = "--interval";
	argv[n++] = interval;
	argv[n++] = "--state-dir";
	argv[n++] = state;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	if (e->server > 0) {
		/* a real server: enroll with a one-time token made for this host */
		const char *args[] = { "enroll", "create", "--host", host, NULL };
		char *token = NULL;
		FILE *f;

		snprintf(token_path, sizeof(token_path), "%s/enroll-%s", e->dir, host);
		cr_assert_eq(h_aioctl(e, &token, NULL, args), 0, "aioctl enroll create failed");
		cr_assert((f = fopen(token_path, "w")));
		fputs(token, f);
		fclose(f);
		free(token);
		argv[n++] = "--enroll-token-file";
		argv[n++] = token_path;
	}
	for (size_t i = 0; extra && extra[i] && n < 46; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return h_spawn(e, log, argv);
}

static char *slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	cr_assert(buf);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			cr_assert(cap < OUTPUT_MAX, "output too large");
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	buf[len] = '\0';
	return buf;
}

int h_aioctl(struct h_env *e, char **ret_out, char **ret_err, const char *const *args)
{
	const char *argv[64];
	char errpath[400];
	int out[2], status = 0, errfd;
	size_t n = 0;
	char *text;
	pid_t pid;

	argv[n++] = H_BIN("aioctl");
	argv[n++] = "--server";
	argv[n++] = e->admin_url;
	argv[n++] = "--token-file";
	argv[n++] = e->token_file;
	for (size_t i = 0; i < 12 && e->aioctl_extra[i]; i++)
		argv[n++] = e->aioctl_extra[i];
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	snprintf(errpath, sizeof(errpath), "%s/aioctl.%d.err", e->dir, getpid());
	cr_assert(pipe2(out, O_CLOEXEC) == 0);
	errfd = open(errpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(errfd >= 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	text = slurp(out[0]);
	close(out[0]);
	waitpid(pid, &status, 0);
	if (ret_out)
		*ret_out = text;
	else
		free(text);
	if (ret_err) {
		lseek(errfd, 0, SEEK_SET);
		*ret_err = slurp(errfd);
	}
	close(errfd);
	unlink(errpath);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

json_t *h_aioctl_json(struct h_env *e, const char *const *args)
{
	const char *argv[32];
	json_error_t jerr;
	size_t n = 0;
	json_t *j;
	char *out;

	for (; args[n] && n < 29; n++)
		argv[n] = args[n];
	argv[n++] = "--output";
	argv[n++] = "json";
	argv[n] = NULL;
	if (h_aioctl(e, &out, NULL, argv) != 0) {
		free(out);
		return NULL;
	}
	j = json_loads(out, 0, &jerr);
	cr_assert(j, "aioctl %s --output json is not JSON: %s\n%s", args[0], jerr.text, out);
	free(out);
	return j;
}

json_t *h_fleet(struct h_env *e)
{
	const char *args[] = { "fleet", "status", NULL };

	return h_aioctl_json(e, args);
}

const char *h_fixture(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/../shared/fixtures/%s", AIO_SOURCE_DIR, name);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, len, "%s/tests/fixtures/%s", AIO_SOURCE_DIR, name);
	cr_assert(access(buf, R_OK) == 0, "fixture %s missing", buf);
	return buf;
}

void h_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	cr_assert(r == 0, "command failed (%d): %s", r, cmd);
}

json_t *h_json_find(json_t *array, const char *key, const char *value)
{
	size_t i;
	json_t *o;

	json_array_foreach(array, i, o)
	{
		const char *v = json_string_value(json_object_get(o, key));

		if (v && strcmp(v, value) == 0)
			return o;
	}
	return NULL;
}

json_t *h_fleet_host(json_t *fleet, const char *name)
{
	return h_json_find(json_object_get(fleet, "hosts"), "host", name);
}

json_t *h_errors(struct h_env *e, const char *host)
{
	const char *args[] = { "errors", "--since", "36500d", "--host",
		               host,     "--limit", "1000",   NULL };

	return h_aioctl_json(e, args);
}

size_t h_n_errors(struct h_env *e, const char *host)
{
	json_t *j = h_errors(e, host);
	size_t n = j ? json_array_size(json_object_get(j, "events")) : 0;

	json_decref(j);
	return n;
}

bool h_wait(bool (*cond)(struct h_env *e, void *arg), struct h_env *e, void *arg, int timeout_ms)
{
	uint64_t deadline = h_mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (cond(e, arg))
			return true;
		if (h_mono_ms() >= deadline)
			return false;
		nanosleep(&ts, NULL);
	}
}

pid_t h_aio_hold(const char *const *argv, int *ret_release)
{
	int to_child[2], from_child[2];
	char line[16] = "";
	FILE *in;
	pid_t pid;

	cr_assert_eq(pipe(to_child), 0);
	cr_assert_eq(pipe(from_child), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(to_child[0], STDIN_FILENO);
		dup2(from_child[1], STDOUT_FILENO);
		close(to_child[1]);
		close(from_child[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	in = fdopen(from_child[0], "r");
	cr_assert(fgets(line, sizeof(line), in) && strcmp(line, "ready\n") == 0,
	          "aio-hold could not create its contexts");
	fclose(in);
	*ret_release = to_child[1];
	return pid;
}

void h_db_sql(struct h_env *e, const char *sqlite_sql, const char *pg_sql)
{
	if (e->db_url[0]) {
		PGconn *c = PQconnectdb(e->db_url);
		PGresult *res;

		cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
		PQclear(PQexec(c, "SET client_min_messages = warning"));
		res = PQexec(c, pg_sql);
		cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK ||
		                  PQresultStatus(res) == PGRES_TUPLES_OK,
		          "%s: %s", pg_sql, PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
		return;
	}
	h_sh("sqlite3 '%s/server.db' \"%s\"", e->state_dir, sqlite_sql);
}

long long h_db_value(struct h_env *e, const char *sql)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	if (e->db_url[0]) {
		PGconn *c = PQconnectdb(e->db_url);
		PGresult *res;

		cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
		res = PQexec(c, sql);
		cr_assert(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
		if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
			v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		PQfinish(c);
		return v;
	}

	snprintf(path, sizeof(path), "%s/server.db", e->state_dir);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Plain TCP, so no nng socket of the test's own is left mid-send when the
 * server drops the connection: the SP handshake of a REQ peer, then a
 * frame header announcing len bytes and some of them. */
bool h_sp_oversize(const char *url, uint64_t len, int timeout_ms)
{
	cr_assert(len > 0);
	static const unsigned char hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	unsigned char frame[8 + 4096] = { 0 }, buf[64];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned port;
	uint64_t deadline = h_mono_ms() + (uint64_t)timeout_ms;
	ssize_t n;
	int fd;

	cr_assert_eq(sscanf(url, "tcp://127.0.0.1:%u", &port), 1, "%s: not a loopback URL", url);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %m");
	cr_assert_eq(write(fd, hello, sizeof(hello)), (ssize_t)sizeof(hello));
	for (int i = 0; i < 8; i++)
		frame[i] = (unsigned char)(len >> (56 - 8 * i));
	/* less than announced, so a server within its bound waits for more;
	 * one past it may close before all of this is sent */
	(void)send(fd, frame, 8 + (len - 1 < 4096 ? len - 1 : 4096), MSG_NOSIGNAL);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = h_mono_ms();

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			break;
		n = read(fd, buf, sizeof(buf)); /* its handshake, then EOF */
		if (n <= 0) {
			close(fd);
			return true;
		}
	}
	close(fd);
	return false;
}

pid_t h_sim_start(struct h_env *e, const char *log, const char *const *extra)
{
	const char *argv[40] = { AIO_TEST_BIN_DIR "/aio-sim",
		                 "--server",
		                 e->agent_url,
		                 "--admin",
		                 e->admin_url,
		                 "--token-file",
		                 e->token_file };
	size_t n = 7;

	for (size_t i = 0; extra && extra[i]; i++) {
		cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 1, "too many aio-sim flags");
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	return h_spawn(e, log, argv);
}

void h_sim_run(struct h_env *e, const char *log, const char *const *extra)
{
	pid_t pid = h_sim_start(e, log, extra);
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "aio-sim (%s.log) failed", log);
}

int h_count_in_log(struct h_env *e, const char *log, const char *needle)
{
	char path[700], *text = NULL, *p;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s.log", e->dir, log);
	if (aio_file_read_all(path, 16 << 20, &text, NULL) < 0)
		return -1;
	for (p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

json_t *h_sim_figures(struct h_env *e, const char *log)
{
	char path[700], *text = NULL;
	json_t *sim;

	snprintf(path, sizeof(path), "%s/%s.log", e->dir, log);
	cr_assert_eq(aio_file_read_all(path, 1 << 20, &text, NULL), 0, "%s: cannot read", path);
	sim = strchr(text, '{') ? json_loads(strchr(text, '{'), JSON_DISABLE_EOF_CHECK, NULL)
	                        : NULL;
	cr_assert_not_null(sim, "aio-sim printed no figures: %s", text);
	free(text);
	return sim;
}

bool h_db_zero(struct h_env *e, void *sql)
{
	return h_db_value(e, sql) == 0;
}

const char *h_log_tail(struct h_env *e, const char *log, size_t max)
{
	static char buf[8192];
	char path[700];
	long size;
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s.log", e->dir, log);
	if (!(f = fopen(path, "r")))
		return "(no log)";
	if (max >= sizeof(buf))
		max = sizeof(buf) - 1;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)max ? size - (long)max : 0, SEEK_SET);
	buf[fread(buf, 1, max, f)] = '\0';
	fclose(f);
	return buf;
}

char *h_http_get(struct h_env *e, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[256], *buf = malloc(1 << 20), *body;
	size_t len = 0;
	ssize_t n;
	int fd, port = atoi(strrchr(e->http_url, ':') + 1);

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0 && buf);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	cr_assert(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	while ((n = read(fd, buf + len, (1 << 20) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	cr_assert(strstr(buf, " 200 "), "not a 200: %.200s", buf);
	cr_assert((body = strstr(buf, "\r\n\r\n")));
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}
