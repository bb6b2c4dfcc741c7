/* SPDX-License-Identifier: MIT */
/*
 * Where vmmctl looks for vmmd (API.md "Transport"). The vmmctl file under
 * test is included directly: unit tests do not link vmmctl's objects.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vmmctl/socket_path.h"

static void expect_path(const char *opt, const char *env, const char *xdg, uid_t euid,
			const char *want)
{
	char *p = NULL;

	assert_int_equal(socket_path_resolve(opt, env, xdg, euid, &p), 0);
	assert_string_equal(p, want);
	free(p);
}

static void test_precedence(void **state)
{
	expect_path("/o.sock", "/e.sock", "/run/user/1000", 1000, "/o.sock");
	expect_path(NULL, "/e.sock", "/run/user/1000", 0, "/e.sock");
	expect_path(NULL, NULL, "/run/user/1000", 0, "/run/vmmd/vmmd.sock");
	expect_path(NULL, NULL, "/run/user/1000", 1000, "/run/user/1000/vmmd/vmmd.sock");
	/* Empty values count as unset. */
	expect_path("", "", "/run/user/1000", 1000, "/run/user/1000/vmmd/vmmd.sock");
	/* A relative path given explicitly is the user's to choose. */
	expect_path("rel.sock", NULL, NULL, 1000, "rel.sock");
}

static void test_unprivileged_without_runtime_dir(void **state)
{
	char *p = (char *) "untouched";

	assert_int_equal(socket_path_resolve(NULL, NULL, NULL, 1000, &p), -ENOENT);
	assert_int_equal(socket_path_resolve(NULL, "", "", 1000, &p), -ENOENT);
	/* The XDG spec says a relative XDG_RUNTIME_DIR is to be ignored. */
	assert_int_equal(socket_path_resolve(NULL, NULL, "run/user", 1000, &p), -ENOENT);
	assert_string_equal(p, "untouched");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_unprivileged_without_runtime_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
