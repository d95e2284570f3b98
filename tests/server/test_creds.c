/* Credentials (server/creds.c): the bootstrap admin token, people's tokens
 * with roles, one-time enrollment tokens, and all of it after a restart. */
#include <criterion/criterion.h>
#include <string.h>

#include "creds.h"
#include "fixture.h"
#include "rpc.h"

#define BOOT "0123456789abcdef0123456789abcdef"

static struct fixture f;
static struct server_creds c;
static int n_stored, n_failed;

/* the database thread's word on each change */
static void stored(void *arg, int err)
{
	(void)arg;
	if (err)
		n_failed++;
	else
		n_stored++;
}

static void load(void)
{
	memset(&c, 0, sizeof(c));
	cr_assert_eq(server_creds_load(&c, f.db, BOOT), 0);
	cr_assert_eq(server_db_start(f.db, 1000, 64, 0), 0);
}

static void restart(void)
{
	server_creds_done(&c);
	fixture_reopen(&f);
	load();
}

static void setup(void)
{
	fixture_open(&f);
	load();
}

static void teardown(void)
{
	server_creds_done(&c);
	fixture_done(&f);
}

TestSuite(creds, .init = setup, .fini = teardown, .timeout = 20);

Test(creds, the_bootstrap_token_is_the_admin)
{
	const struct server_token *t = server_creds_find_token(&c, BOOT);

	cr_assert_not_null(t);
	cr_assert_str_eq(t->name, "admin");
	cr_assert_eq(t->role, ROLE_ADMIN);
	cr_assert_null(server_creds_find_token(&c, "not-a-token-at-all"));
	restart();
	cr_assert_not_null(server_creds_find_token(&c, BOOT), "the same after a restart");
}

Test(creds, tokens_have_roles_and_stay_revoked)
{
	char token[80], msg[256];

	cr_assert_eq(server_creds_token_create(&c, "viewer1", "viewer", "test", token,
	                                       sizeof(token), msg, sizeof(msg), stored, NULL),
	             AIO_OK, "%s", msg);
	cr_assert_eq(server_creds_find_token(&c, token)->role, ROLE_VIEWER);
	cr_assert_eq(server_creds_token_create(&c, "viewer1", "admin", "test", token, sizeof(token),
	                                       msg, sizeof(msg), stored, NULL),
	             AIO_ALREADY_EXISTS);
	cr_assert_eq(server_creds_token_create(&c, "x", "root", "test", token, sizeof(token), msg,
	                                       sizeof(msg), stored, NULL),
	             AIO_INVALID_ARGUMENT, "roles are viewer, operator, admin");
	cr_assert_eq(server_creds_token_create(&c, "ops", "operator", "test", token, sizeof(token),
	                                       msg, sizeof(msg), stored, NULL),
	             AIO_OK);
	cr_assert_eq(server_creds_token_revoke(&c, "ops", "test", msg, sizeof(msg), stored, NULL),
	             AIO_OK);
	cr_assert_null(server_creds_find_token(&c, token), "revoked: no longer accepted");
	cr_assert_eq(server_creds_token_revoke(&c, "ops", "test", msg, sizeof(msg), stored, NULL),
	             AIO_NOT_FOUND);
	restart();
	cr_expect_eq(n_stored, 3, "two tokens and a revocation, each confirmed once stored");
	cr_expect_eq(n_failed, 0);
	cr_assert_null(server_creds_find_token(&c, token), "still revoked after a restart");
	cr_assert_eq(server_creds_role_for("/aioctl.v1.Admin/SetLimit"), ROLE_OPERATOR);
	cr_assert_eq(server_creds_role_for("/aioctl.v1.Admin/FleetStatus"), ROLE_VIEWER);
}

Test(creds, an_enrollment_token_is_used_once_by_its_host)
{
	char token[80], msg[256];
	uint64_t expires;

	cr_assert_eq(server_creds_enroll_create(&c, "hv1", 0, "test", token, sizeof(token),
	                                        &expires, msg, sizeof(msg), stored, NULL),
	             AIO_OK);
	cr_assert_eq(server_creds_enroll_take(&c, token, "hv2", false, msg, sizeof(msg)),
	             AIO_PERMISSION_DENIED);
	cr_assert_str_eq(msg, "enrollment token is for host hv1");
	cr_assert_eq(server_creds_enroll_take(&c, token, "hv1", false, msg, sizeof(msg)), AIO_OK);
	cr_assert_eq(server_creds_enroll_take(&c, token, "hv1", false, msg, sizeof(msg)),
	             AIO_PERMISSION_DENIED);
	cr_assert_str_eq(msg, "enrollment token already used");
	cr_assert_eq(server_creds_enroll_take(&c, "0000", "hv1", false, msg, sizeof(msg)),
	             AIO_UNAUTHENTICATED);
	restart();
	cr_assert_eq(server_creds_enroll_take(&c, token, "hv1", false, msg, sizeof(msg)),
	             AIO_UNAUTHENTICATED, "a used token is not loaded again");
}

Test(creds, an_unused_enrollment_token_survives_a_restart)
{
	char token[80], msg[256];
	uint64_t expires;

	cr_assert_eq(server_creds_enroll_create(&c, NULL, 0, "test", token, sizeof(token), &expires,
	                                        msg, sizeof(msg), stored, NULL),
	             AIO_OK);
	restart();
	cr_assert_eq(server_creds_enroll_take(&c, token, "hv1", true, msg, sizeof(msg)),
	             AIO_PERMISSION_DENIED, "a token for any host takes no known host");
	cr_assert_eq(server_creds_enroll_take(&c, token, "any-host", false, msg, sizeof(msg)),
	             AIO_OK, "%s", msg);
}
