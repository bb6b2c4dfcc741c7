/* SPDX-License-Identifier: MIT */
/* vmmctl --connect: ssh:// URLs and the ssh command line built from them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "vmmctl/ssh_url.c"

static void test_parse(void **state)
{
	struct ssh_url u;
	char why[128];
	assert_int_equal(ssh_url_parse("ssh://host", &u, why, sizeof(why)), 0);
	assert_string_equal(u.host, "host");
	assert_string_equal(u.user, "");
	assert_string_equal(u.port, "");
	assert_string_equal(u.path, "");
	assert_int_equal(ssh_url_parse("ssh://ops@10.0.0.2:2222/run/vmmd/vmmd.sock", &u, why, sizeof(why)), 0);
	assert_string_equal(u.user, "ops");
	assert_string_equal(u.host, "10.0.0.2");
	assert_string_equal(u.port, "2222");
	assert_string_equal(u.path, "/run/vmmd/vmmd.sock");
	assert_int_equal(ssh_url_parse("ssh://[::1]:22/s", &u, why, sizeof(why)), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "22");
	assert_int_equal(ssh_url_parse("ssh://h/", &u, why, sizeof(why)), 0);
	assert_string_equal(u.path, "");

	static const char *const bad[] = {
		"http://host", "ssh://", "ssh:///sock", "ssh://@host", "ssh://host:", "ssh://host:22x",
		"ssh://host:123456", "ssh://[::1/x", "ssh://[::1]x/y", "ssh://-oProxyCommand=x",
		"ssh://a;b", "ssh://u$(id)@h", "ssh://h`x`", "ssh://a b", NULL,
	};
	for (const char *const *b = bad; *b; b++) {
		why[0] = '\0';
		assert_int_equal(ssh_url_parse(*b, &u, why, sizeof(why)), -EINVAL);
		assert_true(why[0] != '\0');
	}
}

static void test_argv(void **state)
{
	struct ssh_url u;
	char why[64], buf[1024];
	char *argv[SSH_ARGV_MAX];
	assert_int_equal(ssh_url_parse("ssh://ops@h:2222/tmp/it's here.sock", &u, why, sizeof(why)), 0);
	assert_int_equal(ssh_url_argv(&u, "ssh  -i key\t-o BatchMode=yes", NULL, buf, sizeof(buf), argv), 0);
	const char *want[] = { "ssh", "-i", "key", "-o", "BatchMode=yes", "-p", "2222", "-l", "ops", "--", "h",
			       "'vmmctl' '--socket' '/tmp/it'\\''s here.sock' 'bridge'", NULL };
	for (size_t i = 0; want[i]; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[12]);

	assert_int_equal(ssh_url_parse("ssh://h", &u, why, sizeof(why)), 0);
	assert_int_equal(ssh_url_argv(&u, NULL, "/opt/vmmd/bin/vmmctl", buf, sizeof(buf), argv), 0);
	assert_string_equal(argv[0], "ssh");
	assert_string_equal(argv[1], "--");
	assert_string_equal(argv[2], "h");
	assert_string_equal(argv[3], "'/opt/vmmd/bin/vmmctl' 'bridge'");
	assert_null(argv[4]);
	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(ssh_url_argv(&u, NULL, NULL, buf, 16, argv), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_argv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
