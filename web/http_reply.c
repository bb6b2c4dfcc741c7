/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "web/http_reply.h"

/* The page is static files plus fetch()/EventSource to its own origin:
 * nothing else may run, load or frame it. */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

void http_common_headers(struct evhttp_request *req, const char *content_type, int cacheable)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (content_type)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", cacheable ? "max-age=60" : "no-store");
}

void http_reply_json(struct evhttp_request *req, struct json_object *obj)
{
	struct evbuffer *body = evbuffer_new();
	size_t len;
	const char *text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	http_common_headers(req, "application/json", 0);
	if (body) {
		evbuffer_add(body, text, len);
		evbuffer_add(body, "\n", 1);
	}
	evhttp_send_reply(req, 200, "OK", body);
	if (body)
		evbuffer_free(body);
}

static const struct {
	int code, status;
} statuses[] = {
	{ RPC_PARSE_ERROR, 400 }, { RPC_INVALID_REQUEST, 400 }, { RPC_METHOD_NOT_FOUND, 404 },
	{ RPC_INVALID_PARAMS, 400 }, { RPC_INTERNAL_ERROR, 502 }, { RPC_NO_SUCH_VM, 404 },
	{ RPC_INVALID_STATE, 409 }, { RPC_VM_EXISTS, 409 }, { RPC_UNSUPPORTED, 501 },
	{ RPC_RESOURCE_LIMIT, 429 }, { RPC_PERMISSION_DENIED, 403 }, { RPC_GUEST_ACCESS, 422 },
	{ RPC_CONFIG_INVALID, 400 },
};

int http_status_for_rpc(int code)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].code == code)
			return statuses[i].status;
	return 502;
}

static const char *reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Bad Gateway";
	}
}

void http_reply_error(struct evhttp_request *req, int status, int code, const char *message, const char *field)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();
	struct json_object *data = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(data, "class", json_object_new_string(rpc_code_class(code)));
	if (field && field[0])
		json_object_object_add(data, "field", json_object_new_string(field));
	json_object_object_add(e, "data", data);
	json_object_object_add(o, "error", e);
	struct evbuffer *body = evbuffer_new();
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	http_common_headers(req, "application/json", 0);
	if (body) {
		evbuffer_add(body, text, len);
		evbuffer_add(body, "\n", 1);
	}
	evhttp_send_reply(req, status, reason(status), body);
	if (body)
		evbuffer_free(body);
	json_object_put(o);
}

void http_reply_rpc_error(struct evhttp_request *req, const struct rpc_error *err)
{
	http_reply_error(req, http_status_for_rpc(err->code), err->code, err->message, err->field);
}

void http_reply_not_found(struct evhttp_request *req)
{
	struct evbuffer *body = evbuffer_new();
	http_common_headers(req, "text/plain; charset=utf-8", 0);
	if (body)
		evbuffer_add_printf(body, "404 not found\n");
	evhttp_send_reply(req, 404, "Not Found", body);
	if (body)
		evbuffer_free(body);
}
