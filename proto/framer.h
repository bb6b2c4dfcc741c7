/* SPDX-License-Identifier: MIT */
/*
 * Newline-delimited JSON framing over a byte stream, with json-c's streaming
 * tokener (json_tokener_parse_ex + json_tokener_get_parse_end).
 *
 * Bytes go in as they arrive, in chunks of any size; each complete line
 * comes out once, as a parsed object or as an error. A line longer than the
 * size limit is discarded up to its newline and reported once; a malformed
 * line is reported once; either way the framer is reset and the next line
 * parses normally — the connection stays usable. Blank lines are ignored.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "proto/rpc.h"

struct rpc_framer;

enum rpc_frame_status {
	RPC_FRAME_OK = 0,        /* msg holds the parsed value */
	RPC_FRAME_PARSE_ERROR,   /* malformed JSON, trailing garbage, too deep, \u0000 */
	RPC_FRAME_TOO_LARGE,     /* line exceeded max_message bytes or the value budget */
};

/*
 * The value budget. A line's bytes are not what it costs: json-c builds a
 * 16-slot hash table for every object, so the 1 MiB line "[{},{},..."
 * becomes ~270 MB of heap. Each value is charged what json-c 0.16 allocates
 * for it (measured on amd64: 784 bytes for {}, 152 for [], 72-104 for a
 * number, string or boolean, object keys alike, rounded up), and a line
 * whose values would pass the budget is refused as RPC_FRAME_TOO_LARGE as
 * soon as that value starts, before json-c allocates it. String contents
 * are bounded by max_message and not charged again.
 */
#define RPC_COST_OBJECT 800
#define RPC_COST_ARRAY  160
#define RPC_COST_VALUE  100
/* The default budget for a max_message: twice it, at least 64 KiB. So one
 * line costs at most max_message (held by the tokener) + its strings
 * (≤ max_message) + the budget: 4x max_message in all. */
#define RPC_VALUE_BUDGET(max_message) \
	((max_message) < (32u << 10) ? (size_t) (64u << 10) : 2 * (size_t) (max_message))

/*
 * Called for each line. On RPC_FRAME_OK the callee owns msg (json_object_put
 * it; NULL for the JSON text `null`); otherwise msg is NULL and `why` is a
 * short human reason, valid during the call only.
 * Return 0 to continue, negative to stop feeding (returned by rpc_framer_feed;
 * the rest of that buffer is dropped). A callback must not free the framer.
 *
 * Lines are strict JSON (RFC 8259) in strict UTF-8: no comments, NaN,
 * raw control characters, or bytes after the value. An error is reported
 * as soon as it is seen, before the line's newline has arrived.
 */
typedef int (*rpc_frame_fn)(void *userdata, enum rpc_frame_status status,
			    struct json_object *msg, const char *why);

/*
 * max_message in bytes (without the newline, with any \r before it;
 * 1..INT_MAX), max_depth for json-c: the most values on any path from the
 * top, the innermost scalar included (with 32: 32 nested empty arrays
 * parse, 33 do not, nor 32 around a number).
 * NULL with errno set (ENOMEM, EINVAL).
 */
struct rpc_framer *rpc_framer_new(size_t max_message, int max_depth);
void rpc_framer_free(struct rpc_framer *f);

/* Change the value budget (bytes of json-c objects per line, see above). */
void rpc_framer_set_value_budget(struct rpc_framer *f, size_t bytes);

/* Returns 0, or the first negative value a callback returned. */
int rpc_framer_feed(struct rpc_framer *f, const char *buf, size_t len,
		    rpc_frame_fn fn, void *userdata);

/* Bytes of the current, unfinished line held (for tests and limits); 0 while skipping. */
size_t rpc_framer_pending(const struct rpc_framer *f);
/* Whether a line has begun and not ended (also while an oversized one is skipped). */
bool rpc_framer_in_line(const struct rpc_framer *f);
/* What the message just delivered costs (its bytes plus its value budget
 * used): valid in and after an RPC_FRAME_OK callback, for in-flight limits. */
size_t rpc_framer_last_cost(const struct rpc_framer *f);

/*
 * The error a server answers a bad line with (its id is unknown: null):
 * ParseError for RPC_FRAME_PARSE_ERROR, ResourceLimit for RPC_FRAME_TOO_LARGE.
 * Returns err->code. Typical use in a frame callback:
 *     rpc_framer_error(status, why, &err);
 *     reply = rpc_response_error(NULL, &err, NULL);
 */
int rpc_framer_error(enum rpc_frame_status status, const char *why, struct rpc_error *err);
