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

#include <stddef.h>
#include <json-c/json.h>
#include "proto/rpc.h"

struct rpc_framer;

enum rpc_frame_status {
	RPC_FRAME_OK = 0,        /* msg holds the parsed value */
	RPC_FRAME_PARSE_ERROR,   /* malformed JSON, trailing garbage or too deep */
	RPC_FRAME_TOO_LARGE,     /* line exceeded max_message bytes */
};

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

/* Returns 0, or the first negative value a callback returned. */
int rpc_framer_feed(struct rpc_framer *f, const char *buf, size_t len,
		    rpc_frame_fn fn, void *userdata);

/* Bytes of the current, unfinished line held (for tests and limits); 0 while skipping. */
size_t rpc_framer_pending(const struct rpc_framer *f);

/*
 * The error a server answers a bad line with (its id is unknown: null):
 * ParseError for RPC_FRAME_PARSE_ERROR, ResourceLimit for RPC_FRAME_TOO_LARGE.
 * Returns err->code. Typical use in a frame callback:
 *     rpc_framer_error(status, why, &err);
 *     reply = rpc_response_error(NULL, &err, NULL);
 */
int rpc_framer_error(enum rpc_frame_status status, const char *why, struct rpc_error *err);
