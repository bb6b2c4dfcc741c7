/* SPDX-License-Identifier: MIT */
/*
 * GET /api/METHOD?param=value&...: one of vmmd's read-only methods, its
 * result as the JSON body (or {"error": ...} with a status that fits the
 * error class). Query values are typed by the method's parameter types
 * from rpc.discover: integers decimal or 0x hex, booleans true/false.
 * GET /api/ lists the methods vmmweb may call (`methods`), its role in
 * vmmd (`role`), and the ones its role may not call with the role each
 * needs (`needs`): a vmmweb with vmmd's `monitor` role serves no debug
 * view, and says so (403, PermissionDenied) without asking vmmd. Only
 * methods that look are served, even when vmmweb's own user could do more.
 */
#pragma once

#include <json-c/json.h>
#include <event2/http.h>

struct web;

void api_handle(struct web *w, struct evhttp_request *req, const char *method);

/* The methods /api serves (NULL-terminated), and whether one is among them. */
extern const char *const api_methods[];
int api_method_allowed(const char *method);

/*
 * A query value as the JSON type `type` ("integer", "boolean", "string",
 * NULL: string). Returns 0 with *ret, or -EINVAL when it does not parse.
 */
int api_param_value(const char *type, const char *text, struct json_object **ret);
