/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the bytes a client sends, through the framer, the
 * exchange and request validation, wired the way vmmd's rpc_peer wires them.
 *
 * The handler answers every call: "echo" with its params, "error" with an
 * error carrying them as data, "later" after rpc_exchange_start returns (in
 * reverse order), "twice" twice (the second must be ignored), anything else
 * with MethodNotFound. Checked on every input:
 *   - every reply serializes to one line that a fresh framer parses back
 *     as exactly one valid JSON value (what vmmctl does with it);
 *   - a reply is an object, or for a batch a non-empty array of objects;
 *   - feeding the input whole and in small chunks gives the same replies
 *     (error messages aside: which of two faults in a line is seen first
 *     may depend on where a chunk ends; the code may not).
 * A violated check aborts, which libFuzzer reports as a crash.
 *
 * tests/unit/test_fuzz_replay.c includes this file to replay the corpus and
 * the regression inputs in every normal `make check`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/exchange.h"
#include "proto/framer.h"
#include "proto/rpc.h"
#include "tests/fuzz/fuzz_check.h"

#define FUZZ_MAX_MESSAGE 512    /* small, so the size limit is reached too (-max_len=1024) */
#define FUZZ_MAX_REPLY   1024   /* small, so batches of echoes pass it */
#define FUZZ_MAX_LATER   (RPC_MAX_BATCH + 1)

struct fuzz_out {
	char *buf;                  /* every reply line, in order */
	size_t len, cap;
	struct rpc_framer *check;   /* parses each reply back */
	struct rpc_call *later[FUZZ_MAX_LATER];
	size_t n_later;
};

#define fuzz_assert(cond, ...) FUZZ_CHECK("fuzz_proto", cond, __VA_ARGS__)

static void out_append(struct fuzz_out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n)
			cap *= 2;
		o->buf = realloc(o->buf, cap);
		fuzz_assert(o->buf, "out of memory");
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static int check_frame(void *userdata, enum rpc_frame_status status, struct json_object *msg,
		       const char *why)
{
	struct json_object **ret = userdata;
	fuzz_assert(status == RPC_FRAME_OK, "a reply does not parse back: %s", why);
	fuzz_assert(!*ret, "a reply line holds two values");
	fuzz_assert(msg, "a reply is JSON null");
	*ret = msg;
	return 0;
}

/* Checks one reply object and drops its error message (see above). */
static void check_reply_object(struct json_object *r)
{
	struct json_object *v, *e;
	fuzz_assert(json_object_is_type(r, json_type_object), "reply entry is not an object");
	fuzz_assert(json_object_object_get_ex(r, "jsonrpc", &v) &&
		    strcmp(json_object_get_string(v), "2.0") == 0, "reply without jsonrpc 2.0");
	fuzz_assert(json_object_object_get_ex(r, "id", NULL), "reply without id");
	fuzz_assert(json_object_object_get_ex(r, "result", NULL) !=
		    json_object_object_get_ex(r, "error", NULL), "reply needs exactly one of result, error");
	if (json_object_object_get_ex(r, "error", &e)) {
		fuzz_assert(json_object_object_get_ex(e, "code", &v) && json_object_is_type(v, json_type_int),
			    "error without an integer code");
		fuzz_assert(json_object_object_get_ex(e, "message", &v) && json_object_get_string_len(v) > 0,
			    "error without a message");
		json_object_object_del(e, "message");
	}
}

static void on_send(void *userdata, char *line, size_t len)
{
	struct fuzz_out *o = userdata;
	struct json_object *back = NULL;

	fuzz_assert(line && len > 0 && line[len - 1] == '\n' && line[len] == '\0', "reply is not one line");
	fuzz_assert(!memchr(line, '\n', len - 1), "reply spans lines");
	fuzz_assert(len - 1 <= FUZZ_MAX_REPLY || strstr(line, "\"error\""),
		    "a reply of %zu bytes with results past the limit", len - 1);
	fuzz_assert(rpc_framer_feed(o->check, line, len, check_frame, &back) == 0, "feed failed");
	fuzz_assert(back, "reply line produced no value");
	if (json_object_is_type(back, json_type_array)) {
		size_t results = 2;
		fuzz_assert(json_object_array_length(back) > 0, "empty batch reply");
		for (size_t i = 0; i < json_object_array_length(back); i++) {
			struct json_object *r = json_object_array_get_idx(back, i);
			if (json_object_object_get_ex(r, "result", NULL))
				results += strlen(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE)) + 1;
			check_reply_object(r);
		}
		fuzz_assert(results <= FUZZ_MAX_REPLY + 1, "the batch's results take %zu bytes, past the limit",
			    results);
	} else
		check_reply_object(back);
	free(line);
	line = rpc_serialize_line(back, &len);
	fuzz_assert(line, "reply does not serialize again");
	out_append(o, line, len);
	free(line);
	json_object_put(back);
}

/* A reply the harness makes itself (a framing error), sent as the exchange sends. */
static void send_json(struct fuzz_out *o, struct json_object *response)
{
	size_t len;
	char *line = rpc_serialize_line(response, &len);

	json_object_put(response);
	fuzz_assert(line, "reply does not serialize");
	on_send(o, line, len);
}

static void on_handle(void *userdata, struct rpc_call *call)
{
	struct fuzz_out *o = userdata;
	struct rpc_error err = { 0 };

	if (strcmp(call->method, "echo") == 0) {
		rpc_call_result(call, json_object_get(call->params));
	} else if (strcmp(call->method, "error") == 0) {
		rpc_error_set_field(&err, RPC_INVALID_PARAMS, "x", "bad %s", call->method);
		rpc_call_error(call, &err, json_object_get(call->params));
	} else if (strcmp(call->method, "later") == 0 && o->n_later < FUZZ_MAX_LATER) {
		o->later[o->n_later++] = call;
	} else if (strcmp(call->method, "twice") == 0) {
		rpc_call_result(call, json_object_new_int(1));
		rpc_call_result(call, json_object_new_int(2));   /* a handler bug: ignored */
	} else {
		rpc_error_set(&err, RPC_METHOD_NOT_FOUND, "method '%s' not found", call->method);
		rpc_call_error(call, &err, NULL);
	}
}

static const struct rpc_exchange_ops fuzz_ops = { .handle = on_handle, .send = on_send };

static int on_frame(void *userdata, enum rpc_frame_status status, struct json_object *msg,
		    const char *why)
{
	struct fuzz_out *o = userdata;
	struct rpc_error err;

	if (status != RPC_FRAME_OK) {
		fuzz_assert(why && why[0], "frame error without a reason");
		rpc_framer_error(status, why, &err);
		send_json(o, rpc_response_error(NULL, &err, NULL));
		return 0;
	}
	o->n_later = 0;
	fuzz_assert(rpc_exchange_start(msg, &fuzz_ops, o, FUZZ_MAX_REPLY) == 0, "rpc_exchange_start failed");
	/* Deferred calls, completed last-first, as worker replies may arrive. */
	while (o->n_later > 0) {
		struct rpc_call *call = o->later[--o->n_later];
		rpc_call_result(call, json_object_new_string("later"));
	}
	return 0;
}

/* All replies for data fed in chunks of the given sizes (0: whole). */
static void run(const uint8_t *data, size_t size, unsigned step, struct fuzz_out *o)
{
	struct rpc_framer *f = rpc_framer_new(FUZZ_MAX_MESSAGE, RPC_MAX_DEPTH);
	size_t off = 0;

	fuzz_assert(f, "out of memory");
	while (off < size) {
		size_t n = step ? step : size - off;
		if (n > size - off)
			n = size - off;
		fuzz_assert(rpc_framer_feed(f, (const char *) data + off, n, on_frame, o) == 0,
			    "rpc_framer_feed stopped");
		off += n;
		if (step)
			step = step % 7 + 1;   /* 1..7, varying */
	}
	fuzz_assert(rpc_framer_pending(f) <= FUZZ_MAX_MESSAGE, "framer holds more than its limit");
	/* End the last line, as a peer hanging up mid-line would not: both
	 * runs see the same final newline. */
	fuzz_assert(rpc_framer_feed(f, "\n", 1, on_frame, o) == 0, "rpc_framer_feed stopped");
	fuzz_assert(rpc_framer_pending(f) == 0, "framer not empty after a newline");
	rpc_framer_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_out whole = { 0 }, chunked = { 0 };

	/* Replies nest two levels deeper than requests (error.data). */
	whole.check = rpc_framer_new(RPC_MAX_MESSAGE, RPC_MAX_DEPTH + 2);
	chunked.check = rpc_framer_new(RPC_MAX_MESSAGE, RPC_MAX_DEPTH + 2);
	fuzz_assert(whole.check && chunked.check, "out of memory");
	run(data, size, 0, &whole);
	run(data, size, (unsigned) (size % 5) + 1, &chunked);
	fuzz_assert(whole.len == chunked.len && (whole.len == 0 || memcmp(whole.buf, chunked.buf, whole.len) == 0),
		    "replies differ between whole and chunked input:\n%.*s---\n%.*s",
		    (int) whole.len, whole.buf ? whole.buf : "", (int) chunked.len,
		    chunked.buf ? chunked.buf : "");
	rpc_framer_free(whole.check);
	rpc_framer_free(chunked.check);
	free(whole.buf);
	free(chunked.buf);
	return 0;
}
