/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/base64.h"
#include "vmmctl/json_util.h"

struct json_object *json_lookup(struct json_object *obj, const char *dotted)
{
	const char *p = dotted;

	while (obj && *p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t) (dot - p) : strlen(p);
		char key[64];

		if (len >= sizeof(key) || !json_object_is_type(obj, json_type_object))
			return NULL;
		memcpy(key, p, len);
		key[len] = '\0';
		if (!json_object_object_get_ex(obj, key, &obj))
			return NULL;
		p += len + (dot ? 1 : 0);
	}
	return obj;
}

uint64_t json_lookup_u64(struct json_object *obj, const char *dotted)
{
	struct json_object *v = json_lookup(obj, dotted);
	return v ? json_object_get_uint64(v) : 0;
}

const char *json_lookup_str(struct json_object *obj, const char *dotted, const char *fallback)
{
	struct json_object *v = json_lookup(obj, dotted);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : fallback;
}

int json_lookup_bytes(struct json_object *obj, const char *dotted,
		      unsigned char **ret, size_t *ret_len)
{
	const char *text = json_lookup_str(obj, dotted, NULL);
	size_t max;
	uint8_t *buf;
	long n;

	if (!text)
		return -ENOENT;
	max = base64_decoded_max(strlen(text));
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	n = base64_decode(text, buf, max);
	if (n < 0) {
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = (size_t) n;
	return 0;
}
