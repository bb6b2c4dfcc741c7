/* SPDX-License-Identifier: MIT */
/*
 * Reading vmmd's results without trusting their shape: a missing member,
 * JSON null and a member of the wrong type all read as "absent".
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* The member at a dotted path ("kvm.api_version"), or NULL (also for JSON null). */
struct json_object *json_lookup(struct json_object *obj, const char *dotted);
/* The string at a dotted path, or fallback when absent or not a string. */
const char *json_lookup_str(struct json_object *obj, const char *dotted, const char *fallback);
/* The number at a dotted path as uint64, or 0 when absent. */
uint64_t json_lookup_u64(struct json_object *obj, const char *dotted);
/*
 * The base64 string at a dotted path, decoded. Returns 0 with a malloc'd
 * buffer (NUL-terminated for convenience, not counted in *ret_len),
 * -ENOENT when absent or not a string, -EINVAL when not base64, or -ENOMEM.
 */
int json_lookup_bytes(struct json_object *obj, const char *dotted,
		      unsigned char **ret, size_t *ret_len);
