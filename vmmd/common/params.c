/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmmd/common/params.h"

const char *param_type_name(enum param_type t)
{
	static const char *const names[] = { "string", "integer", "boolean", "object", "array" };
	return names[t];
}

static bool type_matches(struct json_object *v, enum param_type t)
{
	switch (t) {
	case PARAM_STRING: return json_object_is_type(v, json_type_string);
	case PARAM_INT:    return json_object_is_type(v, json_type_int);
	case PARAM_BOOL:   return json_object_is_type(v, json_type_boolean);
	case PARAM_OBJECT: return json_object_is_type(v, json_type_object);
	case PARAM_ARRAY:  return json_object_is_type(v, json_type_array);
	}
	return false;
}

static int invalid(struct rpc_error *err, const char *name, const char *message)
{
	rpc_error_set(err, RPC_INVALID_PARAMS, "%s", message);
	snprintf(err->field, sizeof(err->field), "%s", name);
	return -EINVAL;
}

int params_check(struct json_object *params, const struct param_spec *specs, struct rpc_error *err)
{
	if (params) {
		json_object_object_foreach(params, key, val) {
			const struct param_spec *s = specs;
			while (s->name && strcmp(s->name, key) != 0)
				s++;
			char msg[160];
			if (!s->name) {
				snprintf(msg, sizeof(msg), "unknown parameter '%.64s'", key);
				return invalid(err, key, msg);
			}
			if (!type_matches(val, s->type)) {
				snprintf(msg, sizeof(msg), "parameter '%s' must be %s %s", key,
					 s->type == PARAM_INT || s->type == PARAM_OBJECT || s->type == PARAM_ARRAY ? "an" : "a",
					 param_type_name(s->type));
				return invalid(err, key, msg);
			}
		}
	}
	for (const struct param_spec *s = specs; s->name; s++)
		if (s->required && !param_get(params, s->name)) {
			char msg[96];
			snprintf(msg, sizeof(msg), "missing parameter '%s'", s->name);
			return invalid(err, s->name, msg);
		}
	return 0;
}

struct json_object *param_get(struct json_object *params, const char *name)
{
	struct json_object *v;
	return params && json_object_object_get_ex(params, name, &v) ? v : NULL;
}

const char *param_string(struct json_object *params, const char *name, const char *dflt)
{
	struct json_object *v = param_get(params, name);
	return v ? json_object_get_string(v) : dflt;
}

int64_t param_int(struct json_object *params, const char *name, int64_t dflt)
{
	struct json_object *v = param_get(params, name);
	return v ? json_object_get_int64(v) : dflt;
}

bool param_bool(struct json_object *params, const char *name, bool dflt)
{
	struct json_object *v = param_get(params, name);
	return v ? json_object_get_boolean(v) : dflt;
}
