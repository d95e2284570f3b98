/* Nobody unauthenticated near the kernel: mutual TLS, enrollment, host
 * secrets, roles, and a table of bad input against the real server. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "harness.h"
#include "rpc_client.h"

static struct h_env env;

static void setup(void)
{
	h_env_init(&env);
}

static void teardown(void)
{
	h_env_fini(&env);
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------ helpers */

static struct aio_rpc_client *agent_client(const char *host, const char *secret)
{
	struct aio_rpc_client_opts o = {
		.url = env.agent_url, .host_id = host, .host_secret = secret, .wait_connect = true
	};
	struct aio_rpc_client *c;
	char err[256];

	cr_assert_eq(aio_rpc_client_open(&o, &c, err, sizeof(err)), 0, "%s", err);
	return c;
}

/* A token for host, or for any host when host is NULL. */
static char *enroll_token(const char *host, const char *expires)
{
	const char *with_host[] = {
		"enroll", "create", "--host", host, "--expires", expires, NULL
	};
	const char *any[] = { "enroll", "create", "--expires", expires, NULL };
	char *out = NULL;

	cr_assert_eq(h_aioctl(&env, &out, NULL, host ? with_host : any), 0);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* Enrolls host over the real RPC; the status, and the secret on OK. */
static int enroll(const char *host, const char *token, char *secret, size_t len)
{
	Aioctl__V1__EnrollRequest in = AIOCTL__V1__ENROLL_REQUEST__INIT;
	Aioctl__V1__EnrollReply *out = NULL;
	struct aio_rpc_client *c = agent_client(host, NULL);
	struct aio_rpc_status st;
	int code;

	in.host_id = (char *)host;
	in.token = (char *)token;
	code = aio_rpc_invoke(c, &aioctl__v1__agent__descriptor, "Enroll", &in.base, 5000, false,
	                      (ProtobufCMessage **)&out, &st);
	if (code == AIO_OK) {
		snprintf(secret, len, "%s", out->host_secret);
		protobuf_c_message_free_unpacked(&out->base, NULL);
	}
	aio_rpc_client_free(c);
	return code;
}

static int report(struct aio_rpc_client *c, Aioctl__V1__ReportRequest *in)
{
	ProtobufCMessage *out = NULL;
	struct aio_rpc_status st;
	int code = aio_rpc_invoke(c, &aioctl__v1__agent__descriptor, "Report", &in->base, 5000,
	                          false, &out, &st);

	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

static int hello(struct aio_rpc_client *c, const char *host)
{
	Aioctl__V1__HelloRequest in = AIOCTL__V1__HELLO_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	struct aio_rpc_status st;
	int code;

	in.host_id = (char *)host;
	code = aio_rpc_invoke(c, &aioctl__v1__agent__descriptor, "Hello", &in.base, 5000, false,
	                      &out, &st);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return code;
}

static uint64_t seq = 1;

static int good_report(struct aio_rpc_client *c)
{
	Aioctl__V1__ReportRequest in = AIOCTL__V1__REPORT_REQUEST__INIT;
	Aioctl__V1__Sample s = AIOCTL__V1__SAMPLE__INIT;

	s.time_ms = aio_now_ms();
	s.aio_max_nr = 65536;
	in.seq = seq++;
	in.sample = &s;
	return report(c, &in);
}

static bool audit_has(const char *action, const char *result_part)
{
	const char *args[] = { "audit", "--limit", "1000", NULL };
	json_t *j = h_aioctl_json(&env, args), *e;
	bool found = false;
	size_t i;

	json_array_foreach(json_object_get(j, "entries"), i, e)
	{
		const char *a = json_string_value(json_object_get(e, "action"));
		const char *r = json_string_value(json_object_get(e, "result"));

		found |= a && !strcmp(a, action) && (!result_part || (r && strstr(r, result_part)));
	}
	json_decref(j);
	return found;
}

/* ---------------------------------------------------------- enrollment */

Test(security, enrollment_tokens_and_host_secrets)
{
	char s1[128], s2[128], tmp[128];
	char *t1, *t2, *expired, *other;
	struct aio_rpc_client *c;

	h_server_start(&env);
	t1 = enroll_token("hv1", "1h");
	cr_assert_eq(enroll("hv1", t1, s1, sizeof(s1)), AIO_OK, "a one-time token works once");
	cr_expect_eq(enroll("hv1", t1, tmp, sizeof(tmp)), AIO_PERMISSION_DENIED, "not twice");
	cr_expect_eq(enroll("hv1", "0123456789abcdef0123456789abcdef", tmp, sizeof(tmp)),
	             AIO_UNAUTHENTICATED, "an unknown token");
	expired = enroll_token("hv1", "1ms");
	usleep(20 * 1000);
	cr_expect_eq(enroll("hv1", expired, tmp, sizeof(tmp)), AIO_PERMISSION_DENIED, "expired");
	other = enroll_token("hv9", "1h");
	cr_expect_eq(enroll("hv1", other, tmp, sizeof(tmp)), AIO_PERMISSION_DENIED,
	             "a token made for another host");
	t2 = enroll_token("hv2", "1h");
	cr_assert_eq(enroll("hv2", t2, s2, sizeof(s2)), AIO_OK);

	/* the right secret works; none, a wrong one, or another host's do not */
	c = agent_client("hv1", s1);
	cr_expect_eq(hello(c, "hv1"), AIO_OK);
	cr_expect_eq(good_report(c), AIO_OK);
	aio_rpc_client_free(c);
	c = agent_client("hv1", NULL);
	cr_expect_eq(good_report(c), AIO_UNAUTHENTICATED);
	aio_rpc_client_free(c);
	c = agent_client("hv1", "not-the-secret");
	cr_expect_eq(good_report(c), AIO_UNAUTHENTICATED);
	aio_rpc_client_free(c);
	c = agent_client("hv1", s2); /* hv2 speaking for hv1 */
	cr_expect_eq(good_report(c), AIO_PERMISSION_DENIED);
	cr_expect_eq(hello(c, "hv1"), AIO_PERMISSION_DENIED);
	aio_rpc_client_free(c);
	cr_expect(audit_has("impersonation", "refused"), "impersonation is audited");
	c = agent_client("hv7", s1); /* never enrolled */
	cr_expect_eq(good_report(c), AIO_UNAUTHENTICATED);
	aio_rpc_client_free(c);

	/* a revoked host is refused from then on */
	{
		const char *args[] = { "host", "revoke", "hv1", NULL };

		cr_assert_eq(h_aioctl(&env, NULL, NULL, args), 0);
	}
	c = agent_client("hv1", s1);
	cr_expect_eq(good_report(c), AIO_PERMISSION_DENIED);
	aio_rpc_client_free(c);
	cr_expect(audit_has("host.revoke", "revoked"));
	cr_expect(audit_has("host.enroll", "already used"));
	free(t1);
	free(t2);
	free(expired);
	free(other);
}

/* A token made without --host once enrolled a host that had an identity
 * again: the real agent was locked out and its name taken. */
Test(security, a_token_for_any_host_takes_no_known_host)
{
	char s1[128], s1b[128], s3[128], tmp[128];
	const char *revoke[] = { "host", "revoke", "hv3", NULL };
	char *scoped, *any, *again;
	struct aio_rpc_client *c;

	h_server_start(&env);
	scoped = enroll_token("hv1", "1h");
	any = enroll_token(NULL, "1h");
	cr_assert_eq(enroll("hv1", scoped, s1, sizeof(s1)), AIO_OK);
	cr_expect_eq(enroll("hv1", any, tmp, sizeof(tmp)), AIO_PERMISSION_DENIED,
	             "an enrolled host is not enrolled again by a token for any host");
	c = agent_client("hv1", s1);
	cr_expect_eq(hello(c, "hv1"), AIO_OK, "the real agent keeps its identity");
	aio_rpc_client_free(c);
	cr_expect_eq(enroll("hv3", any, s3, sizeof(s3)), AIO_OK,
	             "the refusal did not use the token up: a new host takes it");
	cr_assert_eq(h_aioctl(&env, NULL, NULL, revoke), 0);
	free(any);
	any = enroll_token(NULL, "1h");
	cr_expect_eq(enroll("hv3", any, tmp, sizeof(tmp)), AIO_PERMISSION_DENIED,
	             "nor a revoked one");

	/* a replacement an admin asks for, by name: the old secret stops */
	again = enroll_token("hv1", "1h");
	cr_assert_eq(enroll("hv1", again, s1b, sizeof(s1b)), AIO_OK);
	c = agent_client("hv1", s1);
	cr_expect_eq(good_report(c), AIO_UNAUTHENTICATED, "the replaced secret no longer works");
	aio_rpc_client_free(c);
	cr_expect(audit_has("host.enroll", "re-enrolled: secret"), "old and new are audited");
	cr_expect(audit_has("host.enroll", "enrolled already"), "the refusal is audited");
	free(scoped);
	free(any);
	free(again);
}

/* --------------------------------------------------------------- roles */

static int as(const char *token, const char *const *args, char **ret_err)
{
	char path[400], saved[400];
	FILE *f;
	int code;

	snprintf(path, sizeof(path), "%s/role.token", env.dir);
	cr_assert((f = fopen(path, "w")));
	fprintf(f, "%s\n", token);
	fclose(f);
	snprintf(saved, sizeof(saved), "%s", env.token_file);
	snprintf(env.token_file, sizeof(env.token_file), "%s", path);
	code = h_aioctl(&env, NULL, ret_err, args);
	snprintf(env.token_file, sizeof(env.token_file), "%s", saved);
	return code;
}

static bool server_answers_again(struct h_env *e, void *arg)
{
	const char *args[] = { "fleet", "status", NULL };

	(void)arg;
	return h_aioctl(e, NULL, NULL, args) == 0;
}

static char *make_token(const char *name, const char *role)
{
	const char *args[] = { "token", "create", "--name", name, "--role", role, NULL };
	char *out = NULL;

	cr_assert_eq(h_aioctl(&env, &out, NULL, args), 0);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

Test(security, roles)
{
	const char *status[] = { "fleet", "status", NULL };
	const char *set[] = { "fleet", "set", "--max", "2097152", "--dry-run", NULL };
	const char *mint[] = { "token", "create", "--name", "x", "--role", "admin", NULL };
	const char *revoke[] = { "token", "revoke", "alice", NULL };
	char *viewer, *oper, *err = NULL;

	h_server_start(&env);
	viewer = make_token("alice", "viewer");
	oper = make_token("bob", "operator");
	cr_expect_eq(as(viewer, status, NULL), 0, "a viewer reads");
	cr_expect_eq(as(viewer, set, &err), 4, "a viewer may not start rollouts");
	cr_expect(strstr(err, "viewer alice may not start rollouts: needs operator"), "%s", err);
	free(err);
	cr_expect_eq(as(oper, set, NULL), 0, "an operator may");
	cr_expect_eq(as(oper, mint, NULL), 4, "an operator may not make tokens");
	cr_expect(audit_has("denied", "viewer"), "refusals are audited");
	{
		const char *args[] = { "token",  "create", "--name", "alice",
			               "--role", "viewer", NULL };

		cr_expect_eq(h_aioctl(&env, NULL, NULL, args), 1, "names are not reused");
	}
	cr_assert_eq(h_aioctl(&env, NULL, NULL, revoke), 0);
	cr_expect_eq(as(viewer, status, NULL), 4, "a revoked token is refused");
	cr_expect(audit_has("token.create", "operator"), "the audit names what was made");
	free(viewer);
	free(oper);
}

/* A credential change is confirmed only once stored: with the database
 * refusing every change to tokens (as a full disk would), token create
 * prints no token and token revoke says it was not stored. */
Test(security, credentials_are_confirmed_only_when_stored)
{
	const char *create[] = { "token", "create", "--name", "dave", "--role", "viewer", NULL };
	const char *revoke[] = { "token", "revoke", "erin", NULL };
	const char *enroll[] = { "enroll", "create", "--host", "hv9", NULL };
	char *erin, *out = NULL, *err = NULL;

	h_server_start(&env);
	erin = make_token("erin", "viewer");
	cr_assert_eq(h_stop(&env, env.server), 0);
	h_db_sql(&env,
	         "CREATE TRIGGER full_tokens BEFORE INSERT ON tokens BEGIN"
	         " SELECT RAISE(ABORT, 'database or disk is full'); END;"
	         " CREATE TRIGGER full_revokes BEFORE UPDATE ON tokens BEGIN"
	         " SELECT RAISE(ABORT, 'database or disk is full'); END;"
	         " CREATE TRIGGER full_enrollments BEFORE INSERT ON enrollments BEGIN"
	         " SELECT RAISE(ABORT, 'database or disk is full'); END;",
	         "CREATE FUNCTION full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	         " RAISE EXCEPTION 'could not extend file: No space left on device'"
	         " USING ERRCODE = 'disk_full'; END $$;"
	         " CREATE TRIGGER full_tokens BEFORE INSERT OR UPDATE ON tokens"
	         " FOR EACH ROW EXECUTE FUNCTION full();"
	         " CREATE TRIGGER full_enrollments BEFORE INSERT ON enrollments"
	         " FOR EACH ROW EXECUTE FUNCTION full();");
	env.server = h_server_spawn(&env, "server-full");
	cr_assert(h_wait(server_answers_again, &env, NULL, 10000));

	cr_expect_neq(h_aioctl(&env, &out, &err, create), 0, "not stored: not confirmed");
	cr_expect(!out || !*out, "no token shown: %s", out ? out : "");
	cr_expect(strstr(err, "not stored"), "%s", err);
	free(out);
	free(err);
	err = NULL;
	cr_expect_neq(h_aioctl(&env, NULL, &err, revoke), 0);
	cr_expect(strstr(err, "not stored"), "%s", err);
	free(err);
	err = NULL;
	cr_expect_eq(as(erin, (const char *const[]){ "fleet", "status", NULL }, NULL), 4,
	             "a revocation not stored still refuses the token until a restart");
	out = NULL;
	cr_expect_neq(h_aioctl(&env, &out, &err, enroll), 0);
	cr_expect(!out || !*out, "no enrollment token shown");
	free(out);
	free(err);
	free(erin);
}

/* A flood of denied calls is one audit row per caller, method and 10 s. */
Test(security, repeated_denials_are_written_once)
{
	const char *set[] = { "fleet", "set", "--max", "2097152", "--dry-run", NULL };
	char *viewer;

	h_server_start(&env);
	viewer = make_token("carol", "viewer");
	for (int i = 0; i < 20; i++)
		cr_expect_eq(as(viewer, set, NULL), 4, "each call is still refused");
	cr_assert_eq(h_stop(&env, env.server), 0); /* commits what is queued */
	cr_expect_eq(h_db_value(&env, "SELECT count(*) FROM audit WHERE action = 'denied'"
	                              " AND who LIKE 'carol@%'"),
	             1);
	free(viewer);
}

/* ------------------------------------------------------------------ TLS */

static void make_certs(const char *sub, const char *server_name)
{
	h_sh("DAYS=2 '%s/deploy/make-certs.sh' '%s/%s' %s hv1 >/dev/null", AIO_SOURCE_DIR, env.dir,
	     sub, server_name);
}

/* aioctl over TLS with the client certificate CERTS/who.pem and server
 * name. */
static int tls_aioctl_as(const char *certs, const char *who, const char *server_name,
                         char **ret_err)
{
	char ca[512], cert[512], key[512];
	const char *args[] = {
		"--tls-ca",          ca,          "--tls-cert", cert,     "--tls-key", key,
		"--tls-server-name", server_name, "fleet",      "status", NULL
	};

	snprintf(ca, sizeof(ca), "%s/pki/ca.pem", env.dir);
	snprintf(cert, sizeof(cert), "%s/%s/%s.pem", env.dir, certs, who);
	snprintf(key, sizeof(key), "%s/%s/%s.key", env.dir, certs, who);
	return h_aioctl(&env, NULL, ret_err, args);
}

static int tls_aioctl(const char *certs, const char *server_name, char **ret_err)
{
	return tls_aioctl_as(certs, "admin", server_name, ret_err);
}

static bool tls_up(struct h_env *e, void *arg)
{
	return access(e->token_file, R_OK) == 0 && tls_aioctl("pki", "aio.example", NULL) == 0;
}

/* A TLS client with no certificate of its own, straight over nng. */
static bool answers_without_cert(void)
{
	Aioctl__V1__Request req = AIOCTL__V1__REQUEST__INIT;
	nng_tls_config *cfg;
	nng_dialer d;
	nng_socket s;
	nng_msg *m;
	char ca[512];
	bool answered;
	uint8_t buf[64];
	size_t len;

	snprintf(ca, sizeof(ca), "%s/pki/ca.pem", env.dir);
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1500);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1500);
	cr_assert_eq(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nng_tls_config_ca_file(cfg, ca), 0);
	cr_assert_eq(nng_tls_config_server_name(cfg, "aio.example"), 0);
	cr_assert_eq(nng_dialer_create(&d, s, env.admin_url), 0);
	nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg);
	nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	req.method = "aioctl.v1.Admin/FleetStatus";
	req.request_id = 1;
	len = protobuf_c_message_pack(&req.base, buf);
	cr_assert_eq(nng_msg_alloc(&m, 0), 0);
	nng_msg_append(m, buf, len);
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
		nng_close(s);
		return false;
	}
	answered = nng_recvmsg(s, &m, 0) == 0;
	if (answered)
		nng_msg_free(m);
	nng_close(s);
	return answered;
}

static bool reported_5(struct h_env *e, void *arg)
{
	json_t *fleet = h_fleet(e);
	json_t *h = h_fleet_host(fleet, "hv1");
	bool ok = h && json_integer_value(json_object_get(h, "aio_nr")) == 5;

	json_decref(fleet);
	return ok;
}

Test(security, mutual_tls)
{
	char url_a[64], url_b[64], ca[512], admin_ca[512], cert[512], key[512], hv_cert[512],
	        hv_key[512];
	char *err = NULL;
	int rc;
	const char *argv[] = { H_BIN("aio-server"),
		               "--http-listen",
		               env.http_url,
		               "--listen",
		               url_a,
		               "--admin-listen",
		               url_b,
		               "--state-dir",
		               env.state_dir,
		               "--tls-ca",
		               ca,
		               "--tls-cert",
		               cert,
		               "--tls-key",
		               key,
		               "--admin-tls-ca",
		               admin_ca,
		               NULL };
	const char *agent_tls[] = { "--tls-ca",  ca,     "--tls-cert",        hv_cert,
		                    "--tls-key", hv_key, "--tls-server-name", "aio.example",
		                    NULL };
	char root[300], a_cert[512], a_key[512];

	make_certs("pki", "aio.example");
	make_certs("other", "aio.example"); /* another CA altogether */
	snprintf(url_a, sizeof(url_a), "tls+%.55s", env.agent_url);
	snprintf(url_b, sizeof(url_b), "tls+%.55s", env.admin_url);
	snprintf(env.agent_url, sizeof(env.agent_url), "%s", url_a);
	snprintf(env.admin_url, sizeof(env.admin_url), "%s", url_b);
	snprintf(ca, sizeof(ca), "%s/pki/ca.pem", env.dir);
	snprintf(admin_ca, sizeof(admin_ca), "%s/pki/admin-ca.pem", env.dir);
	snprintf(cert, sizeof(cert), "%s/pki/server.pem", env.dir);
	snprintf(key, sizeof(key), "%s/pki/server.key", env.dir);
	snprintf(hv_cert, sizeof(hv_cert), "%s/pki/hv1.pem", env.dir);
	snprintf(hv_key, sizeof(hv_key), "%s/pki/hv1.key", env.dir);
	env.server = h_spawn(&env, "server", argv);
	cr_assert(h_wait(tls_up, &env, NULL, 10000), "the TLS server did not come up");

	cr_expect_eq(tls_aioctl("pki", "aio.example", NULL), 0, "the right certificates work");
	cr_expect_eq(tls_aioctl("other", "aio.example", &err), 2, "a certificate of another CA");
	free(err);
	rc = tls_aioctl("pki", "other.example", &err);
	cr_expect_eq(rc, 2, "expecting another name: exit %d: %s", rc, err ? err : "");
	cr_expect(err && strstr(err, "TLS"), "%s", err ? err : "");
	free(err);
	cr_expect_not(answers_without_cert(), "a client without a certificate gets nothing");
	/* nng 1.5 cannot bind a certificate to a name: each listener trusts
	 * a CA of its own, so a host's certificate opens no admin session */
	rc = tls_aioctl_as("pki", "hv1", "aio.example", &err);
	cr_expect_eq(rc, 2, "an agent's certificate on the admin listener: exit %d: %s", rc,
	             err ? err : "");
	free(err);

	/* an agent over TLS enrolls and reports; aioctl calls carry the admin
	 * certificate from here on */
	snprintf(a_cert, sizeof(a_cert), "%s/pki/admin.pem", env.dir);
	snprintf(a_key, sizeof(a_key), "%s/pki/admin.key", env.dir);
	env.aioctl_extra[0] = "--tls-ca";
	env.aioctl_extra[1] = ca;
	env.aioctl_extra[2] = "--tls-cert";
	env.aioctl_extra[3] = a_cert;
	env.aioctl_extra[4] = "--tls-key";
	env.aioctl_extra[5] = a_key;
	env.aioctl_extra[6] = "--tls-server-name";
	env.aioctl_extra[7] = "aio.example";
	h_sysroot_make(&env, "hv1", 5, 65536, root, sizeof(root));
	h_agent_start(&env, "hv1", root, "300ms", agent_tls);
	cr_expect(h_wait(reported_5, &env, NULL, 10000), "the TLS agent never reported");
}

/* A TCP connection to url that speaks nng's handshake as a REQ socket,
 * then nothing; -1 if it cannot connect. */
static int silent_peer(const char *url)
{
	static const unsigned char sp_req[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	cr_assert(sscanf(url, "tcp://127.0.0.1:%d", &port) == 1, "%s", url);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, sp_req, sizeof(sp_req)) != sizeof(sp_req)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Whether the server closed fd within ms. */
static bool closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t deadline = h_mono_ms() + (uint64_t)ms;
	char buf[64];

	while (h_mono_ms() < deadline) {
		if (poll(&p, 1, (int)(deadline - h_mono_ms())) <= 0)
			return false;
		if (read(fd, buf, sizeof(buf)) <= 0)
			return true; /* the server's 8-byte handshake comes first */
	}
	return false;
}

/* 20,000 silent connections once took every descriptor, locking out
 * aioctl and reconnecting agents, with nothing logged. */
Test(security, connections_are_capped_and_idle_ones_closed)
{
	enum { PEERS = 12, CAP = 5 };
	int fds[PEERS], refused = 0, idle = 0;
	bool gone[PEERS];

	env.server_extra[0] = "--max-connections";
	env.server_extra[1] = "5";
	env.server_extra[2] = "--idle-timeout";
	env.server_extra[3] = "2s";
	h_server_start(&env);
	for (int i = 0; i < PEERS; i++)
		cr_assert_geq(fds[i] = silent_peer(env.agent_url), 0);
	for (int i = 0; i < PEERS; i++)
		refused += gone[i] = closed_within(fds[i], 100);
	cr_expect_eq(refused, PEERS - CAP, "past the cap a connection is closed at once");
	cr_expect(strstr(h_log_tail(&env, "server", 8000), "the cap (max-connections)"),
	          "the cap is logged");
	{
		const char *args[] = { "fleet", "status", NULL };

		cr_expect_eq(h_aioctl(&env, NULL, NULL, args), 0,
		             "the admin listener has room of its own");
	}
	for (int i = 0; i < PEERS; i++)
		idle += !gone[i] && closed_within(fds[i], 4000);
	cr_expect_eq(idle, CAP, "a connection without a call is closed after idle-timeout");
	for (int i = 0; i < PEERS; i++)
		close(fds[i]);
	fds[0] = silent_peer(env.agent_url);
	cr_expect_not(closed_within(fds[0], 200), "below the cap again, a connection is taken");
	close(fds[0]);
}

Test(security, plain_tcp_off_loopback_refused)
{
	const char *argv[] = { H_BIN("aio-server"), "--http-listen", env.http_url,  "--listen",
		               "tcp://0.0.0.0:0",   "--state-dir",   env.state_dir, NULL };
	pid_t pid = h_spawn(&env, "server", argv);
	int status = 0;

	waitpid(pid, &status, 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	          "a plain TCP listener on every address needs --insecure");
}
