/* SPDX-License-Identifier: MIT */
/* proto/rpc.c: error table, reply and request builders, request validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/rpc.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

static const char *get_str(struct json_object *o, const char *path1, const char *path2)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, path1, &v));
	if (path2)
		assert_true(json_object_object_get_ex(v, path2, &v));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static void test_class_table(void **state)
{
	static const struct { int code; const char *name; } table[] = {
		{ -32700, "ParseError" }, { -32600, "InvalidRequest" },
		{ -32601, "MethodNotFound" }, { -32602, "InvalidParams" },
		{ -32603, "InternalError" }, { -32000, "NoSuchVm" },
		{ -32001, "InvalidState" }, { -32002, "VmExists" },
		{ -32003, "Unsupported" }, { -32004, "ResourceLimit" },
		{ -32005, "PermissionDenied" }, { -32006, "GuestAccess" },
		{ -32007, "ConfigInvalid" },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_string_equal(rpc_code_class(table[i].code), table[i].name);
		assert_int_equal(rpc_class_code(table[i].name), table[i].code);
	}
	assert_string_equal(rpc_code_class(-32008), "Unknown");
	assert_string_equal(rpc_code_class(0), "Unknown");
	assert_int_equal(rpc_class_code("Unknown"), 0);
	assert_int_equal(rpc_class_code("nosuchvm"), 0);
	assert_int_equal(rpc_class_code(NULL), 0);
}

static void test_error_set(void **state)
{
	struct rpc_error err;
	char big[600];

	memset(&err, 'x', sizeof(err));
	assert_int_equal(rpc_error_set(&err, RPC_NO_SUCH_VM, "no VM '%s'", "demo"), RPC_NO_SUCH_VM);
	assert_int_equal(err.code, RPC_NO_SUCH_VM);
	assert_string_equal(err.message, "no VM 'demo'");
	assert_string_equal(err.field, "");

	assert_int_equal(rpc_error_set_field(&err, RPC_CONFIG_INVALID, "memory_mib", "too big"),
			 RPC_CONFIG_INVALID);
	assert_string_equal(err.field, "memory_mib");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rpc_error_set(&err, RPC_INTERNAL_ERROR, "%s", big);
	assert_int_equal(strlen(err.message), sizeof(err.message) - 1);

	assert_int_equal(rpc_error_set(NULL, RPC_VM_EXISTS, "ignored"), RPC_VM_EXISTS);
}

static void test_response_result(void **state)
{
	struct json_object *id = json_object_new_string("a/b"), *resp;
	size_t len;
	char *line;

	resp = rpc_response_result(id, json_object_new_int(7));
	assert_non_null(resp);
	line = rpc_serialize_line(resp, &len);
	/* Compact, no "\/" escaping, one '\n' at the end and nowhere else. */
	assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"result\":7,\"id\":\"a/b\"}\n");
	assert_int_equal(len, strlen(line));
	free(line);
	json_object_put(resp);
	/* The id was borrowed: still ours. */
	assert_string_equal(json_object_get_string(id), "a/b");
	json_object_put(id);

	resp = rpc_response_result(NULL, NULL);
	line = rpc_serialize_line(resp, NULL);
	assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":null}\n");
	free(line);
	json_object_put(resp);
}

static void test_response_error(void **state)
{
	struct json_object *id = json_object_new_int(42), *resp, *data, *e, *v;
	struct rpc_error err;

	rpc_error_set_field(&err, RPC_CONFIG_INVALID, "vcpus", "vcpus must be 1..64");
	data = parse("{\"class\":\"Forged\",\"field\":\"forged\",\"max\":64}");
	resp = rpc_response_error(id, &err, data);
	json_object_put(id);
	assert_non_null(resp);

	assert_string_equal(get_str(resp, "jsonrpc", NULL), "2.0");
	assert_true(json_object_object_get_ex(resp, "id", &v));
	assert_int_equal(json_object_get_int(v), 42);
	assert_false(json_object_object_get_ex(resp, "result", NULL));
	assert_true(json_object_object_get_ex(resp, "error", &e));
	assert_true(json_object_object_get_ex(e, "code", &v));
	assert_int_equal(json_object_get_int(v), -32007);
	assert_string_equal(get_str(e, "message", NULL), "vcpus must be 1..64");
	assert_string_equal(get_str(e, "data", "class"), "ConfigInvalid");
	assert_string_equal(get_str(e, "data", "field"), "vcpus");
	assert_true(json_object_object_get_ex(e, "data", &data));
	assert_true(json_object_object_get_ex(data, "max", &v));
	assert_int_equal(json_object_get_int(v), 64);
	assert_int_equal(json_object_object_length(data), 3);
	json_object_put(resp);

	/* No field in err: data's field is kept; no id: null. */
	rpc_error_set(&err, RPC_INVALID_PARAMS, "bad");
	resp = rpc_response_error(NULL, &err, parse("{\"field\":\"addr\"}"));
	assert_true(json_object_object_get_ex(resp, "id", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(resp, "error", &e));
	assert_string_equal(get_str(e, "data", "class"), "InvalidParams");
	assert_string_equal(get_str(e, "data", "field"), "addr");
	json_object_put(resp);

	/* No field anywhere: data has class only. Non-object data kept whole. */
	rpc_error_set(&err, RPC_GUEST_ACCESS, "unmapped");
	resp = rpc_response_error(NULL, &err, json_object_new_int(5));
	assert_true(json_object_object_get_ex(resp, "error", &e));
	assert_true(json_object_object_get_ex(e, "data", &data));
	assert_false(json_object_object_get_ex(data, "field", NULL));
	assert_true(json_object_object_get_ex(data, "detail", &v));
	assert_int_equal(json_object_get_int(v), 5);
	json_object_put(resp);

	/* An empty error is answered as internal, with a message. */
	memset(&err, 0, sizeof(err));
	resp = rpc_response_error(NULL, &err, NULL);
	assert_true(json_object_object_get_ex(resp, "error", &e));
	assert_true(json_object_object_get_ex(e, "code", &v));
	assert_int_equal(json_object_get_int(v), RPC_INTERNAL_ERROR);
	assert_string_equal(get_str(e, "message", NULL), "InternalError");
	assert_string_equal(get_str(e, "data", "class"), "InternalError");
	json_object_put(resp);
}

static void test_request_new(void **state)
{
	struct json_object *req;
	char *line;

	req = rpc_request_new("vm.info", parse("{\"name\":\"demo\"}"), 3);
	line = rpc_serialize_line(req, NULL);
	assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.info\","
			    "\"params\":{\"name\":\"demo\"},\"id\":3}\n");
	free(line);
	json_object_put(req);

	req = rpc_request_new("event", NULL, -1);
	line = rpc_serialize_line(req, NULL);
	assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"method\":\"event\"}\n");
	free(line);
	json_object_put(req);

	req = rpc_request_new("vm.list", NULL, 0);
	line = rpc_serialize_line(req, NULL);
	assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":0}\n");
	free(line);
	json_object_put(req);
}

static void test_request_parse_valid(void **state)
{
	struct rpc_request rq;
	struct rpc_error err = { 0 };
	struct json_object *m;

	m = parse("{\"jsonrpc\":\"2.0\",\"method\":\"vm.start\",\"params\":{\"name\":\"x\"},\"id\":1}");
	assert_int_equal(rpc_request_parse(m, &rq, &err), 0);
	assert_string_equal(rq.method, "vm.start");
	assert_true(json_object_is_type(rq.params, json_type_object));
	assert_int_equal(json_object_get_int(rq.id), 1);
	assert_false(rq.is_notification);
	json_object_put(m);

	m = parse("{\"id\":\"abc\",\"method\":\"vm.list\",\"jsonrpc\":\"2.0\"}");
	assert_int_equal(rpc_request_parse(m, &rq, &err), 0);
	assert_null(rq.params);
	assert_string_equal(json_object_get_string(rq.id), "abc");
	json_object_put(m);

	/* A null id is a request answered with id null, not a notification. */
	m = parse("{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\",\"id\":null}");
	assert_int_equal(rpc_request_parse(m, &rq, &err), 0);
	assert_null(rq.id);
	assert_false(rq.is_notification);
	json_object_put(m);

	m = parse("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{}}");
	assert_int_equal(rpc_request_parse(m, &rq, &err), 0);
	assert_null(rq.id);
	assert_true(rq.is_notification);
	json_object_put(m);

	m = parse("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":-9}");
	assert_int_equal(rpc_request_parse(m, &rq, &err), 0);
	assert_int_equal(json_object_get_int64(rq.id), -9);
	json_object_put(m);
}

struct bad_request {
	const char *json;
	int code;
	const char *field;      /* expected err.field, "" for none */
	int id;                 /* 1: ret->id is the integer 7; 0: NULL */
	bool notification;
};

static void test_request_parse_invalid(void **state)
{
	static const struct bad_request cases[] = {
		{ "[]", RPC_INVALID_REQUEST, "", 0, false },
		{ "\"x\"", RPC_INVALID_REQUEST, "", 0, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1.5}", RPC_INVALID_REQUEST, "id", 0, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":2.0}", RPC_INVALID_REQUEST, "id", 0, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":true}", RPC_INVALID_REQUEST, "id", 0, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":[1]}", RPC_INVALID_REQUEST, "id", 0, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":{}}", RPC_INVALID_REQUEST, "id", 0, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":99999999999999999999}", RPC_INVALID_REQUEST, "id", 0, false },
		{ "{\"method\":\"x\",\"id\":7}", RPC_INVALID_REQUEST, "jsonrpc", 1, false },
		{ "{\"jsonrpc\":\"1.0\",\"method\":\"x\",\"id\":7}", RPC_INVALID_REQUEST, "jsonrpc", 1, false },
		{ "{\"jsonrpc\":2.0,\"method\":\"x\",\"id\":7}", RPC_INVALID_REQUEST, "jsonrpc", 1, false },
		{ "{\"jsonrpc\":\"2.0\\u0000\",\"method\":\"x\",\"id\":7}", RPC_INVALID_REQUEST, "jsonrpc", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7}", RPC_INVALID_REQUEST, "method", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":1,\"id\":7}", RPC_INVALID_REQUEST, "method", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\\u0000x\",\"id\":7}", RPC_INVALID_REQUEST, "method", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":7,\"extra\":1}", RPC_INVALID_REQUEST, "extra", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":7,\"params\":[1]}", RPC_INVALID_PARAMS, "params", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":[]}", RPC_INVALID_PARAMS, "params", 0, true },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":7,\"params\":\"s\"}", RPC_INVALID_REQUEST, "params", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":7,\"params\":null}", RPC_INVALID_REQUEST, "params", 1, false },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":3}", RPC_INVALID_REQUEST, "params", 0, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rpc_request rq;
		struct rpc_error err = { 0 };
		struct json_object *m = parse(cases[i].json);

		print_message("case %zu: %s\n", i, cases[i].json);
		assert_int_equal(rpc_request_parse(m, &rq, &err), -EINVAL);
		assert_int_equal(err.code, cases[i].code);
		assert_string_equal(err.field, cases[i].field);
		assert_true(err.message[0] != '\0');
		if (cases[i].id)
			assert_int_equal(json_object_get_int(rq.id), 7);
		else
			assert_null(rq.id);
		assert_int_equal(rq.is_notification, cases[i].notification);
		json_object_put(m);
	}
}

static void test_serialize_unicode(void **state)
{
	struct json_object *o = json_object_new_object();
	char *line;

	json_object_object_add(o, "s", json_object_new_string("é/\"\n"));
	line = rpc_serialize_line(o, NULL);
	/* The newline inside the string is escaped: still one line. */
	assert_string_equal(line, "{\"s\":\"é/\\\"\\n\"}\n");
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	free(line);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_class_table),
		cmocka_unit_test(test_error_set),
		cmocka_unit_test(test_response_result),
		cmocka_unit_test(test_response_error),
		cmocka_unit_test(test_request_new),
		cmocka_unit_test(test_request_parse_valid),
		cmocka_unit_test(test_request_parse_invalid),
		cmocka_unit_test(test_serialize_unicode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
