/* SPDX-License-Identifier: MIT */
/*
 * How `vmmctl create/run` reads a config file: size limit, JSON checks,
 * --name, and relative paths made absolute (libconfig's resolver). The
 * vmmctl file under test is included directly: unit tests do not link
 * vmmctl's objects.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/vm_config.h"
#include "vmmctl/config_file.h"

static char dir[] = "/tmp/test_vmmctl_config.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(dir);
}

/* Write text to a file in the scratch directory; its path in path. */
static void write_file(const char *name, const char *text, size_t len, char *path)
{
	FILE *f;

	snprintf(path, 256, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void expect_load_error(const char *text, size_t len, int want, const char *why_part)
{
	struct json_object *obj = NULL;
	char path[256], why[512];

	write_file("c.json", text, len, path);
	assert_int_equal(config_file_load(path, &obj, why, sizeof(why)), want);
	assert_null(obj);
	assert_non_null(strstr(why, why_part));
	unlink(path);
}

static void test_load_errors(void **state)
{
	struct json_object *obj = NULL;
	char why[512], *big;

	expect_load_error("", 0, -EINVAL, "unexpected end of file");
	expect_load_error("{\"a\":", 5, -EINVAL, "unexpected end of file");
	expect_load_error("[1]\n", 4, -EINVAL, "not a JSON object");
	expect_load_error("{} {}", 5, -EINVAL, "trailing data");
	expect_load_error("{nope}", 6, -EINVAL, "not valid JSON");

	big = malloc(CONFIG_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', CONFIG_FILE_MAX + 1);
	big[0] = '{';
	big[CONFIG_FILE_MAX - 1] = '}';
	/* Exactly the limit is fine; one byte more is not. */
	expect_load_error(big, CONFIG_FILE_MAX + 1, -EFBIG, "larger than");
	free(big);

	assert_int_equal(config_file_load("/nonexistent/c.json", &obj, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "cannot open"));
}

static void test_load_at_limit(void **state)
{
	struct json_object *obj = NULL;
	char path[256], why[512], *big;

	big = malloc(CONFIG_FILE_MAX);
	assert_non_null(big);
	memset(big, ' ', CONFIG_FILE_MAX);
	big[0] = '{';
	big[CONFIG_FILE_MAX - 1] = '}';
	write_file("c.json", big, CONFIG_FILE_MAX, path);
	free(big);
	assert_int_equal(config_file_load(path, &obj, why, sizeof(why)), 0);
	assert_true(json_object_is_type(obj, json_type_object));
	json_object_put(obj);
	unlink(path);
}

static void test_prepare_renames_and_resolves(void **state)
{
	static const char text[] =
		"{\"name\":\"demo\",\"kernel\":\"guests/build/minios.elf\",\"initrd\":null,"
		"\"console\":{\"log\":\"./logs/c.log\"},"
		"\"devices\":[{\"type\":\"virtio-blk\",\"path\":\"/abs/disk.img\"},"
		"{\"type\":\"virtio-blk\",\"path\":\"disk2.img\"}]}\n";
	struct json_object *obj = NULL;
	char path[256], why[512];

	write_file("c.json", text, strlen(text), path);
	assert_int_equal(config_file_prepare(path, "hello", "/home/u/vm", &obj, why, sizeof(why)), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(obj, "name")), "hello");
	assert_string_equal(json_object_get_string(json_object_object_get(obj, "kernel")),
			    "/home/u/vm/guests/build/minios.elf");
	assert_null(json_object_object_get(obj, "initrd"));
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_object_get(obj, "console"), "log")), "/home/u/vm/logs/c.log");
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(obj, "devices"), 0), "path")),
		"/abs/disk.img");
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(obj, "devices"), 1), "path")),
		"/home/u/vm/disk2.img");
	json_object_put(obj);

	/* Without --name the file's name stays. */
	assert_int_equal(config_file_prepare(path, NULL, "/", &obj, why, sizeof(why)), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(obj, "name")), "demo");
	assert_string_equal(json_object_get_string(json_object_object_get(obj, "kernel")),
			    "/guests/build/minios.elf");
	json_object_put(obj);
	unlink(path);
}

static void test_prepare_path_too_long(void **state)
{
	struct json_object *obj = NULL;
	char path[256], why[512], *text;
	size_t n = VM_PATH_MAX + 64;

	text = malloc(n + 32);
	assert_non_null(text);
	strcpy(text, "{\"kernel\":\"");
	memset(text + strlen(text), 'k', VM_PATH_MAX - 3);
	strcpy(text + 11 + VM_PATH_MAX - 3, "\"}");
	write_file("c.json", text, strlen(text), path);
	free(text);
	assert_int_equal(config_file_prepare(path, NULL, "/home/u", &obj, why, sizeof(why)), -EINVAL);
	assert_null(obj);
	assert_non_null(strstr(why, "kernel: "));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_at_limit),
		cmocka_unit_test(test_prepare_renames_and_resolves),
		cmocka_unit_test(test_prepare_path_too_long),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
