/* SPDX-License-Identifier: MIT */
/*
 * One JSON-RPC message in flight: splits a batch into calls, collects their
 * completions (now or later, in any order) and sends one reply in request
 * order once the last call is done. Each entry is serialized when its call
 * completes and its objects freed: a batch costs its text, not text and
 * objects, and the work of a long reply is spread over the completions
 * instead of done in one piece at the end (an admin's call waits behind
 * that piece).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/exchange.h"

struct exchange_slot {
	struct rpc_call call;
	char *text;                    /* this entry of the reply, serialized; NULL: none */
	size_t len;
	bool dispatch;                 /* a valid call, handed to ops.handle */
	bool pending;                  /* dispatched and not completed yet */
	bool silent;                   /* a notification: no reply entry */
};

struct rpc_exchange {
	struct json_object *msg;       /* owned; calls borrow from it */
	struct rpc_exchange_ops ops;
	void *userdata;
	bool batch;                    /* reply is an array */
	size_t max_reply;              /* 0: no limit */
	size_t reply_size;             /* of the entries so far, with brackets and commas */
	/* Calls not completed yet, plus one held by rpc_exchange_start while it
	 * dispatches, so a handler that completes at once cannot end the
	 * exchange under the dispatch loop. */
	size_t outstanding;
	size_t n_slots;
	struct exchange_slot slots[];
};

static void exchange_free(struct rpc_exchange *x)
{
	for (size_t i = 0; i < x->n_slots; i++)
		free(x->slots[i].text);
	json_object_put(x->msg);
	free(x);
}

/* An entry's text, as rpc_serialize_line writes it without the newline;
 * resp is put. Nothing (NULL) on ENOMEM: the entry is lost, not the reply. */
static void slot_set(struct exchange_slot *s, struct json_object *resp)
{
	size_t len;
	char *line = resp ? rpc_serialize_line(resp, &len) : NULL;

	json_object_put(resp);
	if (!line)
		return;
	s->text = line;
	s->len = len - 1;
}

/* The reply line: one entry, or the entries in request order as an array. */
static char *exchange_line(struct rpc_exchange *x, size_t *ret_len)
{
	size_t len = x->batch ? 2 : 0, n = 0;
	char *line, *p;

	for (size_t i = 0; i < x->n_slots; i++)
		if (x->slots[i].text) {
			len += x->slots[i].len + (n ? 1 : 0);
			n++;
		}
	if (n == 0)
		return NULL;
	line = malloc(len + 2);
	if (!line)
		return NULL;   /* ENOMEM: nothing can be sent */
	p = line;
	if (x->batch)
		*p++ = '[';
	n = 0;
	for (size_t i = 0; i < x->n_slots; i++) {
		struct exchange_slot *s = &x->slots[i];

		if (!s->text)
			continue;
		if (n++)
			*p++ = ',';
		memcpy(p, s->text, s->len);
		p += s->len;
	}
	if (x->batch)
		*p++ = ']';
	*p++ = '\n';
	*p = '\0';
	*ret_len = (size_t) (p - line);
	return line;
}

static void exchange_finish(struct rpc_exchange *x)
{
	size_t len = 0;
	char *line = exchange_line(x, &len);

	if (line)
		x->ops.send(x->userdata, line, len);
	if (x->ops.release)
		x->ops.release(x->userdata);
	exchange_free(x);
}

static void exchange_unref(struct rpc_exchange *x)
{
	if (--x->outstanding == 0)
		exchange_finish(x);
}

/* The whole message refused with one error (not an array), id null. */
static void exchange_refuse(struct rpc_exchange *x, const struct rpc_error *err)
{
	slot_set(&x->slots[0], rpc_response_error(NULL, err, NULL));
}

static void exchange_prepare(struct rpc_exchange *x, size_t i, struct json_object *req)
{
	struct exchange_slot *s = &x->slots[i];
	struct rpc_request rq;
	struct rpc_error err;

	/* A response is never answered (JSON-RPC 2.0 section 5), whatever it
	 * holds: answering one with an error, itself a response, made two
	 * peers answer each other for ever (issue 14, finding 2: a worker's
	 * reply refused by the supervisor, with an error of id null). */
	if (rpc_is_response(req))
		return;
	if (rpc_request_parse(req, &rq, &err) < 0) {
		/* A request too broken to tell whether it wanted an answer gets
		 * one (JSON-RPC 2.0 §5); a well-formed notification gets none,
		 * not even for bad params. */
		if (rq.is_notification && err.code != RPC_INVALID_REQUEST)
			return;
		slot_set(s, rpc_response_error(rq.id, &err, NULL));
		return;
	}
	s->call = (struct rpc_call) {
		.method = rq.method,
		.params = rq.params,
		.id = rq.id,
		.exchange = x,
		.slot = i,
	};
	s->silent = rq.is_notification;
	s->dispatch = true;
	s->pending = true;
	x->outstanding++;
}

int rpc_exchange_start(struct json_object *msg, const struct rpc_exchange_ops *ops, void *userdata,
		       size_t max_reply)
{
	struct rpc_exchange *x;
	struct rpc_error err;
	size_t n = 1, len = 0;
	bool is_array;

	if (!ops || !ops->handle || !ops->send) {
		json_object_put(msg);
		return -EINVAL;
	}

	is_array = json_object_is_type(msg, json_type_array);
	if (is_array) {
		len = json_object_array_length(msg);
		if (len > 0 && len <= RPC_MAX_BATCH)
			n = len;
	}

	x = calloc(1, sizeof(*x) + n * sizeof(x->slots[0]));
	if (!x) {
		json_object_put(msg);
		return -ENOMEM;
	}
	x->msg = msg;
	x->ops = *ops;
	x->userdata = userdata;
	x->n_slots = n;
	x->outstanding = 1;
	x->max_reply = max_reply;
	x->reply_size = 2;   /* a batch's brackets; a single reply has room to spare */
	if (max_reply && max_reply < x->reply_size)
		x->max_reply = x->reply_size;

	if (is_array && len == 0) {
		rpc_error_set(&err, RPC_INVALID_REQUEST, "empty batch");
		exchange_refuse(x, &err);
	} else if (is_array && len > RPC_MAX_BATCH) {
		/* Refused whole: answering part of a batch would be a surprise. */
		rpc_error_set(&err, RPC_RESOURCE_LIMIT, "batch of %zu requests, the limit is %d",
			      len, RPC_MAX_BATCH);
		exchange_refuse(x, &err);
	} else if (is_array) {
		x->batch = true;
		for (size_t i = 0; i < n; i++)
			exchange_prepare(x, i, json_object_array_get_idx(msg, i));
	} else
		/* Not an object (a number, a string, null): Invalid Request. */
		exchange_prepare(x, 0, msg);

	for (size_t i = 0; i < n; i++)
		if (x->slots[i].dispatch)
			x->ops.handle(x->userdata, &x->slots[i].call);

	exchange_unref(x);
	return 0;
}

/* A completed result's entry, unless it would take the reply past max_reply:
 * then the call's ResourceLimit error takes its place. */
static struct json_object *bounded_result(struct rpc_exchange *x, struct json_object *id,
					  struct json_object *result)
{
	struct json_object *resp = rpc_response_result(id, result), *data;
	size_t size, room;
	struct rpc_error err;

	if (!resp || !x->max_reply)
		return resp;
	room = x->max_reply - x->reply_size;
	size = rpc_json_size(resp, room) + (x->batch ? 1 : 0);
	if (size <= room) {
		x->reply_size += size;
		return resp;
	}
	json_object_put(resp);
	rpc_error_set(&err, RPC_RESOURCE_LIMIT, x->batch ?
		      "the batch's reply would exceed %zu bytes: ask for less in one message" :
		      "the reply would exceed %zu bytes: ask for less (a limit, a cursor)", x->max_reply);
	data = json_object_new_object();
	if (data) {
		json_object_object_add(data, "limit", json_object_new_string("reply_size"));
		json_object_object_add(data, "max", json_object_new_uint64(x->max_reply));
	}
	return rpc_response_error(id, &err, data);
}

/* The slot of a call still pending, or NULL if it was completed already. */
static struct exchange_slot *call_slot(struct rpc_call *call)
{
	struct rpc_exchange *x = call->exchange;
	struct exchange_slot *s = &x->slots[call->slot];

	return s->pending ? s : NULL;
}

void rpc_call_result(struct rpc_call *call, struct json_object *result)
{
	struct exchange_slot *s = call_slot(call);

	if (!s) {
		/* Completing twice is a handler bug; keep the first answer. */
		json_object_put(result);
		return;
	}
	s->pending = false;
	if (s->silent)
		json_object_put(result);
	else
		slot_set(s, bounded_result(call->exchange, call->id, result));
	exchange_unref(call->exchange);
}

void rpc_call_error(struct rpc_call *call, const struct rpc_error *err, struct json_object *data)
{
	struct exchange_slot *s = call_slot(call);

	if (!s) {
		json_object_put(data);
		return;
	}
	s->pending = false;
	if (s->silent)
		json_object_put(data);
	else
		slot_set(s, rpc_response_error(call->id, err, data));
	exchange_unref(call->exchange);
}

void rpc_call_errorf(struct rpc_call *call, int code, const char *field, const char *fmt, ...)
{
	struct rpc_error err;
	char message[sizeof(err.message)];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	rpc_error_set_field(&err, code, field, "%s", message);
	rpc_call_error(call, &err, NULL);
}
