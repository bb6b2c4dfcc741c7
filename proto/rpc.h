/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 message codec shared by vmmd (server and worker channel) and
 * vmmctl: error table (API.md), building replies, requests and
 * notifications, and validating a decoded request before dispatch.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

enum rpc_code {
	RPC_PARSE_ERROR      = -32700,
	RPC_INVALID_REQUEST  = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS   = -32602,
	RPC_INTERNAL_ERROR   = -32603,
	RPC_NO_SUCH_VM       = -32000,
	RPC_INVALID_STATE    = -32001,
	RPC_VM_EXISTS        = -32002,
	RPC_UNSUPPORTED      = -32003,
	RPC_RESOURCE_LIMIT   = -32004,
	RPC_PERMISSION_DENIED= -32005,
	RPC_GUEST_ACCESS     = -32006,
	RPC_CONFIG_INVALID   = -32007,
};

#define RPC_MAX_MESSAGE   (1u << 20)   /* 1 MiB, API.md */
#define RPC_MAX_DEPTH     32           /* nesting depth of any message */
#define RPC_MAX_BATCH     128          /* requests in one batch array */

/* "NoSuchVm", "ParseError", ... ; "Unknown" for codes not in the table. */
const char *rpc_code_class(int code);
/* Inverse of rpc_code_class; 0 when the class is unknown. */
int rpc_class_code(const char *class_name);

/* An error as handlers produce it, before it becomes a response. */
struct rpc_error {
	int code;                  /* enum rpc_code; 0 = no error */
	char message[256];
	char field[64];            /* optional: ConfigInvalid's data.field, InvalidParams' parameter */
	char kind[32];             /* optional: data.kind, the cause within the class for programs
	                            * (vmmd's worker errors, vmmd/common/worker_protocol.h) */
};

/*
 * Fill err (printf-style message, truncated to fit; field and kind cleared). Returns
 * `code` (negative), so handlers can `return rpc_error_set(...)`. err may be NULL.
 */
int rpc_error_set(struct rpc_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, also naming the offending parameter or config field in data.field. */
int rpc_error_set_field(struct rpc_error *err, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Responses. `id` is borrowed (a reference is taken); `result`/`data` are
 * taken over. The error object is
 *   {"code":C,"message":M,"data":{"class":CLASS[,"field":F][,"kind":K]}}
 * merged with the keys of `data` if given ("class", and "field" and "kind"
 * when err names them, win over data's; non-object data goes under "detail").
 * Both return NULL on ENOMEM.
 */
struct json_object *rpc_response_result(struct json_object *id, struct json_object *result);
struct json_object *rpc_response_error(struct json_object *id, const struct rpc_error *err,
				       struct json_object *data);

/* Requests: id < 0 makes a notification (no "id" member). params taken over, may be NULL. */
struct json_object *rpc_request_new(const char *method, struct json_object *params, int64_t id);

/* A validated request. Pointers borrow from the message object. */
struct rpc_request {
	const char *method;
	struct json_object *params;  /* object, or NULL when absent; arrays are refused */
	struct json_object *id;      /* NULL for a notification */
	bool is_notification;
};

/*
 * Validate one decoded request (not a batch): "jsonrpc" == "2.0", "method" a
 * string, "params" absent or an object (vmmd's methods take named params
 * only), "id" a string, integer or null, no other members.
 * Returns 0, or a negative errno with err filled (RPC_INVALID_REQUEST or
 * RPC_INVALID_PARAMS, with err->field naming the member). When the id
 * itself was readable it is stored in ret->id even on failure, so the error
 * reply can carry it, and ret->is_notification says whether "id" was absent.
 * A JSON null id is a request (not a notification) whose ret->id is NULL.
 */
int rpc_request_parse(struct json_object *msg, struct rpc_request *ret, struct rpc_error *err);

/* A response: an object with "result" or "error" and no "method". */
bool rpc_is_response(struct json_object *msg);

/*
 * The length rpc_serialize_line gives msg, without its newline, or an upper
 * bound of it (a double may print shorter), counted without serializing:
 * so a reply can be judged before it is built (a batch) or sent. Stops
 * counting once past `stop` and returns a value above it.
 */
size_t rpc_json_size(struct json_object *msg, size_t stop);

/* Serialize a message as one line: compact JSON plus '\n'. Caller frees. */
char *rpc_serialize_line(struct json_object *msg, size_t *ret_len);
