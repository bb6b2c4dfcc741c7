/* SPDX-License-Identifier: MIT */
/*
 * config/vm_config.c: defaults, every field's type and range errors with the
 * exact field path, unknown fields, names, round-trip, dup, relative paths,
 * and that every shipped example loads. Examples are read from
 * $VMMD_SRCDIR/config/examples (default: the cwd, i.e. the repo root).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/vm_config.h"

/* Minimal valid config, and one that sets every field off its default. */
#define BASE "\"name\": \"vm\", \"kernel\": \"/boot/k\""
#define FULL "{ \"name\": \"full-1.x_y\", \"memory_mib\": 512, \"vcpus\": 1," \
	" \"paging\": \"shadow\", \"shadow\": { \"strategy\": \"vtlb\", \"pool_pages\": 4096," \
	" \"prefetch\": 16, \"zap\": \"all\" }," \
	" \"kernel\": \"/boot/kernel.elf\", \"initrd\": \"/boot/initrd.img\"," \
	" \"cmdline\": \"console=ttyS0 exit=3\", \"console\": { \"log\": \"/var/log/vm.log\" }," \
	" \"devices\": [ { \"type\": \"virtio-blk\", \"path\": \"/img/a.img\", \"readonly\": true }," \
	" { \"type\": \"virtio-console\" }, { \"type\": \"virtio-rng\" }," \
	" { \"type\": \"virtio-blk\", \"path\": \"/img/b.img\" } ] }"

static struct json_object *parse_text(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (!o)
		fail_msg("test bug: not JSON: %s", text);
	return o;
}

/* The JSON is dropped before the config is used, so a config that kept
 * pointers into it fails under valgrind/ASan. */
static int load(const char *text, struct vm_config **ret, struct config_error *err)
{
	struct json_object *o = parse_text(text);
	int r = vm_config_from_json(o, ret, err);

	json_object_put(o);
	return r;
}

static struct vm_config *load_ok(const char *text)
{
	struct config_error err = { "", "" };
	struct vm_config *c = NULL;
	int r = load(text, &c, &err);

	if (r != 0)
		fail_msg("%s: rejected (%d): %s: %s", text, r, err.field, err.message);
	return c;
}

/* A fragment is added to BASE; a json starting with '{' is the whole
 * document, as is one after a leading '=' (for non-objects). */
struct bad_case {
	const char *json;
	const char *field;     /* exact */
	const char *message;   /* substring */
};

static void check_bad(const struct bad_case *t)
{
	struct vm_config sentinel, *c = &sentinel;
	struct config_error err = { "?", "?" };
	char text[8192];
	int r;

	if (t->json[0] == '{' || t->json[0] == '=')
		snprintf(text, sizeof(text), "%s", t->json + (t->json[0] == '='));
	else
		snprintf(text, sizeof(text), "{ " BASE ", %s }", t->json);
	r = load(text, &c, &err);
	if (r != -EINVAL || strcmp(err.field, t->field) != 0 || !strstr(err.message, t->message))
		fail_msg("%s\n  got r=%d field=\"%s\" message=\"%s\"\n  want field=\"%s\" message~\"%s\"",
			 text, r, err.field, err.message, t->field, t->message);
	/* ret untouched on failure */
	assert_ptr_equal(c, &sentinel);
}

static void check_bad_table(const struct bad_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_bad(&t[i]);
}

#define CHECK_BAD(table) check_bad_table(table, sizeof(table) / sizeof((table)[0]))

static bool streq_null(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void assert_config_equal(const struct vm_config *a, const struct vm_config *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->memory_mib, b->memory_mib);
	assert_int_equal(a->vcpus, b->vcpus);
	assert_int_equal(a->paging, b->paging);
	assert_int_equal(a->strategy, b->strategy);
	assert_int_equal(a->scatter, b->scatter);
	assert_int_equal(a->pool_pages, b->pool_pages);
	assert_int_equal(a->prefetch, b->prefetch);
	assert_int_equal(a->zap, b->zap);
	assert_int_equal(a->experimental, b->experimental);
	assert_true(streq_null(a->kernel, b->kernel));
	assert_true(streq_null(a->initrd, b->initrd));
	assert_true(streq_null(a->cmdline, b->cmdline));
	assert_true(streq_null(a->console_log, b->console_log));
	assert_int_equal(a->n_devices, b->n_devices);
	for (size_t i = 0; i < a->n_devices; i++) {
		assert_int_equal(a->devices[i].type, b->devices[i].type);
		assert_true(streq_null(a->devices[i].path, b->devices[i].path));
		assert_int_equal(a->devices[i].readonly, b->devices[i].readonly);
	}
}

/* --- accepted configs ------------------------------------------------------ */

static void test_defaults(void **state)
{
	struct vm_config *c = load_ok("{ " BASE " }");

	assert_string_equal(c->name, "vm");
	assert_int_equal(c->memory_mib, 64);
	assert_int_equal(c->vcpus, 1);
	assert_int_equal(c->paging, VM_PAGING_HW);
	assert_int_equal(c->strategy, VM_SHADOW_CACHED);
	assert_string_equal(c->kernel, "/boot/k");
	assert_null(c->initrd);
	assert_non_null(c->cmdline);
	assert_string_equal(c->cmdline, "");
	assert_null(c->console_log);
	assert_int_equal(c->n_devices, 0);
	vm_config_free(c);

	/* Explicit nulls and empty containers mean the defaults too. */
	c = load_ok("{ " BASE ", \"initrd\": null, \"console\": { \"log\": null },"
		    " \"shadow\": {}, \"devices\": [] }");
	assert_null(c->initrd);
	assert_null(c->console_log);
	assert_int_equal(c->strategy, VM_SHADOW_CACHED);
	vm_config_free(c);

	/* err may be NULL. */
	struct json_object *o = parse_text("{ " BASE " }");
	assert_int_equal(vm_config_from_json(o, &c, NULL), 0);
	vm_config_free(c);
	json_object_put(o);
}

static void test_full(void **state)
{
	struct vm_config *c = load_ok(FULL);

	assert_string_equal(c->name, "full-1.x_y");
	assert_int_equal(c->memory_mib, 512);
	assert_int_equal(c->vcpus, 1);   /* shadow mode is one vCPU */
	assert_int_equal(c->paging, VM_PAGING_SHADOW);
	assert_int_equal(c->strategy, VM_SHADOW_VTLB);
	assert_string_equal(c->kernel, "/boot/kernel.elf");
	assert_string_equal(c->initrd, "/boot/initrd.img");
	assert_string_equal(c->cmdline, "console=ttyS0 exit=3");
	assert_string_equal(c->console_log, "/var/log/vm.log");
	assert_int_equal(c->n_devices, 4);
	assert_int_equal(c->devices[0].type, VM_DEV_VIRTIO_BLK);
	assert_string_equal(c->devices[0].path, "/img/a.img");
	assert_true(c->devices[0].readonly);
	assert_int_equal(c->devices[1].type, VM_DEV_VIRTIO_CONSOLE);
	assert_null(c->devices[1].path);
	assert_int_equal(c->devices[2].type, VM_DEV_VIRTIO_RNG);
	assert_int_equal(c->devices[3].type, VM_DEV_VIRTIO_BLK);
	assert_false(c->devices[3].readonly);
	vm_config_free(c);
}

static void test_integers(void **state)
{
	struct vm_config *c;

	/* JSON has one number type: an integral double is an integer. */
	c = load_ok("{ " BASE ", \"memory_mib\": 128.0, \"vcpus\": 2e0 }");
	assert_int_equal(c->memory_mib, 128);
	assert_int_equal(c->vcpus, 2);
	vm_config_free(c);

	c = load_ok("{ " BASE ", \"memory_mib\": 2, \"vcpus\": 64 }");
	assert_int_equal(c->memory_mib, VM_MEMORY_MIB_MIN);
	assert_int_equal(c->vcpus, VM_VCPUS_MAX);
	vm_config_free(c);

	c = load_ok("{ " BASE ", \"memory_mib\": 65536 }");
	assert_int_equal(c->memory_mib, VM_MEMORY_MIB_MAX);
	vm_config_free(c);

	static const struct bad_case bad[] = {
		{ "\"memory_mib\": true", "memory_mib", "expected an integer" },
		{ "\"memory_mib\": \"64\"", "memory_mib", "expected an integer" },
		{ "\"memory_mib\": null", "memory_mib", "expected an integer" },
		{ "\"memory_mib\": 64.5", "memory_mib", "expected an integer" },
		{ "\"memory_mib\": [64]", "memory_mib", "expected an integer" },
		{ "\"memory_mib\": 1", "memory_mib", "must be between 2 and 65536" },
		{ "\"memory_mib\": 65537", "memory_mib", "must be between 2 and 65536" },
		{ "\"memory_mib\": -64", "memory_mib", "must be between 2 and 65536" },
		{ "\"memory_mib\": 4294967360", "memory_mib", "must be between 2 and 65536" },
		{ "\"memory_mib\": 99999999999999999999", "memory_mib", "must be between" },
		{ "\"memory_mib\": 1e300", "memory_mib", "must be between 2 and 65536" },
		{ "\"memory_mib\": -1e300", "memory_mib", "must be between 2 and 65536" },
		{ "\"vcpus\": false", "vcpus", "expected an integer" },
		{ "\"vcpus\": 1.5", "vcpus", "expected an integer" },
		{ "\"vcpus\": {}", "vcpus", "expected an integer" },
		{ "\"vcpus\": 0", "vcpus", "must be between 1 and 64" },
		{ "\"vcpus\": 65", "vcpus", "must be between 1 and 64" },
	};
	CHECK_BAD(bad);

	/* NaN cannot come from strict JSON but can from a caller's object. */
	struct json_object *o = parse_text("{ " BASE " }");
	struct config_error err;
	json_object_object_add(o, "vcpus", json_object_new_double(NAN));
	assert_int_equal(vm_config_from_json(o, &c, &err), -EINVAL);
	assert_string_equal(err.field, "vcpus");
	assert_string_equal(err.message, "expected an integer");
	json_object_put(o);
}

static void test_scatter(void **state)
{
	struct vm_config *c = load_ok("{ " BASE ", \"paging\": \"shadow\", \"shadow\": { \"scatter\": true } }");
	assert_true(c->scatter);
	vm_config_free(c);
	c = load_ok("{ " BASE " }");
	assert_false(c->scatter);
	vm_config_free(c);

	static const struct bad_case bad[] = {
		{ "\"shadow\": { \"scatter\": 1 }", "shadow.scatter", "expected a boolean" },
		{ "\"memory_mib\": 512, \"shadow\": { \"scatter\": true }", "shadow.scatter", "needs memory_mib <= 256" },
	};
	CHECK_BAD(bad);
}

static void test_shadow_tuning(void **state)
{
	struct vm_config *c = load_ok("{ " BASE " }");
	assert_int_equal(c->pool_pages, 0);          /* scaled with memory_mib by the worker */
	assert_int_equal(c->prefetch, 0);
	assert_int_equal(c->zap, VM_ZAP_TARGETED);
	vm_config_free(c);
	c = load_ok("{ " BASE ", \"shadow\": { \"pool_pages\": 64, \"prefetch\": 1, \"zap\": \"all\" } }");
	assert_int_equal(c->pool_pages, 64);
	assert_int_equal(c->prefetch, 1);
	assert_int_equal(c->zap, VM_ZAP_ALL);
	vm_config_free(c);
	c = load_ok("{ " BASE ", \"shadow\": { \"pool_pages\": null, \"prefetch\": null } }");
	assert_int_equal(c->pool_pages, 0);
	vm_config_free(c);

	static const struct bad_case bad[] = {
		{ "\"shadow\": { \"pool_pages\": 63 }", "shadow.pool_pages", "must be between 64 and 32768" },
		{ "\"shadow\": { \"pool_pages\": 32769 }", "shadow.pool_pages", "must be between 64 and 32768" },
		{ "\"shadow\": { \"pool_pages\": \"big\" }", "shadow.pool_pages", "expected an integer" },
		{ "\"shadow\": { \"prefetch\": 0 }", "shadow.prefetch", "must be between 1 and 64" },
		{ "\"shadow\": { \"prefetch\": 65 }", "shadow.prefetch", "must be between 1 and 64" },
		{ "\"shadow\": { \"zap\": \"some\" }", "shadow.zap", "" },
		{ "\"experimental\": [\"direct-paging\"], \"shadow\": { \"strategy\": \"direct\", \"scatter\": true }",
		  "shadow.scatter", "no scattered physmap" },
	};
	CHECK_BAD(bad);
}

/* shadow.strategy "direct" lets the guest map memory beyond its RAM in its
 * KVM VM: only with the explicit opt-in, with paging "hw" too (where the
 * strategy is kept for a later switch). */
static void test_experimental(void **state)
{
	struct vm_config *c = load_ok("{ " BASE ", \"paging\": \"shadow\", \"experimental\": [\"direct-paging\"],"
				      " \"shadow\": { \"strategy\": \"direct\" } }");

	assert_int_equal(c->strategy, VM_SHADOW_DIRECT);
	assert_int_equal(c->experimental, 1u << VM_EXPERIMENT_DIRECT_PAGING);
	vm_config_free(c);
	c = load_ok("{ " BASE ", \"experimental\": [] }");
	assert_int_equal(c->experimental, 0);
	vm_config_free(c);
	c = load_ok("{ " BASE ", \"experimental\": [\"direct-paging\", \"direct-paging\"] }");
	assert_int_equal(c->experimental, 1u << VM_EXPERIMENT_DIRECT_PAGING);
	vm_config_free(c);
	assert_string_equal(vm_experiment_name(VM_EXPERIMENT_DIRECT_PAGING), "direct-paging");
	assert_null(vm_experiment_name(VM_EXPERIMENT_MAX));

	static const struct bad_case bad[] = {
		{ "\"paging\": \"shadow\", \"shadow\": { \"strategy\": \"direct\" }", "shadow.strategy",
		  "is an experiment: the guest's own page tables reach memory beyond its RAM in its KVM VM; "
		  "opt in with \"experimental\": [\"direct-paging\"]" },
		{ "\"shadow\": { \"strategy\": \"direct\" }", "shadow.strategy", "\"experimental\": [\"direct-paging\"]" },
		{ "\"experimental\": [], \"shadow\": { \"strategy\": \"direct\" }", "shadow.strategy", "opt in" },
		{ "\"experimental\": \"direct-paging\"", "experimental", "expected an array" },
		{ "\"experimental\": [\"direct\"]", "experimental[0]", "must be \"direct-paging\"" },
		{ "\"experimental\": [\"direct-paging\", 3]", "experimental[1]", "must be \"direct-paging\"" },
	};
	CHECK_BAD(bad);
}

static void test_strings(void **state)
{
	static const struct bad_case bad[] = {
		{ "{ \"kernel\": \"/k\" }", "name", "required" },
		{ "{ \"name\": \"vm\" }", "kernel", "required" },
		{ "{ \"name\": 7, \"kernel\": \"/k\" }", "name", "expected a string" },
		{ "{ \"name\": null, \"kernel\": \"/k\" }", "name", "expected a string" },
		{ "{ \"name\": \"v\\u0000m\", \"kernel\": \"/k\" }", "name", "NUL" },
		{ "{ \"name\": \"vm\", \"kernel\": 1 }", "kernel", "expected a string" },
		{ "{ \"name\": \"vm\", \"kernel\": null }", "kernel", "expected a string" },
		{ "{ \"name\": \"vm\", \"kernel\": \"\" }", "kernel", "must be an absolute path" },
		{ "{ \"name\": \"vm\", \"kernel\": \"boot/k\" }", "kernel", "must be an absolute path" },
		{ "{ \"name\": \"vm\", \"kernel\": \"/bo\\u0000ot\" }", "kernel", "NUL" },
		{ "\"initrd\": 1", "initrd", "expected a string or null" },
		{ "\"initrd\": false", "initrd", "expected a string or null" },
		{ "\"initrd\": \"initrd.img\"", "initrd", "must be an absolute path" },
		{ "\"cmdline\": null", "cmdline", "expected a string" },
		{ "\"cmdline\": 3", "cmdline", "expected a string" },
		{ "\"cmdline\": \"a\\u0000b\"", "cmdline", "NUL" },
		{ "\"paging\": 1", "paging", "must be \"hw\" or \"shadow\"" },
		{ "\"paging\": \"HW\"", "paging", "must be \"hw\" or \"shadow\"" },
		{ "\"paging\": null", "paging", "must be \"hw\" or \"shadow\"" },
		{ "\"shadow\": \"cached\"", "shadow", "expected an object" },
		{ "\"shadow\": null", "shadow", "expected an object" },
		{ "\"shadow\": { \"strategy\": \"lru\" }", "shadow.strategy", "must be \"cached\", \"vtlb\" or \"direct\"" },
		{ "\"shadow\": { \"strategy\": 0 }", "shadow.strategy", "must be \"cached\", \"vtlb\" or \"direct\"" },
		{ "\"boot\": \"elf\"", "boot", "must be \"auto\", \"vmmd\", \"pvh\", \"bzimage\" or \"xen-pv\"" },
		{ "\"boot\": \"xen-pv\"", "boot", "runs in paging \"shadow\"" },
		{ "\"boot\": \"xen-pv\", \"paging\": \"hw\"", "boot", "runs in paging \"shadow\"" },
		{ "\"boot\": \"pvh\", \"paging\": \"shadow\"", "boot", "needs paging \"hw\"" },
		{ "\"boot\": \"bzimage\", \"paging\": \"shadow\"", "boot", "needs paging \"hw\"" },
		{ "\"host_profile\": \"pvm\"", "host_profile", "must be \"auto\", \"hardware\" or \"emulated-kernel\"" },
		{ "\"host_profile\": true", "host_profile", "must be" },
		{ "\"on_reset\": \"reboot\"", "on_reset", "must be \"stop\" or \"restart\"" },
		{ "\"console\": null", "console", "expected an object" },
		{ "\"console\": []", "console", "expected an object" },
		{ "\"console\": { \"log\": 5 }", "console.log", "expected a string or null" },
		{ "\"console\": { \"log\": \"vm.log\" }", "console.log", "must be an absolute path" },
	};
	CHECK_BAD(bad);
}

/* Exact lengths at and one past each limit, built at run time. */
static void test_string_limits(void **state)
{
	static char path[VM_PATH_MAX + 64], text[VM_PATH_MAX + 192];
	struct config_error err;
	struct vm_config *c;

	memset(path, 'a', VM_PATH_MAX);
	path[0] = '/';
	path[VM_PATH_MAX] = '\0';
	snprintf(text, sizeof(text), "{ \"name\": \"vm\", \"kernel\": \"%s\" }", path);
	c = load_ok(text);
	assert_int_equal(strlen(c->kernel), VM_PATH_MAX);
	vm_config_free(c);
	strcat(path, "a");
	snprintf(text, sizeof(text), "{ \"name\": \"vm\", \"kernel\": \"%s\" }", path);
	assert_int_equal(load(text, &c, &err), -EINVAL);
	assert_string_equal(err.field, "kernel");
	assert_non_null(strstr(err.message, "at most 4095 bytes"));
	snprintf(text, sizeof(text), "{ " BASE ", \"devices\": [ { \"type\": \"virtio-blk\", \"path\": \"%s\" } ] }",
		 path);
	assert_int_equal(load(text, &c, &err), -EINVAL);
	assert_string_equal(err.field, "devices[0].path");

	memset(path, 'x', VM_CMDLINE_MAX);
	path[VM_CMDLINE_MAX] = '\0';
	snprintf(text, sizeof(text), "{ " BASE ", \"cmdline\": \"%s\" }", path);
	c = load_ok(text);
	assert_int_equal(strlen(c->cmdline), VM_CMDLINE_MAX);
	vm_config_free(c);
	strcat(path, "x");
	snprintf(text, sizeof(text), "{ " BASE ", \"cmdline\": \"%s\" }", path);
	assert_int_equal(load(text, &c, &err), -EINVAL);
	assert_string_equal(err.field, "cmdline");
	assert_non_null(strstr(err.message, "at most 4095 bytes"));

}

static void test_not_object(void **state)
{
	static const struct bad_case bad[] = {
		{ "=[]", "", "expected an object" },
		{ "=\"vm\"", "", "expected an object" },
		{ "=42", "", "expected an object" },
	};
	struct config_error err;
	struct vm_config *c = NULL;

	CHECK_BAD(bad);
	assert_int_equal(vm_config_from_json(NULL, &c, &err), -EINVAL);
	assert_string_equal(err.field, "");
	assert_null(c);
}

static void test_unknown_fields(void **state)
{
	static const struct bad_case bad[] = {
		{ "\"foo\": 1", "foo", "unknown field" },
		{ "\"memroy_mib\": 64", "memroy_mib", "unknown field" },
		{ "\"Name\": \"x\"", "Name", "unknown field" },
		/* Reported even when a required field is also missing. */
		{ "{ \"nmae\": \"vm\", \"kernel\": \"/k\" }", "nmae", "unknown field" },
		{ "\"shadow\": { \"foo\": 1 }", "shadow.foo", "unknown field" },
		{ "\"shadow\": { \"strategy\": \"vtlb\", \"size\": 4 }", "shadow.size", "unknown field" },
		{ "\"console\": { \"log\": null, \"bar\": true }", "console.bar", "unknown field" },
		{ "\"devices\": [ { \"type\": \"virtio-rng\" }, { \"type\": \"virtio-rng\", \"foo\": 1 } ]",
		  "devices[1].foo", "unknown field" },
	};
	CHECK_BAD(bad);
}

static void test_devices(void **state)
{
	static const struct bad_case bad[] = {
		{ "\"devices\": {}", "devices", "expected an array" },
		{ "\"devices\": null", "devices", "expected an array" },
		{ "\"devices\": [ \"virtio-rng\" ]", "devices[0]", "expected an object" },
		{ "\"devices\": [ { \"type\": \"virtio-rng\" }, 3 ]", "devices[1]", "expected an object" },
		{ "\"devices\": [ {} ]", "devices[0].type", "required" },
		{ "\"devices\": [ { \"type\": \"virtio-net\" } ]", "devices[0].type",
		  "must be \"virtio-blk\", \"virtio-console\" or \"virtio-rng\"" },
		{ "\"devices\": [ { \"type\": 1 } ]", "devices[0].type", "must be \"virtio-blk\"" },
		{ "\"devices\": [ { \"type\": \"virtio-blk\" } ]", "devices[0].path", "required for virtio-blk" },
		{ "\"devices\": [ { \"type\": \"virtio-blk\", \"path\": null } ]", "devices[0].path",
		  "expected a string" },
		{ "\"devices\": [ { \"type\": \"virtio-blk\", \"path\": \"d.img\" } ]", "devices[0].path",
		  "must be an absolute path" },
		{ "\"devices\": [ { \"type\": \"virtio-blk\", \"path\": \"/d\", \"readonly\": 1 } ]",
		  "devices[0].readonly", "expected a boolean" },
		{ "\"devices\": [ { \"type\": \"virtio-blk\", \"path\": \"/d\", \"readonly\": \"true\" } ]",
		  "devices[0].readonly", "expected a boolean" },
		{ "\"devices\": [ { \"type\": \"virtio-rng\" }, { \"type\": \"virtio-rng\", \"path\": \"/dev/random\" } ]",
		  "devices[1].path", "not allowed for virtio-rng" },
		{ "\"devices\": [ { \"type\": \"virtio-console\", \"path\": \"/x\" } ]", "devices[0].path",
		  "not allowed for virtio-console" },
		{ "\"devices\": [ { \"type\": \"virtio-console\", \"readonly\": true } ]", "devices[0].readonly",
		  "not allowed for virtio-console" },
	};
	char text[2048];
	size_t len;
	struct config_error err;
	struct vm_config *c;

	CHECK_BAD(bad);

	/* Exactly VM_DEVICES_MAX is fine, one more is not. */
	len = (size_t) snprintf(text, sizeof(text), "{ " BASE ", \"devices\": [");
	for (int i = 0; i < VM_DEVICES_MAX; i++)
		len += (size_t) snprintf(text + len, sizeof(text) - len,
					 "%s{ \"type\": \"virtio-blk\", \"path\": \"/d%d\" }", i ? ", " : "", i);
	snprintf(text + len, sizeof(text) - len, "] }");
	c = load_ok(text);
	assert_int_equal(c->n_devices, VM_DEVICES_MAX);
	assert_string_equal(c->devices[VM_DEVICES_MAX - 1].path, "/d15");
	vm_config_free(c);
	snprintf(text + len, sizeof(text) - len, ", { \"type\": \"virtio-rng\" } ] }");
	assert_int_equal(load(text, &c, &err), -EINVAL);
	assert_string_equal(err.field, "devices");
	assert_non_null(strstr(err.message, "at most 16"));

	/* A failure after an earlier device took a path must not leak it. */
	assert_int_equal(load("{ " BASE ", \"devices\": [ { \"type\": \"virtio-blk\", \"path\": \"/a\" },"
			      " { \"type\": \"virtio-blk\", \"path\": \"rel\" } ] }", &c, &err), -EINVAL);
	assert_string_equal(err.field, "devices[1].path");
}

static void test_names(void **state)
{
	static const char *const good[] = {
		"a", "Z", "0", "vm-1", "web.01_a", "A-._", "9lives",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789a", /* 63 */
	};
	static const char *const bad[] = {
		"", "-a", ".a", "_a", ".", "..", "a b", "a/b", "../x", "a\\b", "é", "vmé", "a\n",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab", /* 64 */
	};
	char text[256];
	struct config_error err;
	struct vm_config *c;

	assert_int_equal(strlen(good[7]), VM_NAME_MAX);
	assert_false(vm_name_valid(NULL));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!vm_name_valid(good[i]))
			fail_msg("\"%s\" refused", good[i]);
		snprintf(text, sizeof(text), "{ \"name\": \"%s\", \"kernel\": \"/k\" }", good[i]);
		c = load_ok(text);
		assert_string_equal(c->name, good[i]);
		vm_config_free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vm_name_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
		struct json_object *o = parse_text("{ \"kernel\": \"/k\" }");
		json_object_object_add(o, "name", json_object_new_string(bad[i]));
		assert_int_equal(vm_config_from_json(o, &c, &err), -EINVAL);
		assert_string_equal(err.field, "name");
		assert_non_null(strstr(err.message, "1 to 63 characters"));
		json_object_put(o);
	}
}

/* --- back to JSON ------------------------------------------------------------ */

static void round_trip(const char *text)
{
	struct vm_config *a = load_ok(text), *b = NULL;
	struct json_object *j1 = vm_config_to_json(a), *j2;
	struct config_error err;

	assert_non_null(j1);
	if (vm_config_from_json(j1, &b, &err) != 0)
		fail_msg("to_json output refused: %s: %s\n%s", err.field, err.message,
			 json_object_to_json_string(j1));
	assert_config_equal(a, b);
	j2 = vm_config_to_json(b);
	assert_true(json_object_equal(j1, j2));
	json_object_put(j2);
	json_object_put(j1);
	vm_config_free(b);
	vm_config_free(a);
}

static void test_round_trip(void **state)
{
	round_trip("{ " BASE " }");
	round_trip(FULL);
	round_trip("{ " BASE ", \"experimental\": [\"direct-paging\"], \"shadow\": { \"strategy\": \"direct\" } }");
	round_trip("{ " BASE ", \"paging\": \"shadow\", \"cmdline\": \"q=\\\"x y\\\" \\u00e9\" }");
}

static void test_to_json_full_form(void **state)
{
	struct vm_config *c = load_ok("{ " BASE " }");
	struct json_object *j = vm_config_to_json(c), *v, *sub;
	static const char *const keys[] = {
		"name", "memory_mib", "vcpus", "paging", "shadow", "kernel", "boot", "host_profile", "on_reset",
		"initrd", "cmdline", "console", "devices", "experimental",
	};

	assert_non_null(j);
	assert_int_equal(json_object_object_length(j), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!json_object_object_get_ex(j, keys[i], NULL))
			fail_msg("to_json lacks %s", keys[i]);
	assert_true(json_object_object_get_ex(j, "initrd", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(j, "memory_mib", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int(v), 64);
	assert_true(json_object_object_get_ex(j, "paging", &v));
	assert_string_equal(json_object_get_string(v), "hw");
	assert_true(json_object_object_get_ex(j, "shadow", &sub));
	assert_true(json_object_object_get_ex(sub, "strategy", &v));
	assert_string_equal(json_object_get_string(v), "cached");
	assert_true(json_object_object_get_ex(j, "console", &sub));
	assert_true(json_object_object_get_ex(sub, "log", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(j, "cmdline", &v));
	assert_string_equal(json_object_get_string(v), "");
	assert_true(json_object_object_get_ex(j, "devices", &v));
	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), 0);
	json_object_put(j);
	vm_config_free(c);

	/* Devices: only a block device carries path and readonly. */
	c = load_ok(FULL);
	j = vm_config_to_json(c);
	assert_true(json_object_object_get_ex(j, "devices", &sub));
	v = json_object_array_get_idx(sub, 0);
	assert_int_equal(json_object_object_length(v), 3);
	v = json_object_array_get_idx(sub, 2);
	assert_int_equal(json_object_object_length(v), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "type")), "virtio-rng");
	json_object_put(j);

	/* A hand-built config with a bad enum fails cleanly (and leak-free). */
	c->devices[2].type = (enum vm_device_type) 9;
	assert_null(vm_config_to_json(c));
	c->devices[2].type = VM_DEV_VIRTIO_RNG;
	c->strategy = (enum vm_shadow_strategy) 9;
	assert_null(vm_config_to_json(c));
	vm_config_free(c);
}

static void test_dup(void **state)
{
	struct vm_config *a = load_ok(FULL), *b = vm_config_dup(a);

	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_config_equal(a, b);
	assert_ptr_not_equal(a->kernel, b->kernel);
	assert_ptr_not_equal(a->initrd, b->initrd);
	assert_ptr_not_equal(a->cmdline, b->cmdline);
	assert_ptr_not_equal(a->console_log, b->console_log);
	assert_ptr_not_equal(a->devices[0].path, b->devices[0].path);
	assert_null(b->devices[1].path);
	/* The copy outlives the original (use-after-free shows under ASan). */
	vm_config_free(a);
	assert_string_equal(b->kernel, "/boot/kernel.elf");
	assert_string_equal(b->devices[3].path, "/img/b.img");
	vm_config_free(b);

	a = load_ok("{ " BASE " }");
	b = vm_config_dup(a);
	assert_config_equal(a, b);
	vm_config_free(a);
	vm_config_free(b);
	assert_null(vm_config_dup(NULL));
	vm_config_free(NULL);
}

static void test_enum_names(void **state)
{
	assert_string_equal(vm_paging_name(VM_PAGING_HW), "hw");
	assert_string_equal(vm_paging_name(VM_PAGING_SHADOW), "shadow");
	assert_null(vm_paging_name((enum vm_paging) 2));
	assert_string_equal(vm_strategy_name(VM_SHADOW_CACHED), "cached");
	assert_string_equal(vm_strategy_name(VM_SHADOW_VTLB), "vtlb");
	assert_null(vm_strategy_name((enum vm_shadow_strategy) 7));
	assert_string_equal(vm_device_type_name(VM_DEV_VIRTIO_BLK), "virtio-blk");
	assert_string_equal(vm_device_type_name(VM_DEV_VIRTIO_CONSOLE), "virtio-console");
	assert_string_equal(vm_device_type_name(VM_DEV_VIRTIO_RNG), "virtio-rng");
	assert_null(vm_device_type_name((enum vm_device_type) -1));
}

/* --- relative paths ---------------------------------------------------------- */

static const char *member_string(struct json_object *o, const char *path)
{
	/* "a.b" or "devices[N].path" */
	struct json_object *v = o;
	unsigned idx;

	if (sscanf(path, "devices[%u]", &idx) == 1) {
		v = json_object_array_get_idx(json_object_object_get(o, "devices"), idx);
		path = strchr(path, '.') + 1;
	} else if (strchr(path, '.')) {
		v = json_object_object_get(o, "console");
		path = strchr(path, '.') + 1;
	}
	return json_object_get_string(json_object_object_get(v, path));
}

static void test_resolve_paths(void **state)
{
	struct json_object *o = parse_text(
		"{ \"name\": \"vm\", \"kernel\": \"build/guests/hello.elf\", \"initrd\": \"./i.img\","
		" \"console\": { \"log\": \"/abs/log\" }, \"devices\": [ { \"type\": \"virtio-rng\" },"
		" { \"type\": \"virtio-blk\", \"path\": \".//disk.img\" }, 7 ] }");
	struct config_error err;
	struct vm_config *c;

	assert_int_equal(vm_config_resolve_paths(o, "/home/u/vmmd/", &err), 0);
	assert_string_equal(member_string(o, "kernel"), "/home/u/vmmd/build/guests/hello.elf");
	assert_string_equal(member_string(o, "initrd"), "/home/u/vmmd/i.img");
	assert_string_equal(member_string(o, "console.log"), "/abs/log");
	assert_string_equal(member_string(o, "devices[1].path"), "/home/u/vmmd/disk.img");
	json_object_put(o);

	/* Root as base; console.log relative; null and wrong types are left alone. */
	o = parse_text("{ \"name\": \"vm\", \"kernel\": \"k\", \"initrd\": null,"
		       " \"console\": { \"log\": \"vm.log\" }, \"cmdline\": \"rel\" }");
	assert_int_equal(vm_config_resolve_paths(o, "/", &err), 0);
	assert_string_equal(member_string(o, "kernel"), "/k");
	assert_string_equal(member_string(o, "console.log"), "/vm.log");
	assert_string_equal(member_string(o, "cmdline"), "rel");
	assert_int_equal(vm_config_from_json(o, &c, &err), 0);
	assert_null(c->initrd);
	vm_config_free(c);
	json_object_put(o);

	o = parse_text("{ \"kernel\": 5, \"devices\": \"x\", \"console\": 1 }");
	assert_int_equal(vm_config_resolve_paths(o, "/b", &err), 0);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "kernel")), 5);
	json_object_put(o);

	/* A non-object is left for from_json to refuse. */
	o = parse_text("[ \"k\" ]");
	assert_int_equal(vm_config_resolve_paths(o, "/b", &err), 0);
	json_object_put(o);
}

static void test_resolve_paths_errors(void **state)
{
	struct json_object *o = parse_text("{ \"kernel\": \"k\", \"devices\": [ { \"type\": \"virtio-blk\","
					   " \"path\": \"d.img\" } ] }");
	char *base = malloc(VM_PATH_MAX + 2);
	struct config_error err;

	assert_int_equal(vm_config_resolve_paths(o, "rel/dir", &err), -EINVAL);
	assert_string_equal(err.field, "");
	assert_int_equal(vm_config_resolve_paths(o, NULL, &err), -EINVAL);
	assert_int_equal(vm_config_resolve_paths(o, "", NULL), -EINVAL);

	/* base (4092) + "/" + "k" fits exactly; "d.img" does not: nothing changes. */
	assert_non_null(base);
	memset(base, 'b', VM_PATH_MAX - 2);
	base[0] = '/';
	base[VM_PATH_MAX - 2] = '\0';
	assert_int_equal(vm_config_resolve_paths(o, base, &err), -EINVAL);
	assert_string_equal(err.field, "devices[0].path");
	assert_non_null(strstr(err.message, "4095"));
	assert_string_equal(member_string(o, "kernel"), "k");
	json_object_object_del(o, "devices");
	assert_int_equal(vm_config_resolve_paths(o, base, &err), 0);
	assert_int_equal(strlen(member_string(o, "kernel")), VM_PATH_MAX);
	json_object_put(o);
	free(base);
}

/* --- shipped examples -------------------------------------------------------- */

#define FAKE_ROOT "/opt/vmmd-src"

static void check_example(const char *file, const struct vm_config *c)
{
	const char *slash = strrchr(file, '/');
	const char *base = slash ? slash + 1 : file;

	/* Every example boots a guest built by this tree, relative to the root:
	 * vmmd's own guests, or the Linux tier's kernel (scripts/build-linux-guest). */
	if (strcmp(base, "linux.json") == 0) {
		assert_string_equal(c->kernel, FAKE_ROOT "/build/linux/bzImage");
		assert_string_equal(c->initrd, FAKE_ROOT "/build/linux/initramfs.cpio.gz");
		assert_int_equal(c->boot, VM_BOOT_AUTO);
		assert_int_equal(c->n_devices, 2);
		assert_int_equal(c->devices[0].type, VM_DEV_VIRTIO_BLK);
		assert_string_equal(c->devices[0].path, FAKE_ROOT "/build/linux/disk.img");
		return;
	}
	/* Debian's stock kernel as a Xen PV guest (scripts/get-debian-kernel, scripts/build-initramfs). */
	if (strcmp(base, "debian-pv.json") == 0) {
		assert_string_equal(c->kernel, FAKE_ROOT "/build/debian-kernel/vmlinuz");
		assert_string_equal(c->initrd, FAKE_ROOT "/build/initramfs/busybox.cpio.gz");
		assert_int_equal(c->boot, VM_BOOT_XENPV);
		assert_int_equal(c->paging, VM_PAGING_SHADOW);
		assert_non_null(strstr(c->cmdline, "console=hvc0"));
		return;
	}
	if (strncmp(c->kernel, FAKE_ROOT "/build/guests/", strlen(FAKE_ROOT "/build/guests/")) != 0)
		fail_msg("%s: kernel %s is not under build/guests/", file, c->kernel);
	if (strcmp(base, "hello.json") == 0) {
		assert_string_equal(c->name, "hello");
		assert_int_equal(c->memory_mib, 16);
		assert_int_equal(c->vcpus, 1);
		assert_int_equal(c->paging, VM_PAGING_HW);
		assert_string_equal(c->kernel, FAKE_ROOT "/build/guests/hello.elf");
		assert_string_equal(c->cmdline, "exit=0");
	} else if (strcmp(base, "hello-2vcpu.json") == 0) {
		assert_string_equal(c->name, "hello2");
		assert_int_equal(c->vcpus, 2);
		assert_string_equal(c->kernel, FAKE_ROOT "/build/guests/hello.elf");
	} else if (strcmp(base, "spin.json") == 0) {
		assert_string_equal(c->name, "spin");
		assert_string_equal(c->kernel, FAKE_ROOT "/build/guests/spin.elf");
	} else if (strcmp(base, "triple.json") == 0) {
		assert_string_equal(c->name, "triple");
		assert_string_equal(c->kernel, FAKE_ROOT "/build/guests/triple.elf");
	}
}

static void test_examples_load(void **state)
{
	const char *srcdir = getenv("VMMD_SRCDIR") ? getenv("VMMD_SRCDIR") : ".";
	char dir[1024], file[2048], names[64][VM_NAME_MAX + 1];
	unsigned found = 0, n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/config/examples", srcdir);
	d = opendir(dir);
	if (!d)
		fail_msg("%s: %s (run from the repo root or set VMMD_SRCDIR)", dir, strerror(errno));
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct json_object *o;
		struct config_error err;
		struct vm_config *c;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
		o = json_object_from_file(file);
		if (!o)
			fail_msg("%s: not JSON: %s", file, json_util_get_last_err());
		/* As vmmctl does, with the repo root as its cwd. */
		assert_int_equal(vm_config_resolve_paths(o, FAKE_ROOT, &err), 0);
		if (vm_config_from_json(o, &c, &err) != 0)
			fail_msg("%s: %s: %s", file, err.field, err.message);
		json_object_put(o);
		check_example(file, c);
		/* Names are unique so all examples can be defined at once. */
		for (unsigned i = 0; i < n; i++)
			if (strcmp(names[i], c->name) == 0)
				fail_msg("%s: name %s used by another example", file, c->name);
		if (n < 64)
			memcpy(names[n++], c->name, sizeof(names[0]));
		if (!strcmp(de->d_name, "hello.json") || !strcmp(de->d_name, "spin.json") ||
		    !strcmp(de->d_name, "triple.json") || !strcmp(de->d_name, "hello-2vcpu.json"))
			found++;
		vm_config_free(c);
	}
	closedir(d);
	assert_int_equal(found, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_scatter),
		cmocka_unit_test(test_shadow_tuning),
		cmocka_unit_test(test_experimental),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_string_limits),
		cmocka_unit_test(test_not_object),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_to_json_full_form),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_resolve_paths),
		cmocka_unit_test(test_resolve_paths_errors),
		cmocka_unit_test(test_examples_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
