/* SPDX-License-Identifier: MIT */
/*
 * vmmctl's human formatting and JSON reading helpers. Unit tests do not link
 * vmmctl's objects, so the files under test are included directly; they
 * need only json-c and libproto (base64).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vmmctl/json_util.h"
#include "vmmctl/output.h"

/* What fn printed to a FILE, as a string the caller frees. */
#define CAPTURE(out, stmt) do {					\
		size_t size_;					\
		FILE *f = open_memstream(&(out), &size_);	\
		assert_non_null(f);				\
		stmt;						\
		assert_int_equal(fclose(f), 0);			\
	} while (0)

static void test_uptime(void **state)
{
	char b[32];

	format_uptime(0, b, sizeof(b));      assert_string_equal(b, "0s");
	format_uptime(59.9, b, sizeof(b));   assert_string_equal(b, "59s");
	format_uptime(303, b, sizeof(b));    assert_string_equal(b, "5m03s");
	format_uptime(7500, b, sizeof(b));   assert_string_equal(b, "2h05m");
	format_uptime(273600, b, sizeof(b)); assert_string_equal(b, "3d04h");
	format_uptime(-1, b, sizeof(b));     assert_string_equal(b, "-");
}

static void test_mib(void **state)
{
	char b[32];

	format_mib(64, b, sizeof(b));   assert_string_equal(b, "64MiB");
	format_mib(2048, b, sizeof(b)); assert_string_equal(b, "2GiB");
	format_mib(1536, b, sizeof(b)); assert_string_equal(b, "1536MiB");
}

static void test_value_and_exit(void **state)
{
	struct json_object *o = json_tokener_parse(
		"{\"s\":\"x\",\"n\":null,\"b\":false,\"i\":7,\"a\":[1,2],"
		"\"e1\":{\"reason\":\"debug-exit\",\"code\":1,\"message\":null},"
		"\"e2\":{\"reason\":\"worker-killed\",\"code\":null,\"message\":\"SIGKILL\"}}");
	char b[64];

	format_value(json_lookup(o, "s"), b, sizeof(b)); assert_string_equal(b, "x");
	format_value(json_lookup(o, "n"), b, sizeof(b)); assert_string_equal(b, "-");
	format_value(json_lookup(o, "b"), b, sizeof(b)); assert_string_equal(b, "no");
	format_value(json_lookup(o, "i"), b, sizeof(b)); assert_string_equal(b, "7");
	format_value(json_lookup(o, "a"), b, sizeof(b)); assert_string_equal(b, "[1,2]");
	format_exit(json_lookup(o, "e1"), b, sizeof(b)); assert_string_equal(b, "debug-exit code 1");
	format_exit(json_lookup(o, "e2"), b, sizeof(b)); assert_string_equal(b, "worker-killed (SIGKILL)");
	format_exit(NULL, b, sizeof(b));                 assert_string_equal(b, "-");
	json_object_put(o);
}

static void test_lookup(void **state)
{
	struct json_object *o = json_tokener_parse(
		"{\"kvm\":{\"api_version\":12,\"n\":null},\"host\":\"x\",\"d\":\"aGk=\",\"bad\":\"*\"}");
	unsigned char *bytes;
	size_t len;

	assert_int_equal(json_object_get_int(json_lookup(o, "kvm.api_version")), 12);
	assert_null(json_lookup(o, "kvm.n"));
	assert_null(json_lookup(o, "kvm.missing"));
	assert_null(json_lookup(o, "host.virt"));     /* through a non-object */
	assert_null(json_lookup(NULL, "x"));
	assert_string_equal(json_lookup_str(o, "host", "?"), "x");
	assert_string_equal(json_lookup_str(o, "kvm", "?"), "?");

	assert_int_equal(json_lookup_bytes(o, "d", &bytes, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(bytes, "hi", 2);
	free(bytes);
	assert_int_equal(json_lookup_bytes(o, "bad", &bytes, &len), -EINVAL);
	assert_int_equal(json_lookup_bytes(o, "nope", &bytes, &len), -ENOENT);
	json_object_put(o);
}

static void test_table(void **state)
{
	static const char *const header[] = { "NAME", "STATE", "UPTIME" };
	static const char *const row1[] = { "a-long-name", "running", "5s" };
	static const char *const row2[] = { "b", NULL, "-" };
	struct table t;
	char *out = NULL;

	assert_int_equal(table_init(&t, 3, header), 0);
	assert_int_equal(table_add_row(&t, row1), 0);
	assert_int_equal(table_add_row(&t, row2), 0);
	CAPTURE(out, table_print(&t, f));
	assert_string_equal(out,
		"NAME         STATE    UPTIME\n"
		"a-long-name  running  5s\n"
		"b            -        -\n");
	free(out);
	table_done(&t);
	table_done(&t);   /* safe twice */
	assert_int_equal(table_init(&t, 0, header), -EINVAL);
	table_done(&t);
}

static void test_table_grows(void **state)
{
	static const char *const cells[] = { "x" };
	struct table t;

	assert_int_equal(table_init(&t, 1, cells), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(table_add_row(&t, cells), 0);
	assert_int_equal(t.n_rows, 101);
	table_done(&t);
}

static void test_kv(void **state)
{
	char *out = NULL;

	CAPTURE(out, (print_kv(f, 8, "state", "running"), print_kv(f, 8, "cmdline", ""),
		      print_kv(f, 2, "initrd", NULL)));
	assert_string_equal(out, "state:    running\ncmdline:\ninitrd: -\n");
	free(out);
}

static void test_timestamp(void **state)
{
	char b[40];

	format_timestamp(0.25, b, sizeof(b));
	assert_string_equal(b, "1970-01-01T00:00:00.250Z");
	format_timestamp(1714564800.9996, b, sizeof(b));   /* rounds into the next second */
	assert_string_equal(b, "2024-05-01T12:00:01.000Z");
	format_timestamp(-5, b, sizeof(b));
	assert_string_equal(b, "-");
}

static void expect_event(const char *params_json, bool json, const char *want)
{
	struct json_object *p = json_tokener_parse(params_json);
	char *line = NULL;

	assert_non_null(p);
	assert_int_equal(format_event_line(p, json, &line), 0);
	assert_string_equal(line, want);
	free(line);
	json_object_put(p);
}

static void test_event_lines(void **state)
{
	struct json_object *arr = json_object_new_array();
	char *line;

	expect_event("{\"vm\":\"hello\",\"type\":\"state\",\"timestamp\":0.5,"
		     "\"data\":{\"state\":\"running\",\"previous\":\"created\"}}", false,
		     "1970-01-01T00:00:00.500Z hello state running (was created)");
	expect_event("{\"vm\":\"hello\",\"type\":\"state\",\"timestamp\":1,"
		     "\"data\":{\"state\":\"stopped\",\"previous\":\"running\","
		     "\"exit\":{\"reason\":\"debug-exit\",\"code\":1}}}", false,
		     "1970-01-01T00:00:01.000Z hello state stopped (was running) exit debug-exit code 1");
	/* Console bytes are escaped so that one event stays one harmless line. */
	expect_event("{\"vm\":\"a\",\"type\":\"console\",\"timestamp\":0,"
		     "\"data\":{\"data\":\"aGkKG1sy\",\"offset\":7}}", false,
		     "1970-01-01T00:00:00.000Z a console @7 \"hi\\n\\x1b[2\"");
	expect_event("{\"vm\":\"a\",\"type\":\"fault\",\"data\":{\"addr\":4096}}", false,
		     "- a fault {\"addr\":4096}");
	expect_event("{\"vm\":\"a/b\",\"type\":\"state\",\"data\":{},\"timestamp\":1.5}", true,
		     "{\"vm\":\"a/b\",\"type\":\"state\",\"data\":{},\"timestamp\":1.5}");
	assert_int_equal(format_event_line(arr, false, &line), -EINVAL);
	json_object_put(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uptime),
		cmocka_unit_test(test_mib),
		cmocka_unit_test(test_value_and_exit),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_grows),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_event_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
