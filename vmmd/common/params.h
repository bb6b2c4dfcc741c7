/* SPDX-License-Identifier: MIT */
/*
 * Strict parameter checking for RPC methods, before any side effect: each
 * method declares its parameters (name, JSON type, required); anything not
 * declared is refused with InvalidParams naming it. Both dispatchers check
 * here, from their tables' params column: the supervisor's vmm_methods[]
 * (a client's call) and the worker's worker_methods[] (the supervisor's).
 */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

#include "proto/rpc.h"

enum param_type { PARAM_STRING, PARAM_INT, PARAM_BOOL, PARAM_OBJECT, PARAM_ARRAY };

struct param_spec {
	const char *name;
	enum param_type type;
	bool required;
	const char *description;
};

#define PARAMS_MAX 12   /* per method, with the terminating { NULL } (worker.boot has 9) */

const char *param_type_name(enum param_type t);

/* 0 when params (object or NULL) fit specs (terminated by a NULL name); else fills err. */
int params_check(struct json_object *params, const struct param_spec *specs, struct rpc_error *err);

/* Typed getters for checked params (defaults when absent). */
const char *param_string(struct json_object *params, const char *name, const char *dflt);
int64_t param_int(struct json_object *params, const char *name, int64_t dflt);
bool param_bool(struct json_object *params, const char *name, bool dflt);
struct json_object *param_get(struct json_object *params, const char *name);
