/* SPDX-License-Identifier: MIT */
/*
 * What every config parser here needs to refuse input the same way: an
 * error that names its field, the refusal of unknown members, and one
 * reading of a JSON integer and of a JSON string.
 */
#pragma once

#include <json-c/json.h>

#include "config/vm_config.h"   /* struct config_error */

/* Fill err with field and a printf-style message; returns -EINVAL. */
int config_fail(struct config_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* -EINVAL naming "prefix.key" for the first member of obj not in allowed (NULL-ended). */
int config_check_members(struct json_object *obj, const char *prefix, const char *const *allowed,
			 struct config_error *err);
/*
 * An integer in [min, max] (min <= max <= INT64_MAX). JSON has one number
 * type, so 64.0 and 6.4e1 are the integer 64; 64.5, NaN and non-numbers
 * are "expected an integer", anything else outside the range "must be
 * between MIN and MAX". 0 or -EINVAL with err naming field.
 */
int config_get_int(struct json_object *v, const char *field, int64_t min, int64_t max, int64_t *ret,
		   struct config_error *err);
/* A string of at most max bytes with no NUL inside ("\u0000" would cut it
 * short in C): "expected a string", "must not contain NUL characters",
 * "must be at most MAX bytes long". *ret points into v. */
int config_get_string(struct json_object *v, const char *field, size_t max, const char **ret,
		      struct config_error *err);
