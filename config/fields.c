/* SPDX-License-Identifier: MIT */
#include <errno.h>
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
