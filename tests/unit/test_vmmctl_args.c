/* SPDX-License-Identifier: MIT */
/*
 * vmmctl's per-command argument parser. Unit tests link only libdevices,
 * libconfig and libproto, so the vmmctl file under test is included here
 * directly; it depends on nothing else of vmmctl.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmmctl/args.h"

static const struct cmd_option opts[] = {
	{ .name = "--name", .has_arg = true },
	{ .name = "--force" },
	{ .name = "--topic", .has_arg = true },
	{}
};

static int parse(int min, int max, struct cmd_args *a, char *why, const char *const *words)
{
	int n = 0;

	while (words[n])
		n++;
	return cmd_args_parse(opts, min, max, n, (char *const *) words, a, why, 128);
}

static void test_positionals_and_options_any_order(void **state)
{
	const char *w[] = { "--force", "vm1", "--name", "x", NULL };
	struct cmd_args a;
	char why[128];

	assert_int_equal(parse(1, 1, &a, why, w), 0);
	assert_int_equal(a.argc, 1);
	assert_string_equal(a.argv[0], "vm1");
	assert_true(cmd_args_has(&a, "--force"));
	assert_string_equal(cmd_args_get(&a, "--name"), "x");
	assert_null(cmd_args_get(&a, "--topic"));
	assert_false(a.help);
}

static void test_equals_form_and_last_wins(void **state)
{
	const char *w[] = { "c.json", "--name=a", "--name", "b", NULL };
	struct cmd_args a;
	char why[128];

	assert_int_equal(parse(1, 1, &a, why, w), 0);
	assert_string_equal(cmd_args_get(&a, "--name"), "b");
}

static void test_repeated_option_values(void **state)
{
	const char *w[] = { "--topic", "state", "--topic=console", NULL };
	const char *values[4];
	struct cmd_args a;
	char why[128];

	assert_int_equal(parse(0, 1, &a, why, w), 0);
	assert_int_equal(cmd_args_get_all(&a, "--topic", values, 4), 2);
	assert_string_equal(values[0], "state");
	assert_string_equal(values[1], "console");
	/* Counting works with no room to store. */
	assert_int_equal(cmd_args_get_all(&a, "--topic", NULL, 0), 2);
}

static void test_errors(void **state)
{
	const char *unknown[] = { "vm", "--bogus", NULL };
	const char *short_opt[] = { "vm", "-f", NULL };
	const char *missing_value[] = { "vm", "--name", NULL };
	const char *value_on_flag[] = { "vm", "--force=yes", NULL };
	const char *too_many[] = { "a", "b", NULL };
	const char *too_few[] = { "--force", NULL };
	struct cmd_args a;
	char why[128];

	assert_int_equal(parse(1, 1, &a, why, unknown), -EINVAL);
	assert_string_equal(why, "unknown option '--bogus'");
	assert_int_equal(parse(1, 1, &a, why, short_opt), -EINVAL);
	assert_int_equal(parse(1, 1, &a, why, missing_value), -EINVAL);
	assert_string_equal(why, "option '--name' needs a value");
	assert_int_equal(parse(1, 1, &a, why, value_on_flag), -EINVAL);
	assert_int_equal(parse(1, 1, &a, why, too_many), -EINVAL);
	assert_string_equal(why, "unexpected argument 'b'");
	assert_int_equal(parse(1, 1, &a, why, too_few), -EINVAL);
	assert_string_equal(why, "missing argument");
}

static void test_double_dash_and_lone_dash(void **state)
{
	const char *w[] = { "-", "--", "--force", NULL };
	struct cmd_args a;
	char why[128];

	/* "-" is a positional (stdin); after "--" even "--force" is one. */
	assert_int_equal(parse(2, 2, &a, why, w), 0);
	assert_int_equal(a.argc, 2);
	assert_string_equal(a.argv[0], "-");
	assert_string_equal(a.argv[1], "--force");
	assert_false(cmd_args_has(&a, "--force"));
}

static void test_help_skips_count_checks(void **state)
{
	const char *w[] = { "a", "b", "c", "--help", NULL };
	const char *none[] = { "-h", NULL };
	struct cmd_args a;
	char why[128];

	assert_int_equal(parse(1, 1, &a, why, w), 0);
	assert_true(a.help);
	assert_int_equal(parse(1, 1, &a, why, none), 0);
	assert_true(a.help);
}

static void test_no_options_table(void **state)
{
	static char force[] = "--force";
	char *w[] = { force };
	struct cmd_args a;
	char why[128];

	assert_int_equal(cmd_args_parse(NULL, 0, 0, 1, w, &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(cmd_args_parse(NULL, 0, 0, 0, w, &a, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positionals_and_options_any_order),
		cmocka_unit_test(test_equals_form_and_last_wins),
		cmocka_unit_test(test_repeated_option_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_double_dash_and_lone_dash),
		cmocka_unit_test(test_help_skips_count_checks),
		cmocka_unit_test(test_no_options_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
