/* SPDX-License-Identifier: MIT */
/*
 * Replies every vmmweb handler shares: the headers each response carries
 * (a Content-Security-Policy that lets the page run only its own scripts,
 * nosniff, no framing), JSON bodies, and errors as JSON with the HTTP
 * status that fits a vmmd error class.
 */
#pragma once

#include <event2/http.h>
#include <json-c/json.h>

#include "proto/rpc.h"

/* The security headers, plus Cache-Control: no-store unless cacheable. */
void http_common_headers(struct evhttp_request *req, const char *content_type, int cacheable);
/* 200 with obj (borrowed) as compact JSON. */
void http_reply_json(struct evhttp_request *req, struct json_object *obj);
/* status with {"error": {"code", "message", "data": {"class"[, "field"]}}}; also HEAD. */
void http_reply_error(struct evhttp_request *req, int status, int code, const char *message, const char *field);
/* An RPC error as http_reply_error, with the status its class calls for (404 NoSuchVm, ...). */
void http_reply_rpc_error(struct evhttp_request *req, const struct rpc_error *err);
/* The HTTP status for a JSON-RPC error code. */
int http_status_for_rpc(int code);
/* A plain-text 404. */
void http_reply_not_found(struct evhttp_request *req);
