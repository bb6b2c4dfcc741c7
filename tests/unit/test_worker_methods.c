/* SPDX-License-Identifier: MIT */
/*
 * The worker's method table (vmmd/worker/worker_methods.c): unique names,
 * the dispatcher's refusals before a handler runs (an unknown method, a
 * method that needs the VM before worker.boot, parameters the row does not
 * name or type), each with its typed kind, and worker.boot's refusal of
 * bad parameters. No KVM: nothing here gets
 * as far as building a VM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cleanup_json.h"
#include "proto/exchange.h"
#include "vmmd/worker/worker.h"

struct harness {
	struct worker *w;
	struct json_object *sent;
};

static void h_handle(void *userdata, struct rpc_call *call)
{
	struct harness *h = userdata;

	worker_dispatch(h->w, call);
}

/* The reply line, parsed back. */
static void h_send(void *userdata, char *line, size_t len)
{
	struct harness *h = userdata;

	json_object_put(h->sent);
	h->sent = json_tokener_parse(line);
	free(line);
}

static const struct rpc_exchange_ops ops = { .handle = h_handle, .send = h_send };

/* Call method on a worker that has not booted; return the error object (owned by h->sent). */
static struct json_object *call_error(struct harness *h, const char *method, const char *params)
{
	char text[512];
	struct json_object *e;

	snprintf(text, sizeof(text), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"%s%s}", method,
		 params ? ",\"params\":" : "", params ? params : "");
	assert_int_equal(rpc_exchange_start(json_tokener_parse(text), &ops, h, 0), 0);
	assert_non_null(h->sent);
	if (!json_object_object_get_ex(h->sent, "error", &e))
		fail_msg("%s: expected an error, got %s", method, json_object_to_json_string(h->sent));
	return e;
}

static void check_error(struct json_object *e, int code, const char *kind)
{
	struct json_object *v, *data;

	assert_true(json_object_object_get_ex(e, "code", &v));
	assert_int_equal(json_object_get_int(v), code);
	assert_true(json_object_object_get_ex(e, "data", &data));
	assert_true(json_object_object_get_ex(data, "kind", &v));
	assert_string_equal(json_object_get_string(v), kind);
}

static void test_names_are_unique(void **state)
{
	assert_true(worker_methods_count > 10);
	for (size_t i = 0; i < worker_methods_count; i++) {
		assert_non_null(worker_methods[i].fn);
		assert_memory_equal(worker_methods[i].name, "worker.", 7);
		assert_null(worker_methods[i].params[PARAMS_MAX - 1].name);   /* the table's end stays */
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(worker_methods[i].name, worker_methods[j].name);
	}
}

static void test_refused_before_boot(void **state)
{
	struct worker w = { .exit_report_fd = -1 };
	struct harness h = { .w = &w };

	check_error(call_error(&h, "worker.nonesuch", NULL), RPC_METHOD_NOT_FOUND, "no-method");
	/* Every method but worker.boot needs the VM: refused, not run on NULL. */
	for (size_t i = 0; i < worker_methods_count; i++)
		if (worker_methods[i].needs_vm)
			check_error(call_error(&h, worker_methods[i].name, "{}"), RPC_INVALID_STATE, "state");
		else
			assert_string_equal(worker_methods[i].name, "worker.boot");
	json_object_put(h.sent);
}

static void test_boot_params(void **state)
{
	struct worker w = { .exit_report_fd = -1 };
	struct harness h = { .w = &w };

	check_error(call_error(&h, "worker.boot", NULL), RPC_INVALID_PARAMS, "params");
	check_error(call_error(&h, "worker.boot", "{\"config\":{}}"), RPC_INVALID_PARAMS, "params");
	check_error(call_error(&h, "worker.boot", "{\"config\":{},\"console\":\"/x\",\"console_size\":1}"),
		    RPC_INVALID_PARAMS, "params");
	/* The table's check, before the handler: an unknown name, a wrong type. */
	struct json_object *e = call_error(&h, WORKER_METHOD_BOOT, "{\"config\":{},\"console\":\"/x\",\"bogus\":1}"), *v;
	check_error(e, RPC_INVALID_PARAMS, "params");
	assert_true(json_object_object_get_ex(e, "message", &v));
	assert_non_null(strstr(json_object_get_string(v), "unknown parameter 'bogus'"));
	e = call_error(&h, WORKER_METHOD_BOOT, "{\"config\":[],\"console\":\"/x\"}");
	check_error(e, RPC_INVALID_PARAMS, "params");
	assert_true(json_object_object_get_ex(e, "data", &v));
	assert_true(json_object_object_get_ex(v, "field", &v));
	assert_string_equal(json_object_get_string(v), "config");
	assert_null(w.vm);
	assert_null(w.config);
	json_object_put(h.sent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_are_unique),
		cmocka_unit_test(test_refused_before_boot),
		cmocka_unit_test(test_boot_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
