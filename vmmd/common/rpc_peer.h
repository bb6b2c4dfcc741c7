/* SPDX-License-Identifier: MIT */
/*
 * One JSON-RPC connection on a libevent loop, usable from either end: it
 * serves incoming requests (through proto's exchange, so handlers may answer
 * later), sends notifications, and makes its own calls whose replies come
 * back to a callback. vmmd uses it for client connections, for its channel
 * to each worker, and the worker for its side of that channel.
 *
 * Lifetime: the peer is reference-counted because an exchange can outlive
 * the socket (a client that hangs up while its call waits on a worker).
 * rpc_peer_close() is the one "peer is dead" path (tmux proc.c): it drops
 * the socket, fails outstanding calls, and calls ops->closed once. Replies
 * to a closed peer are discarded.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "proto/exchange.h"
#include "proto/rpc.h"

#define RPC_PEER_MAX_OUTPUT (8u << 20)  /* a reader this far behind is dropped */
#define RPC_PEER_MAX_JUNK   (16u << 20) /* input without one valid message before we hang up */
#define RPC_PEER_MAX_JUNK_ERRORS 64     /* errors in a row before we hang up */

struct rpc_peer;

struct rpc_peer_ops {
	/* A request or notification from the other end; complete it once. */
	void (*handle)(void *userdata, struct rpc_peer *peer, struct rpc_call *call);
	/* The connection ended (EOF, error, protocol abuse, rpc_peer_close). */
	void (*closed)(void *userdata, struct rpc_peer *peer, int error);
};

/* result is borrowed; err is NULL on success. Called once per call, also on close. */
typedef void (*rpc_reply_fn)(void *userdata, struct json_object *result, const struct rpc_error *err);

/* Takes ownership of fd (non-blocking is set here). Returns 0 or -errno. */
int rpc_peer_new(struct event_base *base, int fd, const struct rpc_peer_ops *ops, void *userdata,
		 struct rpc_peer **ret);
void rpc_peer_ref(struct rpc_peer *p);
void rpc_peer_unref(struct rpc_peer *p);
void rpc_peer_close(struct rpc_peer *p, int error);
bool rpc_peer_is_open(const struct rpc_peer *p);
int rpc_peer_fd(const struct rpc_peer *p);

/* Message-size limit for this peer's input (default RPC_MAX_MESSAGE). */
void rpc_peer_set_max_message(struct rpc_peer *p, size_t max);

/* Queue a message (taken over). -EPIPE when closed, -ENOBUFS when the reader is too far behind (peer closed). */
int rpc_peer_send(struct rpc_peer *p, struct json_object *msg);
/* Write out everything queued, blocking up to timeout_ms, then close (a process about to exit). */
int rpc_peer_flush_and_close(struct rpc_peer *p, int timeout_ms);
int rpc_peer_notify(struct rpc_peer *p, const char *method, struct json_object *params);
int rpc_peer_call(struct rpc_peer *p, const char *method, struct json_object *params,
		  rpc_reply_fn fn, void *userdata);

/*
 * One batch (a JSON array of n ≤ RPC_MAX_BATCH requests, sent as one line):
 * methods[i] with params[i] (taken over, may be NULL). fn gets every
 * result in request order: results[i] (borrowed) when errs[i].code is 0,
 * else errs[i]. Called once, also on close. Returns 0, -EINVAL (n out of
 * range), -EPIPE or -ENOMEM; params are taken over either way.
 */
typedef void (*rpc_batch_reply_fn)(void *userdata, size_t n, struct json_object *const *results,
				   const struct rpc_error *errs);
int rpc_peer_call_batch(struct rpc_peer *p, size_t n, const char *const *methods,
			struct json_object *const *params, rpc_batch_reply_fn fn, void *userdata);

/* Opaque per-peer slot for the owner (e.g. the client's subscriptions). */
void rpc_peer_set_data(struct rpc_peer *p, void *data);
void *rpc_peer_get_data(const struct rpc_peer *p);
