/* SPDX-License-Identifier: MIT */
/*
 * What every config parser here needs to refuse input the same way: an
 * error that names its field, and the refusal of unknown members.
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
