/* SPDX-License-Identifier: MIT */
/*
 * One incoming JSON-RPC message (a single request or a batch) in flight.
 *
 * Handlers may answer later (vmmd forwards many calls to a VM's worker and
 * replies when the worker does), so each request becomes an rpc_call that
 * the handler completes exactly once, now or later, with rpc_call_result or
 * rpc_call_error. When every call of the message is complete the exchange
 * builds the reply — one response object, or an array for a batch, in
 * request order, with notifications leaving no entry — as one line of text
 * (each entry is serialized when its call completes, so a long reply is
 * never built as objects and serialized in one piece), hands it to `send`
 * (not called when there is nothing to send, e.g. only notifications), then
 * calls `release` and frees itself.
 *
 * Invalid members of a batch get their own error entries; an empty batch is
 * one Invalid Request error; a batch larger than RPC_MAX_BATCH is refused
 * whole with ResourceLimit.
 *
 * The reply is bounded: a result that would take the reply past max_reply
 * bytes (as rpc_serialize_line writes it, without the newline) is replaced
 * by a ResourceLimit error for its call, judged as each call completes, so
 * an oversized batch is never built, let alone serialized. Error entries
 * always go in: they hold little beyond their request's id, which came in
 * a message of bounded size.
 */
#pragma once

#include <json-c/json.h>
#include "proto/rpc.h"

struct rpc_call {
	const char *method;          /* borrowed from the message */
	struct json_object *params;  /* object or NULL; borrowed */
	struct json_object *id;      /* NULL for notifications; borrowed */
	void *context;               /* the dispatcher's (rpc_peer: the peer it came from); NULL */
	void *exchange;              /* private */
	size_t slot;                 /* private */
};

struct rpc_exchange_ops {
	/* Dispatch one valid call; must complete it exactly once (maybe later). */
	void (*handle)(void *userdata, struct rpc_call *call);
	/* The reply for the whole message: one line, '\n' included, NUL
	 * terminated (not counted in len); malloc'd, taken over. */
	void (*send)(void *userdata, char *line, size_t len);
	/* The exchange is done and will not touch userdata again. May be NULL. */
	void (*release)(void *userdata);
};

/*
 * Start handling msg (taken over). May complete synchronously, in which case
 * send and release have run before this returns. Returns 0, or -ENOMEM
 * (or -EINVAL without handle/send) having done nothing but free msg.
 * A call must be completed exactly once; its pointer is dead afterwards.
 * max_reply: the longest reply line to build (see above); 0 for no limit.
 */
int rpc_exchange_start(struct json_object *msg, const struct rpc_exchange_ops *ops, void *userdata,
		       size_t max_reply);


/* Complete a call with a result (taken over; NULL means JSON null). */
void rpc_call_result(struct rpc_call *call, struct json_object *result);
/* Complete a call with an error; data (taken over, may be NULL) is merged into error.data. */
void rpc_call_error(struct rpc_call *call, const struct rpc_error *err, struct json_object *data);
/* The same, the error built in place: its code, the parameter or field it
 * names in data.field (NULL: none) and a printf-style message. */
void rpc_call_errorf(struct rpc_call *call, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
