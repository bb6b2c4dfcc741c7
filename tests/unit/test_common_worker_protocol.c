/* SPDX-License-Identifier: MIT */
/*
 * The typed errors and exit reasons of the worker channel
 * (vmmd/common/worker_protocol.h): every kind maps to the JSON-RPC class
 * docs/api-shapes.md documents for it (API.md's classes), names survive
 * the trip over the wire, and exit reasons decide clean vs crashed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "proto/rpc.h"
#include "vmmd/common/worker_protocol.h"

#define DOC "docs/api-shapes.md"

struct documented {
	char kind[32];
	char class_name[32];
	char field[32];
};

/* The rows "| `kind` | Class | `field` or text | when |" of the kinds table. */
static size_t read_doc(struct documented *out, size_t max)
{
	FILE *f = fopen(DOC, "r");
	char line[512];
	size_t n = 0;

	if (!f)
		fail_msg("cannot open %s (run from the source tree, as tests/run-all does)", DOC);
	while (fgets(line, sizeof(line), f) && n < max) {
		struct documented d = { 0 };
		char field[64] = "";

		if (sscanf(line, "| `%31[a-z-]` | %31[A-Za-z] | %63[^|]|", d.kind, d.class_name, field) < 2)
			continue;
		/* One word names a field; empty or prose ("the parameter") names none fixed. */
		char word[32], rest[2];
		if (sscanf(field, "%31[a-z._] %1s", word, rest) == 1)
			snprintf(d.field, sizeof(d.field), "%s", word);
		out[n++] = d;
	}
	fclose(f);
	return n;
}

static void test_every_kind_has_its_documented_class(void **state)
{
	struct documented doc[64];
	size_t n = read_doc(doc, ELEMENTSOF(doc));

	/* One row per kind, no more, no fewer: a new kind needs its row. */
	assert_int_equal(n, WORKER_ERROR_MAX);
	for (int k = 0; k < WORKER_ERROR_MAX; k++) {
		const char *name = worker_error_name(k);
		size_t i = 0;

		assert_non_null(name);
		while (i < n && strcmp(doc[i].kind, name) != 0)
			i++;
		if (i == n)
			fail_msg("kind '%s' is not in %s", name, DOC);
		/* A class of API.md's table, and the one documented. */
		assert_int_not_equal(rpc_class_code(doc[i].class_name), 0);
		if (strcmp(rpc_code_class(worker_error_code(k)), doc[i].class_name) != 0)
			fail_msg("kind '%s' maps to %s; %s says %s", name, rpc_code_class(worker_error_code(k)),
				 DOC, doc[i].class_name);
		const char *field = worker_error_field(k);
		if (strcmp(field ? field : "", doc[i].field) != 0)
			fail_msg("kind '%s' blames field '%s'; %s says '%s'", name, field ? field : "", DOC,
				 doc[i].field);
	}
}

static void test_names_round_trip(void **state)
{
	for (int k = 0; k < WORKER_ERROR_MAX; k++) {
		assert_int_equal(worker_error_from_name(worker_error_name(k)), k);
		for (int j = 0; j < k; j++)
			assert_string_not_equal(worker_error_name(j), worker_error_name(k));
	}
	assert_int_equal(worker_error_from_name("no such kind"), -EINVAL);
	assert_int_equal(worker_error_from_name(NULL), -EINVAL);
	assert_null(worker_error_name(WORKER_ERROR_MAX));
	assert_int_equal(worker_error_code(WORKER_ERROR_MAX), RPC_INTERNAL_ERROR);
}

/* The kind crosses the channel in error.data.kind and is read back into the enum. */
static void test_kind_on_the_wire(void **state)
{
	struct rpc_error err = { 0 };
	_cleanup_(json_object_putp) struct json_object *id = json_object_new_int(7);
	_cleanup_(json_object_putp) struct json_object *resp = NULL;
	struct json_object *e, *data, *v;

	assert_int_equal(worker_error_set(&err, WORKER_ERROR_INITRD, NULL, "cannot open %s", "x"), RPC_CONFIG_INVALID);
	assert_int_equal(err.code, RPC_CONFIG_INVALID);
	assert_string_equal(err.field, "initrd");
	assert_string_equal(err.kind, "initrd");
	assert_string_equal(err.message, "cannot open x");
	resp = rpc_response_error(id, &err, NULL);
	assert_non_null(resp);
	assert_true(json_object_object_get_ex(resp, "error", &e));
	assert_true(json_object_object_get_ex(e, "data", &data));
	assert_true(json_object_object_get_ex(data, "kind", &v));
	assert_string_equal(json_object_get_string(v), "initrd");
	assert_true(json_object_object_get_ex(data, "class", &v));
	assert_string_equal(json_object_get_string(v), "ConfigInvalid");
	assert_int_equal(worker_error_of(&err), WORKER_ERROR_INITRD);

	/* A given field wins over the kind's own; a plain error has no kind. */
	worker_error_set(&err, WORKER_ERROR_PARAMS, "vcpu", "vcpu 9 out of range");
	assert_string_equal(err.field, "vcpu");
	rpc_error_set(&err, RPC_INTERNAL_ERROR, "no kind");
	assert_string_equal(err.kind, "");
	assert_int_equal(worker_error_of(&err), WORKER_ERROR_INTERNAL);
	/* Rewording the message changes nothing a program sees. */
	worker_error_set(&err, WORKER_ERROR_NO_KVM, NULL, "KVM is not here today");
	assert_int_equal(err.code, RPC_UNSUPPORTED);
	assert_int_equal(worker_error_of(&err), WORKER_ERROR_NO_KVM);
}

static void test_exit_reasons(void **state)
{
	static const char *const clean[] = { "debug-exit", "stopped", "guest-reset", "poweroff" };
	unsigned n_clean = 0;

	for (int r = VM_EXIT_NONE + 1; r < VM_EXIT_REASON_MAX; r++) {
		const char *name = vm_exit_reason_name(r);

		assert_int_equal(vm_exit_reason_from_name(name), r);
		for (int j = 0; j < r; j++)
			assert_string_not_equal(vm_exit_reason_name(j), name);
		bool want = false;
		for (size_t i = 0; i < ELEMENTSOF(clean); i++)
			want |= strcmp(clean[i], name) == 0;
		assert_int_equal(vm_exit_reason_is_clean(r), want);
		n_clean += want;
	}
	assert_int_equal(n_clean, ELEMENTSOF(clean));
	/* What this build does not know (a newer worker, an old state file) is not clean. */
	assert_int_equal(vm_exit_reason_from_name("lightning"), VM_EXIT_UNKNOWN);
	assert_int_equal(vm_exit_reason_from_name(NULL), VM_EXIT_UNKNOWN);
	assert_false(vm_exit_reason_is_clean(VM_EXIT_UNKNOWN));
	assert_string_equal(vm_exit_reason_name(VM_EXIT_REASON_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_has_its_documented_class),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_kind_on_the_wire),
		cmocka_unit_test(test_exit_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
