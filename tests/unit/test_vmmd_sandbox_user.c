/* SPDX-License-Identifier: MIT */
/* vmmd/sandbox_user.c: which user a worker becomes (issue 14, finding 13). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config/daemon_config.h"
#include "vmmd/sandbox_user.h"

struct taken {
	uid_t uids[8];
	size_t n;
};

static bool in_use(void *userdata, uid_t uid)
{
	struct taken *t = userdata;
	for (size_t i = 0; i < t->n; i++)
		if (t->uids[i] == uid)
			return true;
	return false;
}

static void test_range(void **state)
{
	struct daemon_config c;
	struct sandbox_users s;
	struct taken t = { .n = 0 };
	uid_t uid, first;
	gid_t gid;

	daemon_config_init(&c);
	c.sandbox_uid_base = 100000;
	c.sandbox_uid_count = 4;
	assert_int_equal(sandbox_users_init(&s, &c, true), 0);
	assert_true(s.change);
	assert_false(s.fixed);
	/* A VM's first choice is fixed by its state directory and name; gid = uid. */
	uint64_t h = sandbox_user_hash("/var/lib/vmmd", "web");
	assert_int_equal(sandbox_user_pick(&s, h, in_use, &t, &first, &gid), 0);
	assert_true(first >= 100000 && first < 100004);
	assert_int_equal(gid, first);
	assert_int_equal(sandbox_user_pick(&s, h, in_use, &t, &uid, &gid), 0);
	assert_int_equal(uid, first);
	/* Taken by a live worker: the next free one, never a taken one. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sandbox_user_pick(&s, h, in_use, &t, &uid, &gid), 0);
		assert_false(in_use(&t, uid));
		assert_true(uid >= 100000 && uid < 100004);
		t.uids[t.n++] = uid;
	}
	assert_int_equal(sandbox_user_pick(&s, h, in_use, &t, &uid, &gid), -EUSERS);
	/* Other names, other state directories: other first choices (mostly). */
	assert_true(sandbox_user_hash("/var/lib/vmmd", "web") != sandbox_user_hash("/var/lib/vmmd", "db"));
	assert_true(sandbox_user_hash("/a", "web") != sandbox_user_hash("/b", "web"));
}

static void test_not_root(void **state)
{
	struct daemon_config c;
	struct sandbox_users s;

	daemon_config_init(&c);
	snprintf(c.sandbox_user, sizeof(c.sandbox_user), "no-such-user-xyzzy");
	assert_int_equal(sandbox_users_init(&s, &c, false), 0);   /* not root: nobody to become, nothing resolved */
	assert_false(s.change);
}

static void test_fixed_user(void **state)
{
	struct daemon_config c;
	struct sandbox_users s;
	struct taken t = { .n = 1, .uids = { 65534 } };
	uid_t uid;
	gid_t gid;

	daemon_config_init(&c);
	snprintf(c.sandbox_user, sizeof(c.sandbox_user), "nobody");
	assert_int_equal(sandbox_users_init(&s, &c, true), 0);
	assert_true(s.fixed);
	assert_int_equal(s.uid, 65534);
	/* One user for all: shared even while another worker runs as it. */
	assert_int_equal(sandbox_user_pick(&s, 0, in_use, &t, &uid, &gid), 0);
	assert_int_equal(uid, 65534);
	snprintf(c.sandbox_user, sizeof(c.sandbox_user), "4711");
	assert_int_equal(sandbox_users_init(&s, &c, true), 0);
	assert_int_equal(s.uid, 4711);
	snprintf(c.sandbox_user, sizeof(c.sandbox_user), "root");
	assert_int_equal(sandbox_users_init(&s, &c, true), -EPERM);
	snprintf(c.sandbox_user, sizeof(c.sandbox_user), "0");
	assert_int_equal(sandbox_users_init(&s, &c, true), -EPERM);
	snprintf(c.sandbox_user, sizeof(c.sandbox_user), "no-such-user-xyzzy");
	assert_int_equal(sandbox_users_init(&s, &c, true), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_not_root),
		cmocka_unit_test(test_fixed_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
