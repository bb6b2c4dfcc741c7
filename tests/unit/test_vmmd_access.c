/* SPDX-License-Identifier: MIT */
/* vmmd/access.c: roles from peer credentials and rules (each method's role: test_vmmd_methods.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmmd/access.h"

static void test_role_names(void **state)
{
	assert_int_equal(access_role_from_name("none"), ACCESS_NONE);
	assert_int_equal(access_role_from_name("monitor"), ACCESS_MONITOR);
	assert_int_equal(access_role_from_name("debug"), ACCESS_DEBUG);
	assert_int_equal(access_role_from_name("read"), ACCESS_DEBUG);   /* debug's old name */
	assert_int_equal(access_role_from_name("admin"), ACCESS_ADMIN);
	assert_int_equal(access_role_from_name("Admin"), -EINVAL);
	assert_int_equal(access_role_from_name(""), -EINVAL);
	assert_string_equal(access_role_name(ACCESS_MONITOR), "monitor");
	assert_string_equal(access_role_name(ACCESS_DEBUG), "debug");
	/* Ordered: each role may what the ones below it may. */
	assert_true(ACCESS_NONE < ACCESS_MONITOR && ACCESS_MONITOR < ACCESS_DEBUG && ACCESS_DEBUG < ACCESS_ADMIN);
	assert_string_equal(access_role_name((enum access_role) 7), "?");
}

static void test_rules_parse(void **state)
{
	struct access_policy p;

	access_policy_init(&p);
	assert_int_equal(p.others, ACCESS_MONITOR);
	assert_int_equal(access_policy_add(&p, "root", ACCESS_DEBUG), 0);
	assert_false(p.rules[0].is_group);
	assert_int_equal(p.rules[0].id, 0);
	assert_int_equal(access_policy_add(&p, "@root", ACCESS_ADMIN), 0);
	assert_true(p.rules[1].is_group);
	assert_int_equal(access_policy_add(&p, "1234", ACCESS_NONE), 0);
	assert_int_equal(p.rules[2].id, 1234);
	assert_int_equal(access_policy_add(&p, "@4321", ACCESS_DEBUG), 0);
	assert_int_equal(p.rules[3].id, 4321);
	assert_int_equal(p.n_rules, 4);

	assert_int_equal(access_policy_add(&p, "", ACCESS_DEBUG), -EINVAL);
	assert_int_equal(access_policy_add(&p, "@", ACCESS_DEBUG), -EINVAL);
	assert_int_equal(access_policy_add(&p, "4294967295", ACCESS_DEBUG), -ENOENT);  /* not an id: a name */
	assert_int_equal(access_policy_add(&p, "no-such-user-xyzzy", ACCESS_DEBUG), -ENOENT);
	assert_int_equal(access_policy_add(&p, "@no-such-group-xyzzy", ACCESS_DEBUG), -ENOENT);
	assert_int_equal(access_policy_add(&p, "root", (enum access_role) 4), -EINVAL);
	assert_int_equal(access_policy_add(&p, NULL, ACCESS_DEBUG), -EINVAL);
	assert_int_equal(p.n_rules, 4);

	while (p.n_rules < ACCESS_MAX_RULES)
		assert_int_equal(access_policy_add(&p, "77", ACCESS_DEBUG), 0);
	assert_int_equal(access_policy_add(&p, "78", ACCESS_DEBUG), -E2BIG);
}

static void test_roles_of_peers(void **state)
{
	struct access_policy p;
	struct access_peer root = { .uid = 0, .gid = 0 };
	struct access_peer alice = { .uid = 1000, .gid = 1000, .groups = (gid_t[]) { 1000, 27 }, .n_groups = 2 };
	struct access_peer bob = { .uid = 1001, .gid = 1001 };
	struct access_peer eve = { .uid = 1002, .gid = 27 };   /* group 27 as primary only */

	access_policy_init(&p);
	p.self_uid = 0;
	assert_int_equal(access_role_of(&p, &root), ACCESS_ADMIN);
	assert_int_equal(access_role_of(&p, &alice), ACCESS_MONITOR);    /* others */
	p.others = ACCESS_NONE;
	assert_int_equal(access_role_of(&p, &alice), ACCESS_NONE);

	/* First match wins: bob is refused before the group rule would make him admin. */
	assert_int_equal(access_policy_add(&p, "1001", ACCESS_NONE), 0);
	assert_int_equal(access_policy_add(&p, "@27", ACCESS_ADMIN), 0);
	assert_int_equal(access_policy_add(&p, "@1001", ACCESS_ADMIN), 0);
	assert_int_equal(access_role_of(&p, &alice), ACCESS_ADMIN);   /* supplementary group 27 */
	assert_int_equal(access_role_of(&p, &eve), ACCESS_ADMIN);     /* primary group 27 */
	assert_int_equal(access_role_of(&p, &bob), ACCESS_NONE);

	/* Root and vmmd's own user cannot be locked out. */
	assert_int_equal(access_policy_add(&p, "0", ACCESS_NONE), 0);
	assert_int_equal(access_role_of(&p, &root), ACCESS_ADMIN);
	p.self_uid = 1001;
	assert_int_equal(access_role_of(&p, &bob), ACCESS_ADMIN);
}

/* Issue 14, finding 12: groups that cannot be read must not let anyone in
 * whom a group rule would refuse, nor make anyone admin. */
static void test_groups_unknown_fail_closed(void **state)
{
	struct access_policy p;
	struct access_peer carol = { .uid = 1003, .gid = 1003, .groups_unknown = true };
	struct access_peer dave = { .uid = 1004, .gid = 27, .groups_unknown = true };

	access_policy_init(&p);
	p.self_uid = 0;
	assert_int_equal(access_role_of(&p, &carol), ACCESS_MONITOR);   /* no group rule: groups do not matter */
	assert_int_equal(access_policy_add(&p, "1004", ACCESS_DEBUG), 0);
	assert_int_equal(access_policy_add(&p, "@27", ACCESS_NONE), 0);
	assert_int_equal(access_role_of(&p, &carol), ACCESS_NONE);   /* maybe in 27: refused */
	assert_int_equal(access_role_of(&p, &dave), ACCESS_DEBUG);    /* a user rule first */
	access_policy_init(&p);
	assert_int_equal(access_policy_add(&p, "@42", ACCESS_ADMIN), 0);
	assert_int_equal(access_role_of(&p, &carol), ACCESS_NONE);   /* not admin on a guess */
}

/* Every group of a peer in more than 64 (the kernel's ERANGE is retried). */
static void test_peer_many_groups(void **state)
{
	gid_t groups[100], saved[256];
	struct access_peer peer;
	int sv[2], n_saved;

	if (geteuid() != 0)
		skip();
	n_saved = getgroups(256, saved);
	assert_true(n_saved >= 0);
	for (int i = 0; i < 100; i++)
		groups[i] = 50000 + (gid_t) i;
	assert_int_equal(setgroups(100, groups), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setgroups((size_t) n_saved, saved), 0);
	assert_int_equal(access_peer_get(sv[0], &peer), 0);
	assert_false(peer.groups_unknown);
	assert_int_equal(peer.n_groups, 100);
	assert_int_equal(peer.groups[99], 50099);
	access_peer_done(&peer);
	close(sv[0]);
	close(sv[1]);
}

static void test_peer_credentials(void **state)
{
	struct access_peer peer;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(access_peer_get(sv[0], &peer), 0);
	assert_int_equal(peer.pid, getpid());
	assert_int_equal(peer.uid, geteuid());
	assert_int_equal(peer.gid, getegid());
	access_peer_done(&peer);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(access_peer_get(999, &peer), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_rules_parse),
		cmocka_unit_test(test_roles_of_peers),
		cmocka_unit_test(test_groups_unknown_fail_closed),
		cmocka_unit_test(test_peer_many_groups),
		cmocka_unit_test(test_peer_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
