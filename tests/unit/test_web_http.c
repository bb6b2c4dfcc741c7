/* SPDX-License-Identifier: MIT */
/*
 * vmmweb's request checks: query values typed for /api, which static
 * names are served, Host headers on loopback, --listen, and the HTTP
 * status of each vmmd error class.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "web/api.h"
#include "web/http_reply.h"
#include "web/listen.h"
#include "web/server.h"
#include "web/static_files.h"

static void want_value(const char *type, const char *text, const char *json)
{
	struct json_object *v = NULL;
	assert_int_equal(api_param_value(type, text, &v), 0);
	assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), json);
	json_object_put(v);
}

static void want_bad(const char *type, const char *text)
{
	struct json_object *v = NULL;
	assert_int_equal(api_param_value(type, text, &v), -EINVAL);
}

static void test_param_values(void **state)
{
	want_value("integer", "0", "0");
	want_value("integer", "4096", "4096");
	want_value("integer", "0x1000", "4096");
	want_value("integer", "0xffffffffffffffff", "18446744073709551615");
	want_value("integer", "-3", "-3");
	want_bad("integer", "");
	want_bad("integer", "12ab");
	want_bad("integer", " 1");
	want_bad("integer", "+1");
	want_bad("integer", "--1");
	want_bad("integer", "0x10000000000000000");
	want_value("boolean", "true", "true");
	want_value("boolean", "0", "false");
	want_bad("boolean", "yes");
	want_value("string", "a\"<b>", "\"a\\\"<b>\"");
	want_value(NULL, "12", "\"12\"");   /* unknown: a string, vmmd judges it */
	want_value("array", "[\"state\"]", "[\"state\"]");
	want_bad("object", "{");
}

static void test_api_methods(void **state)
{
	assert_true(api_method_allowed("vm.list"));
	assert_true(api_method_allowed("mmu.shadow"));
	assert_true(api_method_allowed("vmm.stats"));
	/* Never a method that changes something, nor guest memory. */
	static const char *const refused[] = { "vm.stop", "vm.pause", "vm.create", "vm.destroy", "mem.read",
					       "mem.write", "vcpu.regs.set", "irq.inject", "vm.console.write",
					       "events.subscribe", "", "VM.LIST" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_false(api_method_allowed(refused[i]));
}

static void test_static_names(void **state)
{
	assert_true(static_name_ok("index.html"));
	assert_true(static_name_ok("app.js"));
	assert_true(static_name_ok("style.css"));
	assert_false(static_name_ok(""));
	assert_false(static_name_ok(".hidden.js"));
	assert_false(static_name_ok("../etc/passwd"));
	assert_false(static_name_ok("a/b.js"));
	assert_false(static_name_ok("..js"));
	assert_false(static_name_ok("notes.txt"));   /* no type we serve */
	assert_false(static_name_ok("a b.js"));
	assert_string_equal(static_content_type("x.js"), "text/javascript; charset=utf-8");
	assert_null(static_content_type("js"));
}

static void test_hosts(void **state)
{
	assert_true(server_host_is_loopback(NULL));
	assert_true(server_host_is_loopback("localhost"));
	assert_true(server_host_is_loopback("LOCALHOST:9120"));
	assert_true(server_host_is_loopback("127.0.0.1:9120"));
	assert_true(server_host_is_loopback("127.1.2.3"));
	assert_true(server_host_is_loopback("[::1]:9120"));
	assert_false(server_host_is_loopback("evil.example"));
	assert_false(server_host_is_loopback("127.0.0.1.evil.example"));
	assert_false(server_host_is_loopback("localhost.evil.example:80"));
	assert_false(server_host_is_loopback("10.0.0.1:9120"));
	assert_false(server_host_is_loopback("[::2]:80"));
	assert_false(server_host_is_loopback("[::1]x"));
	assert_false(server_host_is_loopback(""));
}

static void test_listen_parse(void **state)
{
	char addr[64];
	uint16_t port;
	assert_int_equal(listen_parse("127.0.0.1:9120", addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "127.0.0.1");
	assert_int_equal(port, 9120);
	assert_int_equal(listen_parse("[::1]:0", addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(listen_parse("0.0.0.0:65535", addr, sizeof(addr), &port), 0);
	static const char *const bad[] = { "127.0.0.1", ":9120", "127.0.0.1:", "127.0.0.1:65536", "::1:80",
					   "[::1]80", "localhost:80", "1.2.3.4:-1", "1.2.3.4:8x", NULL };
	for (const char *const *b = bad; *b; b++)
		assert_int_equal(listen_parse(*b, addr, sizeof(addr), &port), -EINVAL);
	assert_true(listen_is_loopback("127.0.0.1"));
	assert_true(listen_is_loopback("::1"));
	assert_false(listen_is_loopback("0.0.0.0"));
	assert_false(listen_is_loopback("::"));
}

static void test_statuses(void **state)
{
	assert_int_equal(http_status_for_rpc(RPC_NO_SUCH_VM), 404);
	assert_int_equal(http_status_for_rpc(RPC_INVALID_PARAMS), 400);
	assert_int_equal(http_status_for_rpc(RPC_INVALID_STATE), 409);
	assert_int_equal(http_status_for_rpc(RPC_UNSUPPORTED), 501);
	assert_int_equal(http_status_for_rpc(RPC_PERMISSION_DENIED), 403);
	assert_int_equal(http_status_for_rpc(RPC_INTERNAL_ERROR), 502);
	assert_int_equal(http_status_for_rpc(-1), 502);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_values),
		cmocka_unit_test(test_api_methods),
		cmocka_unit_test(test_static_names),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_statuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
