/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/fields.h"

#define FIELD_LEN ((size_t) sizeof(((struct config_error *) 0)->field))

int config_fail(struct config_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static size_t append(char *dst, size_t len, const char *s)
{
	while (*s && len + 1 < FIELD_LEN)
		dst[len++] = *s++;
	dst[len] = '\0';
	return len;
}

static bool strv_contains(const char *const *strv, const char *s)
{
	for (; *strv; strv++)
		if (strcmp(*strv, s) == 0)
			return true;
	return false;
}

int config_check_members(struct json_object *obj, const char *prefix, const char *const *allowed,
			 struct config_error *err)
{
	json_object_object_foreach(obj, key, val) {
		(void) val;
		if (!strv_contains(allowed, key)) {
			/* Paths only feed messages, so truncating an absurdly long key is
			 * harmless (and done by hand: snprintf would make
			 * -Wformat-truncation object). */
			char path[FIELD_LEN];
			size_t len = append(path, 0, prefix);
			if (prefix[0])
				len = append(path, len, ".");
			append(path, len, key);
			return config_fail(err, path, "unknown field");
		}
	}
	return 0;
}

int config_get_int(struct json_object *v, const char *field, int64_t min, int64_t max, int64_t *ret,
		   struct config_error *err)
{
	int64_t i;
	double d;

	switch (json_object_get_type(v)) {
	case json_type_int:
		/* Values above INT64_MAX read back clamped: still out of range. */
		i = json_object_get_int64(v);
		break;
	case json_type_double:
		d = json_object_get_double(v);
		if (isnan(d))
			return config_fail(err, field, "expected an integer");
		/* [-2^63, 2^63): the cast below stays defined. */
		if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
			goto out_of_range;
		i = (int64_t) d;
		if ((double) i != d)
			return config_fail(err, field, "expected an integer");
		break;
	default:
		return config_fail(err, field, "expected an integer");
	}
	if (i < min || i > max)
		goto out_of_range;
	*ret = i;
	return 0;

out_of_range:
	return config_fail(err, field, "must be between %" PRId64 " and %" PRId64, min, max);
}

int config_get_string(struct json_object *v, const char *field, size_t max, const char **ret,
		      struct config_error *err)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return config_fail(err, field, "expected a string");
	s = json_object_get_string(v);
	n = (size_t) json_object_get_string_len(v);
	/* "\u0000" is valid JSON but would silently cut a C string short. */
	if (strlen(s) != n)
		return config_fail(err, field, "must not contain NUL characters");
	if (n > max)
		return config_fail(err, field, "must be at most %zu bytes long", max);
	*ret = s;
	return 0;
}
