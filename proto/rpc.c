/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 codec: the error table of API.md, reply/request builders and
 * request validation. No I/O here; framing is framer.c, dispatch exchange.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "proto/rpc.h"

/* The codes and classes are public contract (API.md): never rename. */
static const struct {
	int code;
	const char *class_name;
} rpc_classes[] = {
	{ RPC_PARSE_ERROR,       "ParseError" },
	{ RPC_INVALID_REQUEST,   "InvalidRequest" },
	{ RPC_METHOD_NOT_FOUND,  "MethodNotFound" },
	{ RPC_INVALID_PARAMS,    "InvalidParams" },
	{ RPC_INTERNAL_ERROR,    "InternalError" },
	{ RPC_NO_SUCH_VM,        "NoSuchVm" },
	{ RPC_INVALID_STATE,     "InvalidState" },
	{ RPC_VM_EXISTS,         "VmExists" },
	{ RPC_UNSUPPORTED,       "Unsupported" },
	{ RPC_RESOURCE_LIMIT,    "ResourceLimit" },
	{ RPC_PERMISSION_DENIED, "PermissionDenied" },
	{ RPC_GUEST_ACCESS,      "GuestAccess" },
	{ RPC_CONFIG_INVALID,    "ConfigInvalid" },
};


const char *rpc_code_class(int code)
{
	for (size_t i = 0; i < ELEMENTSOF(rpc_classes); i++)
		if (rpc_classes[i].code == code)
			return rpc_classes[i].class_name;
	return "Unknown";
}

int rpc_class_code(const char *class_name)
{
	if (!class_name)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(rpc_classes); i++)
		if (strcmp(rpc_classes[i].class_name, class_name) == 0)
			return rpc_classes[i].code;
	return 0;
}

static int rpc_error_setv(struct rpc_error *err, int code, const char *field,
			  const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	/* Truncation is fine: the message is for humans, the class for programs. */
	(void) vsnprintf(err->message, sizeof(err->message), fmt, ap);
	(void) snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	err->kind[0] = '\0';
	return code;
}

int rpc_error_set(struct rpc_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rpc_error_setv(err, code, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int rpc_error_set_field(struct rpc_error *err, int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rpc_error_setv(err, code, field, fmt, ap);
	va_end(ap);
	return r;
}

/* {"jsonrpc":"2.0", key: value, "id": id-or-null}; value is taken over. */
static struct json_object *rpc_response_new(struct json_object *id, const char *key,
					    struct json_object *value)
{
	struct json_object *o;

	o = json_object_new_object();
	if (!o)
		goto err_value;
	if (json_object_object_add(o, "jsonrpc", json_object_new_string("2.0")) < 0)
		goto err_object;
	if (json_object_object_add(o, key, value) < 0)
		goto err_object;
	value = NULL;
	/* Added last so that "id" closes the line, which reads well in logs. */
	if (json_object_object_add(o, "id", json_object_get(id)) < 0) {
		json_object_put(id);
		goto err_object;
	}
	return o;

err_object:
	json_object_put(o);
err_value:
	json_object_put(value);
	return NULL;
}

struct json_object *rpc_response_result(struct json_object *id, struct json_object *result)
{
	return rpc_response_new(id, "result", result);
}

/* Builds error.data: class, field and kind first, so `data` cannot forge them. */
static struct json_object *rpc_error_data(const struct rpc_error *err, int code,
					  struct json_object *data)
{
	struct json_object *d;

	d = json_object_new_object();
	if (!d)
		return NULL;
	if (json_object_object_add(d, "class", json_object_new_string(rpc_code_class(code))) < 0)
		goto err_data;
	if (err && err->field[0] &&
	    json_object_object_add(d, "field", json_object_new_string(err->field)) < 0)
		goto err_data;
	if (err && err->kind[0] &&
	    json_object_object_add(d, "kind", json_object_new_string(err->kind)) < 0)
		goto err_data;

	if (json_object_is_type(data, json_type_object)) {
		json_object_object_foreach(data, key, val) {
			if (json_object_object_get_ex(d, key, NULL))
				continue;
			if (json_object_object_add(d, key, json_object_get(val)) < 0) {
				json_object_put(val);
				goto err_data;
			}
		}
	} else if (data) {
		/* Not an object, so nothing to merge: keep it whole under one key. */
		if (json_object_object_add(d, "detail", json_object_get(data)) < 0) {
			json_object_put(data);
			goto err_data;
		}
	}
	return d;

err_data:
	json_object_put(d);
	return NULL;
}

struct json_object *rpc_response_error(struct json_object *id, const struct rpc_error *err,
				       struct json_object *data)
{
	struct json_object *e = NULL, *d;
	const char *message;
	int code;

	/* A missing or empty error is a bug in the caller: still answer, as internal. */
	code = err && err->code != 0 ? err->code : RPC_INTERNAL_ERROR;
	message = err && err->message[0] ? err->message : rpc_code_class(code);

	d = rpc_error_data(err, code, data);
	if (!d)
		goto out;
	e = json_object_new_object();
	if (!e)
		goto err_data;
	if (json_object_object_add(e, "code", json_object_new_int(code)) < 0 ||
	    json_object_object_add(e, "message", json_object_new_string(message)) < 0)
		goto err_error;
	if (json_object_object_add(e, "data", d) < 0)
		goto err_error;
	goto out;

err_error:
	json_object_put(e);
	e = NULL;
err_data:
	json_object_put(d);
out:
	json_object_put(data);
	return e ? rpc_response_new(id, "error", e) : NULL;
}

struct json_object *rpc_request_new(const char *method, struct json_object *params, int64_t id)
{
	struct json_object *o;

	o = json_object_new_object();
	if (!o)
		goto err_params;
	if (json_object_object_add(o, "jsonrpc", json_object_new_string("2.0")) < 0 ||
	    json_object_object_add(o, "method", json_object_new_string(method)) < 0)
		goto err_object;
	if (params) {
		if (json_object_object_add(o, "params", params) < 0)
			goto err_object;
		params = NULL;
	}
	if (id >= 0 && json_object_object_add(o, "id", json_object_new_int64(id)) < 0)
		goto err_object;
	return o;

err_object:
	json_object_put(o);
err_params:
	json_object_put(params);
	return NULL;
}

/*
 * json-c saturates integers that overflow int64 (and keeps uint64 apart), so
 * an id at either end of the range may not be what the client sent; echoing
 * a different id would hand the reply to the wrong caller.
 */
static bool rpc_id_valid(struct json_object *id)
{
	int64_t v;

	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
		return true;
	case json_type_int:
		v = json_object_get_int64(id);
		return v != INT64_MIN && v != INT64_MAX;
	default:
		/* Fractional ids, booleans and structures are refused by the spec. */
		return false;
	}
}

/* Fills err and returns -EINVAL, so a refusal is one `return` in the caller. */
static int rpc_refuse(struct rpc_error *err, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int rpc_refuse(struct rpc_error *err, int code, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) rpc_error_setv(err, code, field, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A string member without embedded NULs, compared the way C code will read it. */
static const char *rpc_plain_string(struct json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t) json_object_get_string_len(v) ? s : NULL;
}

bool rpc_is_response(struct json_object *msg)
{
	return json_object_is_type(msg, json_type_object) && !json_object_object_get_ex(msg, "method", NULL) &&
	       (json_object_object_get_ex(msg, "result", NULL) || json_object_object_get_ex(msg, "error", NULL));
}

int rpc_request_parse(struct json_object *msg, struct rpc_request *ret, struct rpc_error *err)
{
	struct json_object *v;
	const char *s;

	*ret = (struct rpc_request) { .is_notification = false };

	if (!json_object_is_type(msg, json_type_object))
		return rpc_refuse(err, RPC_INVALID_REQUEST, NULL, "request must be an object");

	/* The id first, so that every later error can be answered to it. */
	if (json_object_object_get_ex(msg, "id", &v)) {
		if (!rpc_id_valid(v))
			return rpc_refuse(err, RPC_INVALID_REQUEST, "id",
					  "id must be a string, an integer or null");
		ret->id = v;
	} else
		ret->is_notification = true;

	s = rpc_plain_string(json_object_object_get_ex(msg, "jsonrpc", &v) ? v : NULL);
	if (!s || strcmp(s, "2.0") != 0)
		return rpc_refuse(err, RPC_INVALID_REQUEST, "jsonrpc", "jsonrpc must be \"2.0\"");

	s = rpc_plain_string(json_object_object_get_ex(msg, "method", &v) ? v : NULL);
	if (!s)
		return rpc_refuse(err, RPC_INVALID_REQUEST, "method", "method must be a string");
	ret->method = s;

	json_object_object_foreach(msg, key, val) {
		(void) val;
		if (strcmp(key, "jsonrpc") != 0 && strcmp(key, "method") != 0 &&
		    strcmp(key, "params") != 0 && strcmp(key, "id") != 0)
			return rpc_refuse(err, RPC_INVALID_REQUEST, key, "unknown member '%s'", key);
	}

	if (json_object_object_get_ex(msg, "params", &v)) {
		/* Positional params are valid JSON-RPC, just not accepted by vmmd;
		 * anything that is not a structure is not a valid request at all. */
		if (json_object_is_type(v, json_type_array))
			return rpc_refuse(err, RPC_INVALID_PARAMS, "params", "params must be an object");
		if (!json_object_is_type(v, json_type_object))
			return rpc_refuse(err, RPC_INVALID_REQUEST, "params", "params must be an object");
		ret->params = v;
	}
	return 0;
}

/* A string as json-c writes it with JSON_C_TO_STRING_NOSLASHESCAPE: quotes,
 * two-character escapes for quote, backslash, BS, FF, LF, CR and TAB (and
 * '/', counted though not escaped: a bound is enough), \u00XX for other
 * control bytes. */
static size_t string_size(const char *s, size_t len)
{
	size_t n = 2 + len;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\' || c == '/' || c == '\b' || c == '\f' || c == '\n' ||
		    c == '\r' || c == '\t')
			n += 1;
		else if (c < 0x20)
			n += 5;
	}
	return n;
}

static size_t digits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static size_t json_size(struct json_object *o, size_t stop, size_t sum)
{
	int64_t v;
	size_t n;

	switch (json_object_get_type(o)) {
	case json_type_null:
		return sum + 4;
	case json_type_boolean:
		return sum + (json_object_get_boolean(o) ? 4 : 5);
	case json_type_int:
		/* json-c keeps values above INT64_MAX as uint64 and prints them so.
		 * Digits counted, not printed: a scrape's batch holds thousands. */
		v = json_object_get_int64(o);
		if (v == INT64_MAX)
			return sum + digits(json_object_get_uint64(o));
		return sum + (v < 0 ? 1 + digits(-(uint64_t) v) : digits((uint64_t) v));
	case json_type_double:
		/* Printed from its parsed text when it has one, which can be long. */
		return sum + strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	case json_type_string:
		return sum + string_size(json_object_get_string(o), (size_t) json_object_get_string_len(o));
	case json_type_array:
		n = json_object_array_length(o);
		sum += 2 + (n ? n - 1 : 0);
		for (size_t i = 0; i < n && sum <= stop; i++)
			sum = json_size(json_object_array_get_idx(o, i), stop, sum);
		return sum;
	case json_type_object:
		sum += 2;
		json_object_object_foreach(o, key, val) {
			if (sum > stop)
				break;
			/* "key": and a comma (one too many: the bound is fine). */
			sum += string_size(key, strlen(key)) + 2;
			sum = json_size(val, stop, sum);
		}
		return sum;
	}
	return sum;
}

size_t rpc_json_size(struct json_object *msg, size_t stop)
{
	return json_size(msg, stop, 0);
}

char *rpc_serialize_line(struct json_object *msg, size_t *ret_len)
{
	const char *s;
	size_t len;
	char *line;

	s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!s)
		return NULL;
	line = malloc(len + 2);
	if (!line)
		return NULL;
	memcpy(line, s, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	if (ret_len)
		*ret_len = len + 1;
	return line;
}
