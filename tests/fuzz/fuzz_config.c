/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a VM config document, as vm.create and the state
 * directory hand it over (json_tokener_parse, then vm_config_from_json).
 * Checked on every input:
 *   - a refusal names a reason (err.message non-empty) and terminated strings;
 *   - an accepted config goes to JSON and back (vm_config_to_json, its text,
 *     vm_config_from_json) and comes back identical, and so does its copy
 *     (vm_config_dup) — a persisted definition must always load again;
 *   - vm_config_resolve_paths never makes a valid config invalid except by
 *     its own documented length error;
 *   - the same document as a daemon config (daemon_config_from_json): a
 *     refusal names a reason, an accepted one has every limit in range and
 *     at most DAEMON_CONFIG_MAX_RULES well-formed rules.
 * A violated check aborts, which libFuzzer reports as a crash.
 *
 * tests/unit/test_fuzz_replay.c includes this file to replay the corpus and
 * the regression inputs in every normal `make check`.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/daemon_config.h"
#include "config/vm_config.h"
#include "tests/fuzz/daemon_config_check.h"
#include "tests/fuzz/fuzz_check.h"

#define fuzz_assert(cond, ...) FUZZ_CHECK("fuzz_config", cond, __VA_ARGS__)

static const char *json_text(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	fuzz_assert(s, "to_json_string failed");
	return s;
}

static void check_error(const struct config_error *err)
{
	fuzz_assert(memchr(err->field, '\0', sizeof(err->field)), "err.field not terminated");
	fuzz_assert(memchr(err->message, '\0', sizeof(err->message)), "err.message not terminated");
	fuzz_assert(err->message[0], "a refusal without a message (field '%s')", err->field);
}

/* to_json -> text -> parse -> from_json -> to_json: the same text. */
static void check_round_trip(const struct vm_config *c)
{
	struct json_object *j1 = vm_config_to_json(c), *back;
	struct config_error err = { 0 };
	struct vm_config *c2 = NULL, *copy;
	char *t1;

	fuzz_assert(j1, "vm_config_to_json failed on a parsed config");
	t1 = strdup(json_text(j1));
	fuzz_assert(t1, "out of memory");
	back = json_tokener_parse(t1);
	fuzz_assert(back, "to_json text does not parse: %s", t1);
	if (vm_config_from_json(back, &c2, &err) < 0)
		fuzz_assert(0, "round trip refused: %s: %s\n  config: %s", err.field, err.message, t1);
	struct json_object *j2 = vm_config_to_json(c2);
	fuzz_assert(j2 && strcmp(t1, json_text(j2)) == 0, "round trip changed the config:\n  %s\n  %s",
		    t1, j2 ? json_text(j2) : "(null)");
	copy = vm_config_dup(c);
	fuzz_assert(copy, "vm_config_dup failed");
	struct json_object *j3 = vm_config_to_json(copy);
	fuzz_assert(j3 && strcmp(t1, json_text(j3)) == 0, "vm_config_dup changed the config");
	json_object_put(j3);
	vm_config_free(copy);
	json_object_put(j2);
	vm_config_free(c2);
	json_object_put(back);
	json_object_put(j1);
	free(t1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_error err = { 0 };
	struct vm_config *c = NULL;
	struct json_object *obj;
	char *text;
	int r;

	text = malloc(size + 1);
	fuzz_assert(text, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	obj = json_tokener_parse(text);
	free(text);

	r = vm_config_from_json(obj, &c, &err);
	bool valid = r == 0;
	if (r < 0) {
		fuzz_assert(r == -EINVAL, "unexpected error %d", r);
		check_error(&err);
	} else {
		check_round_trip(c);
		vm_config_free(c);
	}

	daemon_config_check(obj);

	/* Relative paths made absolute: a valid config stays valid, or the
	 * resolver names the field that became too long. */
	if (json_object_is_type(obj, json_type_object)) {
		struct config_error rerr = { 0 };
		r = vm_config_resolve_paths(obj, "/srv/vmmd/configs/", &rerr);
		if (r < 0) {
			fuzz_assert(r == -EINVAL, "unexpected resolve error %d", r);
			check_error(&rerr);
		} else {
			struct vm_config *c3 = NULL;
			struct config_error err3 = { 0 };
			int r3 = vm_config_from_json(obj, &c3, &err3);
			if (r3 < 0) {
				fuzz_assert(!valid, "resolving paths broke a valid config: %s: %s",
					    err3.field, err3.message);
				check_error(&err3);
			}
			else {
				fuzz_assert(c3->kernel[0] == '/', "resolved kernel is not absolute");
				check_round_trip(c3);
				vm_config_free(c3);
			}
		}
	}
	json_object_put(obj);
	return 0;
}
