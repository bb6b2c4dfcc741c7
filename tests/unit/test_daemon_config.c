/* SPDX-License-Identifier: MIT */
/*
 * config/daemon_config.c: defaults, the order access rules are tried in,
 * every limit's range with the exact field path, unknown fields, WHO
 * syntax, and files: JSON errors with line and column, unreadable, empty,
 * too large, and the shipped example (packaging/vmmd.json.example, read
 * from $VMMD_SRCDIR, default the cwd = the repo root), which must spell out
 * the defaults.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/daemon_config.h"

static int load(const char *text, struct daemon_config *ret, struct config_error *err)
{
	struct json_object *o = json_tokener_parse(text);
	int r;

	if (!o)
		fail_msg("test bug: not JSON: %s", text);
	r = daemon_config_from_json(o, ret, err);
	json_object_put(o);
	return r;
}

static struct daemon_config load_ok(const char *text)
{
	struct config_error err = { "", "" };
	struct daemon_config c;

	if (load(text, &c, &err) != 0)
		fail_msg("%s: rejected: %s: %s", text, err.field, err.message);
	return c;
}

struct bad_case {
	const char *json;
	const char *field;     /* exact */
	const char *message;   /* substring */
};

static void check_bad(const struct bad_case *t)
{
	struct daemon_config c;
	struct config_error err = { "?", "?" };
	int r;

	memset(&c, 0xa5, sizeof(c));
	r = load(t->json, &c, &err);
	if (r != -EINVAL || strcmp(err.field, t->field) != 0 || !strstr(err.message, t->message))
		fail_msg("%s\n  got r=%d field=\"%s\" message=\"%s\"\n  want field=\"%s\" message~\"%s\"",
			 t->json, r, err.field, err.message, t->field, t->message);
	/* ret untouched on failure */
	assert_int_equal(c.max_vms, 0xa5a5a5a5u);
}

#define CHECK_BAD(table) for (size_t i_ = 0; i_ < sizeof(table) / sizeof((table)[0]); i_++) check_bad(&(table)[i_])

static void assert_defaults(const struct daemon_config *c)
{
	assert_int_equal(c->max_vms, 1024);
	assert_int_equal(c->max_total_memory_mib, 0);
	assert_false(c->max_total_memory_set);   /* the daemon makes it 3/4 of MemTotal */
	assert_int_equal(c->max_connections, 256);
	assert_int_equal(c->max_connections_per_user, 32);
	assert_int_equal(c->admin_connections, 8);
	assert_int_equal(c->idle_timeout_s, 900);
	assert_int_equal(c->message_timeout_s, 30);
	assert_int_equal(c->console_buffer_kib, 64);
	assert_int_equal(c->max_message_kib, 1024);
	assert_int_equal(c->inspect_per_second, 20);
	assert_string_equal(c->sandbox_user, "");
	assert_int_equal(c->sandbox_uid_base, 1879048192u);
	assert_int_equal(c->sandbox_uid_count, 65536);
	assert_int_equal(c->n_path_dirs, 0);
	assert_int_equal(c->log_max_kib, 16384);
	assert_int_equal(c->log_rotate, 1);
	assert_int_equal(c->call_timeout_s, 30);
	assert_int_equal(c->boot_timeout_s, 120);
}

static void test_defaults(void **state)
{
	struct daemon_config c, init;

	c = load_ok("{}");
	assert_defaults(&c);
	assert_int_equal(c.n_rules, 0);
	assert_false(c.others_set);
	assert_int_equal(c.others, DAEMON_ROLE_MONITOR);

	daemon_config_init(&init);
	assert_defaults(&init);

	/* Empty sections are the defaults too; err may be NULL. */
	c = load_ok("{ \"access\": {}, \"limits\": {} }");
	assert_defaults(&c);
	struct json_object *o = json_tokener_parse("{}");
	assert_int_equal(daemon_config_from_json(o, &c, NULL), 0);
	json_object_put(o);
}

static void test_limits(void **state)
{
	struct daemon_config c;

	c = load_ok("{ \"limits\": { \"max_vms\": 3, \"max_total_memory_mib\": 4096, \"max_connections\": 2,"
		    " \"console_buffer_kib\": 4, \"max_message_kib\": 64 } }");
	assert_int_equal(c.max_vms, 3);
	assert_int_equal(c.max_total_memory_mib, 4096);
	assert_int_equal(c.max_connections, 2);
	assert_int_equal(c.console_buffer_kib, 4);
	assert_int_equal(c.max_message_kib, 64);
	assert_int_equal(c.n_rules, 0);

	/* The other ends, and JSON's integral doubles. */
	c = load_ok("{ \"limits\": { \"max_vms\": 65536, \"max_total_memory_mib\": 1073741824,"
		    " \"max_connections\": 65536.0, \"console_buffer_kib\": 16384, \"max_message_kib\": 8192 } }");
	assert_int_equal(c.max_vms, DAEMON_MAX_VMS_MAX);
	assert_true(c.max_total_memory_mib == DAEMON_MAX_MEMORY_MIB_MAX);
	assert_int_equal(c.max_connections, 65536);
	assert_int_equal(c.console_buffer_kib, 16384);
	assert_int_equal(c.max_message_kib, 8192);

	c = load_ok("{ \"limits\": { \"max_total_memory_mib\": 0 } }");
	assert_int_equal(c.max_total_memory_mib, 0);
	assert_true(c.max_total_memory_set);   /* 0 given: unlimited, as asked */
	c = load_ok("{ \"limits\": { \"max_vms\": 3 } }");
	assert_false(c.max_total_memory_set);  /* not given: the daemon makes it a share of MemTotal */
	/* That share (finding 17): three quarters, in MiB, never 0 (which would mean unlimited). */
	assert_int_equal(daemon_config_memory_default_mib(24 * 1024 * 1024), 18 * 1024);
	assert_int_equal(daemon_config_memory_default_mib(24641332), 18045);   /* this project's 23.5 GiB */
	assert_int_equal(daemon_config_memory_default_mib(1000), 1);
	c = load_ok("{ \"limits\": { \"inspect_per_second\": 0 } }");
	assert_int_equal(c.inspect_per_second, 0);
	c = load_ok("{ \"limits\": { \"inspect_per_second\": 100000 } }");
	assert_int_equal(c.inspect_per_second, 100000);

	/* Connections (issue 14, finding 11). Slots for admins not given: a
	 * quarter of a small total at most; given, they must leave some. */
	c = load_ok("{ \"limits\": { \"max_connections_per_user\": 4, \"admin_connections\": 2,"
		    " \"idle_timeout_s\": 0, \"message_timeout_s\": 1 } }");
	assert_int_equal(c.max_connections_per_user, 4);
	assert_int_equal(c.admin_connections, 2);
	assert_int_equal(c.idle_timeout_s, 0);
	assert_int_equal(c.message_timeout_s, 1);
	c = load_ok("{ \"limits\": { \"max_connections\": 3 } }");
	assert_int_equal(c.admin_connections, 0);
	c = load_ok("{ \"limits\": { \"max_connections\": 20 } }");
	assert_int_equal(c.admin_connections, 5);
	c = load_ok("{ \"limits\": { \"max_connections\": 3, \"admin_connections\": 2 } }");
	assert_int_equal(c.admin_connections, 2);

	static const struct bad_case bad[] = {
		{ "{ \"limits\": { \"max_vms\": 0 } }", "limits.max_vms", "between 1 and 65536" },
		{ "{ \"limits\": { \"max_vms\": 65537 } }", "limits.max_vms", "between 1 and 65536" },
		{ "{ \"limits\": { \"max_vms\": -1 } }", "limits.max_vms", "between" },
		{ "{ \"limits\": { \"max_vms\": \"10\" } }", "limits.max_vms", "expected an integer" },
		{ "{ \"limits\": { \"max_vms\": 1.5 } }", "limits.max_vms", "expected an integer" },
		{ "{ \"limits\": { \"max_vms\": null } }", "limits.max_vms", "expected an integer" },
		{ "{ \"limits\": { \"max_vms\": 1e300 } }", "limits.max_vms", "between" },
		{ "{ \"limits\": { \"max_total_memory_mib\": -5 } }", "limits.max_total_memory_mib", "between 0 and" },
		{ "{ \"limits\": { \"max_total_memory_mib\": 1073741825 } }", "limits.max_total_memory_mib",
		  "between 0 and 1073741824" },
		{ "{ \"limits\": { \"max_total_memory_mib\": 99999999999999999999 } }", "limits.max_total_memory_mib",
		  "between" },
		{ "{ \"limits\": { \"max_connections\": 0 } }", "limits.max_connections", "between 1 and 65536" },
		{ "{ \"limits\": { \"max_connections\": true } }", "limits.max_connections", "expected an integer" },
		{ "{ \"limits\": { \"max_connections_per_user\": 0 } }", "limits.max_connections_per_user",
		  "between 1 and 65536" },
		{ "{ \"limits\": { \"max_connections\": 3, \"admin_connections\": 3 } }", "limits.admin_connections",
		  "below max_connections (3)" },
		{ "{ \"limits\": { \"admin_connections\": 256 } }", "limits.admin_connections",
		  "below max_connections (256)" },
		{ "{ \"limits\": { \"idle_timeout_s\": 86401 } }", "limits.idle_timeout_s", "between 0 and 86400" },
		{ "{ \"limits\": { \"message_timeout_s\": 0 } }", "limits.message_timeout_s", "between 1 and 3600" },
		{ "{ \"limits\": { \"console_buffer_kib\": 3 } }", "limits.console_buffer_kib", "between 4 and 16384" },
		{ "{ \"limits\": { \"console_buffer_kib\": 16385 } }", "limits.console_buffer_kib", "between 4 and 16384" },
		{ "{ \"limits\": { \"max_message_kib\": 63 } }", "limits.max_message_kib", "between 64 and 8192" },
		{ "{ \"limits\": { \"max_message_kib\": 8193 } }", "limits.max_message_kib", "between 64 and 8192" },
		{ "{ \"limits\": { \"inspect_per_second\": 100001 } }", "limits.inspect_per_second", "between 0 and 100000" },
		{ "{ \"limits\": { \"inspect_per_second\": -1 } }", "limits.inspect_per_second", "between 0 and 100000" },
		{ "{ \"limits\": [] }", "limits", "expected an object" },
		{ "{ \"limits\": null }", "limits", "expected an object" },
	};
	CHECK_BAD(bad);
}

/* The users workers run as (issue 14, finding 13): a range, or one user. */
static void test_sandbox(void **state)
{
	struct daemon_config c = load_ok("{ \"sandbox\": { \"uid_base\": 100000, \"uid_count\": 10 } }");
	assert_int_equal(c.sandbox_uid_base, 100000);
	assert_int_equal(c.sandbox_uid_count, 10);
	assert_string_equal(c.sandbox_user, "");
	c = load_ok("{ \"sandbox\": { \"uid_base\": 2147483646, \"uid_count\": 2 } }");
	assert_int_equal(c.sandbox_uid_count, 2);
	c = load_ok("{ \"sandbox\": { \"user\": \"vmm-worker\" } }");
	assert_string_equal(c.sandbox_user, "vmm-worker");
	c = load_ok("{ \"sandbox\": { \"user\": \"4242\" } }");
	assert_string_equal(c.sandbox_user, "4242");

	static const struct bad_case bad[] = {
		{ "{ \"sandbox\": [] }", "sandbox", "expected an object" },
		{ "{ \"sandbox\": { \"uid\": 5 } }", "sandbox.uid", "unknown field" },
		{ "{ \"sandbox\": { \"uid_base\": 0 } }", "sandbox.uid_base", "between 1 and 2147483647" },
		{ "{ \"sandbox\": { \"uid_base\": 2147483647, \"uid_count\": 2 } }", "sandbox.uid_count",
		  "at or below 2147483647" },
		{ "{ \"sandbox\": { \"uid_count\": 0 } }", "sandbox.uid_count", "between 1 and" },
		{ "{ \"sandbox\": { \"uid_base\": 60000, \"uid_count\": 6000 } }", "sandbox.uid_base", "65534" },
		{ "{ \"sandbox\": { \"uid_base\": 65535 } }", "sandbox.uid_base", "65534" },
		{ "{ \"sandbox\": { \"user\": \"@vmm\" } }", "sandbox.user", "not a group" },
		{ "{ \"sandbox\": { \"user\": \"a b\" } }", "sandbox.user", "is not allowed" },
		{ "{ \"sandbox\": { \"user\": 5 } }", "sandbox.user", "expected a string" },
		{ "{ \"sandbox\": { \"user\": \"x\", \"uid_count\": 5 } }", "sandbox.user", "not both" },
	};
	CHECK_BAD(bad);
}

/* files, console_log and workers (issue 14 findings 4, 7, 9, 10). */
static void test_files_log_workers(void **state)
{
	struct daemon_config c;

	c = load_ok("{ \"files\": { \"path_dirs\": [\"/var/lib/vmmd/images/\", \"/srv/vm\"] },"
		    " \"console_log\": { \"max_kib\": 0, \"rotate\": 9 },"
		    " \"workers\": { \"call_timeout_s\": 1, \"boot_timeout_s\": 3600 } }");
	assert_int_equal(c.n_path_dirs, 2);
	assert_string_equal(c.path_dirs[0], "/var/lib/vmmd/images");   /* the trailing slash dropped */
	assert_string_equal(c.path_dirs[1], "/srv/vm");
	assert_int_equal(c.log_max_kib, 0);
	assert_int_equal(c.log_rotate, 9);
	assert_int_equal(c.call_timeout_s, 1);
	assert_int_equal(c.boot_timeout_s, 3600);

	static const struct bad_case bad[] = {
		{ "{ \"files\": { \"path_dirs\": [\"images\"] } }", "files.path_dirs[0]", "absolute folder" },
		{ "{ \"files\": { \"path_dirs\": [\"/\"] } }", "files.path_dirs[0]", "other than /" },
		{ "{ \"files\": { \"path_dirs\": [\"/a\", \"/b/../etc\"] } }", "files.path_dirs[1]", "without . or .." },
		{ "{ \"files\": { \"path_dirs\": [\"/a/./b\"] } }", "files.path_dirs[0]", "without . or .." },
		{ "{ \"files\": { \"path_dirs\": [\"/a//b\"] } }", "files.path_dirs[0]", "without . or .." },
		{ "{ \"files\": { \"path_dirs\": [1] } }", "files.path_dirs[0]", "expected a string" },
		{ "{ \"files\": { \"path_dirs\": \"/a\" } }", "files.path_dirs", "expected an array" },
		{ "{ \"files\": { \"path_dirs\": [\"/1\",\"/2\",\"/3\",\"/4\",\"/5\",\"/6\",\"/7\",\"/8\",\"/9\"] } }",
		  "files.path_dirs", "at most 8" },
		{ "{ \"files\": { \"dirs\": [] } }", "files.dirs", "unknown field" },
		{ "{ \"console_log\": { \"max_kib\": 3 } }", "console_log.max_kib", "0 or between 4 and" },
		{ "{ \"console_log\": { \"rotate\": 10 } }", "console_log.rotate", "between 0 and 9" },
		{ "{ \"console_log\": { \"keep\": 1 } }", "console_log.keep", "unknown field" },
		{ "{ \"workers\": { \"call_timeout_s\": 0 } }", "workers.call_timeout_s", "between 1 and 3600" },
		{ "{ \"workers\": { \"boot_timeout_s\": 3601 } }", "workers.boot_timeout_s", "between 1 and 3600" },
		{ "{ \"workers\": [] }", "workers", "expected an object" },
	};
	CHECK_BAD(bad);
}

static void test_unknown_fields(void **state)
{
	static const struct bad_case bad[] = {
		{ "{ \"limit\": {} }", "limit", "unknown field" },
		{ "{ \"limits\": { \"max_conections\": 16 } }", "limits.max_conections", "unknown field" },
		{ "{ \"access\": { \"admins\": [] } }", "access.admins", "unknown field" },
		{ "{ \"access\": { \"read-only\": [] } }", "access.read-only", "unknown field" },
		/* Unknown fields are reported before bad values elsewhere. */
		{ "{ \"limits\": { \"max_vms\": 0 }, \"x\": 1 }", "x", "unknown field" },
		{ "=[]", "", "expected an object" },
		{ "=3", "", "expected an object" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bad_case t = bad[i];
		t.json += t.json[0] == '=';
		check_bad(&t);
	}

	/* A very long unknown key is cut in the field, not overflowed. */
	char text[512], key[300];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(text, sizeof(text), "{ \"limits\": { \"%s\": 1 } }", key);
	struct daemon_config c;
	struct config_error err;
	assert_int_equal(load(text, &c, &err), -EINVAL);
	assert_true(strncmp(err.field, "limits.kkkk", 11) == 0);
	assert_int_equal(strlen(err.field), sizeof(err.field) - 1);
	assert_string_equal(err.message, "unknown field");
}

static void test_access_order(void **state)
{
	struct daemon_config c = load_ok(
		"{ \"access\": { \"admin\": [\"alice\", \"@wheel\", \"1001\"],"
		" \"read_only\": [\"@4242\", \"bob\"], \"no_access\": [\"@banned\", \"mallory\"],"
		" \"debug\": [\"@dbg\", \"carol\"], \"monitor\": [\"@vmm\", \"dave\"],"
		" \"others\": \"none\" } }");
	/* Users before groups; no_access, monitor, debug, read_only (debug's old
	 * name), admin: the more restrictive first; each list in order. */
	static const struct { const char *who; enum daemon_role role; const char *field; } want[] = {
		{ "mallory", DAEMON_ROLE_NONE, "access.no_access[1]" },
		{ "dave", DAEMON_ROLE_MONITOR, "access.monitor[1]" },
		{ "carol", DAEMON_ROLE_DEBUG, "access.debug[1]" },
		{ "bob", DAEMON_ROLE_DEBUG, "access.read_only[1]" },
		{ "alice", DAEMON_ROLE_ADMIN, "access.admin[0]" },
		{ "1001", DAEMON_ROLE_ADMIN, "access.admin[2]" },
		{ "@banned", DAEMON_ROLE_NONE, "access.no_access[0]" },
		{ "@vmm", DAEMON_ROLE_MONITOR, "access.monitor[0]" },
		{ "@dbg", DAEMON_ROLE_DEBUG, "access.debug[0]" },
		{ "@4242", DAEMON_ROLE_DEBUG, "access.read_only[0]" },
		{ "@wheel", DAEMON_ROLE_ADMIN, "access.admin[1]" },
	};
	assert_int_equal(c.n_rules, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < c.n_rules; i++) {
		assert_string_equal(c.rules[i].who, want[i].who);
		assert_int_equal(c.rules[i].role, want[i].role);
		assert_string_equal(c.rules[i].field, want[i].field);
	}
	assert_true(c.others_set);
	assert_int_equal(c.others, DAEMON_ROLE_NONE);
	assert_defaults(&c);

	c = load_ok("{ \"access\": { \"others\": \"admin\" } }");
	assert_int_equal(c.others, DAEMON_ROLE_ADMIN);
	c = load_ok("{ \"access\": { \"others\": \"read\", \"admin\": [] } }");
	assert_int_equal(c.others, DAEMON_ROLE_DEBUG);   /* debug's old name */
	assert_true(c.others_set);
	assert_int_equal(c.n_rules, 0);
	c = load_ok("{ \"access\": { \"others\": \"monitor\" } }");
	assert_int_equal(c.others, DAEMON_ROLE_MONITOR);
	c = load_ok("{ \"access\": { \"others\": \"debug\" } }");
	assert_int_equal(c.others, DAEMON_ROLE_DEBUG);

	assert_string_equal(daemon_role_name(DAEMON_ROLE_NONE), "none");
	assert_string_equal(daemon_role_name(DAEMON_ROLE_MONITOR), "monitor");
	assert_string_equal(daemon_role_name(DAEMON_ROLE_DEBUG), "debug");
	assert_string_equal(daemon_role_name(DAEMON_ROLE_ADMIN), "admin");
	assert_null(daemon_role_name((enum daemon_role) 7));
}

static void test_access_errors(void **state)
{
	static const struct bad_case bad[] = {
		{ "{ \"access\": [] }", "access", "expected an object" },
		{ "{ \"access\": { \"admin\": \"alice\" } }", "access.admin", "expected an array" },
		{ "{ \"access\": { \"admin\": [\"alice\", 1000] } }", "access.admin[1]", "expected a string" },
		{ "{ \"access\": { \"read_only\": [\"\"] } }", "access.read_only[0]", "expected a user name" },
		{ "{ \"access\": { \"no_access\": [\"@\"] } }", "access.no_access[0]", "expected a user name" },
		{ "{ \"access\": { \"admin\": [\"@@x\"] } }", "access.admin[0]", "'@' is not allowed" },
		{ "{ \"access\": { \"admin\": [\"a b\"] } }", "access.admin[0]", "is not allowed" },
		{ "{ \"access\": { \"admin\": [\"a:b\"] } }", "access.admin[0]", "':' is not allowed" },
		{ "{ \"access\": { \"admin\": [\"a\\u0000b\"] } }", "access.admin[0]", "NUL" },
		{ "{ \"access\": { \"admin\": [\"4294967295\"] } }", "access.admin[0]", "id out of range" },
		{ "{ \"access\": { \"admin\": [\"@99999999999\"] } }", "access.admin[0]", "id out of range" },
		{ "{ \"access\": { \"others\": \"everyone\" } }", "access.others", "\"admin\", \"debug\", \"monitor\" or \"none\"" },
		{ "{ \"access\": { \"others\": null } }", "access.others", "\"admin\", \"debug\", \"monitor\" or \"none\"" },
	};
	CHECK_BAD(bad);

	/* At most DAEMON_CONFIG_MAX_RULES in all lists together. */
	char text[4096];
	size_t len = (size_t) snprintf(text, sizeof(text), "{ \"access\": { \"admin\": [");
	for (int i = 0; i < 20; i++)
		len += (size_t) snprintf(text + len, sizeof(text) - len, "%s\"%d\"", i ? ", " : "", 1000 + i);
	len += (size_t) snprintf(text + len, sizeof(text) - len, "], \"read_only\": [");
	for (int i = 0; i < 12; i++)
		len += (size_t) snprintf(text + len, sizeof(text) - len, "%s\"@%d\"", i ? ", " : "", 2000 + i);
	snprintf(text + len, sizeof(text) - len, "] } }");
	struct daemon_config c = load_ok(text);
	assert_int_equal(c.n_rules, DAEMON_CONFIG_MAX_RULES);
	assert_string_equal(c.rules[0].who, "1000");   /* users first, though read_only comes first */
	assert_string_equal(c.rules[20].who, "@2000");

	snprintf(text + len, sizeof(text) - len, ", \"@9\"] } }");
	/* Lists are counted no_access, monitor, debug, read_only, admin: the 33rd is admin's last. */
	struct bad_case too_many = { text, "access.admin[19]", "at most 32 access rules" };
	check_bad(&too_many);
}

/* --- files ------------------------------------------------------------------ */

static char tmpdir[64];

static int setup_tmp(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_daemon_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void check_file_bad(const char *text, int want_r, const char *field, const char *message)
{
	struct config_error err = { "?", "?" };
	struct daemon_config c;
	const char *path = write_file("bad.json", text, strlen(text));
	int r = daemon_config_load(path, &c, &err);

	if (r != want_r || strcmp(err.field, field) != 0 || !strstr(err.message, message))
		fail_msg("file %s\n  got r=%d field=\"%s\" message=\"%s\"\n  want r=%d field=\"%s\" message~\"%s\"",
			 text, r, err.field, err.message, want_r, field, message);
}

static void test_file_ok(void **state)
{
	const char *text = "{\n  \"limits\": { \"max_vms\": 7 },\n  \"access\": { \"admin\": [\"@kvm\"] }\n}\n";
	const char *path = write_file("ok.json", text, strlen(text));
	struct daemon_config c;
	struct config_error err = { "", "" };

	if (daemon_config_load(path, &c, &err) != 0)
		fail_msg("%s: %s", err.field, err.message);
	assert_int_equal(c.max_vms, 7);
	assert_int_equal(c.n_rules, 1);
	assert_string_equal(c.rules[0].who, "@kvm");
	assert_int_equal(c.max_connections, 256);
	/* err may be NULL */
	assert_int_equal(daemon_config_load(path, &c, NULL), 0);
}

static void test_file_errors(void **state)
{
	check_file_bad("", -EINVAL, "", "empty file");
	check_file_bad(" \n\t\n", -EINVAL, "", "empty file");
	check_file_bad("{\n  \"limits\": {\n    \"max_vms\": 1,,\n  }\n}\n", -EINVAL, "", "line 3, column");
	check_file_bad("{ \"limits\": {", -EINVAL, "", "not valid JSON at line 1");
	check_file_bad("{}\n{}\n", -EINVAL, "", "not valid JSON at line 2, column 1");
	check_file_bad("{} x", -EINVAL, "", "not valid JSON at line 1, column 4");
	check_file_bad("{ \"limits\": { \"max_vms\": 1, } }", -EINVAL, "", "line 1, column 29");   /* strict */
	check_file_bad("[]", -EINVAL, "", "expected an object");
	check_file_bad("null", -EINVAL, "", "expected an object");
	check_file_bad("42", -EINVAL, "", "expected an object");
	check_file_bad("{\n  \"limits\": { \"max_vms\": 0 }\n}\n", -EINVAL, "limits.max_vms", "between 1 and");

	/* A NUL byte inside */
	struct config_error err = { "?", "?" };
	struct daemon_config c;
	const char *path = write_file("nul.json", "{}\0{}", 5);
	assert_int_equal(daemon_config_load(path, &c, &err), -EINVAL);
	assert_string_equal(err.field, "");
	assert_non_null(strstr(err.message, "NUL"));

	/* Missing, a directory, too large. */
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/missing.json", tmpdir);
	assert_int_equal(daemon_config_load(missing, &c, &err), -ENOENT);
	assert_string_equal(err.field, "");
	assert_non_null(strstr(err.message, "cannot open"));
	assert_int_equal(daemon_config_load(tmpdir, &c, &err), -EISDIR);
	assert_non_null(strstr(err.message, "not a regular file"));

	size_t big = DAEMON_CONFIG_FILE_MAX + 1;
	char *text = malloc(big);
	assert_non_null(text);
	memset(text, ' ', big);
	text[0] = '{';
	text[big - 1] = '}';
	path = write_file("big.json", text, big);
	free(text);
	assert_int_equal(daemon_config_load(path, &c, &err), -EFBIG);
	assert_non_null(strstr(err.message, "larger than"));
}

/* The shipped example spells out the defaults (and loads). */
static void test_example(void **state)
{
	const char *srcdir = getenv("VMMD_SRCDIR") ? getenv("VMMD_SRCDIR") : ".";
	char path[4096];
	struct config_error err = { "", "" };
	struct daemon_config c;

	snprintf(path, sizeof(path), "%s/packaging/vmmd.json.example", srcdir);
	if (daemon_config_load(path, &c, &err) != 0)
		fail_msg("%s: %s%s%s (run from the repo root or set VMMD_SRCDIR)", path, err.field,
			 err.field[0] ? ": " : "", err.message);
	assert_defaults(&c);
	assert_true(c.others_set);
	assert_int_equal(c.others, DAEMON_ROLE_MONITOR);
	assert_int_equal(c.n_rules, 1);
	assert_string_equal(c.rules[0].who, "@vmm");
	assert_int_equal(c.rules[0].role, DAEMON_ROLE_MONITOR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_files_log_workers),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_access_order),
		cmocka_unit_test(test_access_errors),
		cmocka_unit_test(test_file_ok),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_example),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
