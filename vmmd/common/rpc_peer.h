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
 *
 * Limits (rpc_peer_limits, issue 14): what the other end can make us hold
 * is bounded, and the one who floods is the one who waits. Input is framed
 * a line at a time; while the calls in flight, the bytes of their messages
 * or the output not yet taken by the socket are at their limit, the peer
 * stops reading (back-pressure: the rest of a read is held, the socket
 * fills, the other end's writes block). A reader that falls max_output
 * behind, or that takes a shared output budget past its end, is dropped.
 * A reply larger than max_reply becomes a ResourceLimit error (exchange.h).
 * Responses ("result"/"error", no "method") are never answered: JSON-RPC
 * 2.0 forbids it, and two peers answering each other's errors loop forever.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "proto/exchange.h"
#include "proto/rpc.h"

#define RPC_PEER_MAX_OUTPUT (8u << 20)  /* a reader this far behind is dropped */
#define RPC_PEER_MAX_JUNK   (16u << 20) /* input without one valid message before we hang up */
#define RPC_PEER_MAX_LAST_WORDS (4u << 20) /* read after a write failed, before closing */
#define RPC_PEER_MAX_JUNK_ERRORS 64     /* errors in a row before we hang up */

/* The supervisor <-> worker channel: its messages carry mem.read/mem.write
 * data (1 MiB, base64), and the supervisor has at most this many calls at
 * one worker, and of them at most RPC_CHANNEL_OWNER_CALLS of one user
 * (worker_link.c queues the rest, fairly). */
#define RPC_CHANNEL_MAX_MESSAGE (4u << 20)
#define RPC_CHANNEL_MAX_CALLS   2
#define RPC_CHANNEL_OWNER_CALLS 1

struct rpc_peer;

/* Output queued by several peers together (vmmd: all non-admin clients). */
struct rpc_output_budget {
	size_t used, max;
};

struct rpc_peer_limits {
	size_t max_message;     /* longest line read (framer.h) */
	size_t value_budget;    /* json-c bytes per line; 0: RPC_VALUE_BUDGET(max_message) */
	size_t max_reply;       /* longest reply line built (exchange.h); 0: no limit */
	size_t max_output;      /* queued output past which the peer is dropped */
	size_t pause_output;    /* queued output at which reading stops; 0: never */
	unsigned max_calls;     /* incoming calls in flight at which reading stops; 0: never */
	size_t max_inflight;    /* bytes of those calls' messages (framer cost) likewise; 0: never */
	struct rpc_output_budget *budget;  /* counts this peer's queued output; NULL: none */
};

/* What a peer holds now (for idle and partial-line timeouts, and tests). */
struct rpc_peer_state {
	uint64_t last_input_ms;   /* CLOCK_MONOTONIC ms: the last line ended (or the peer began) */
	bool in_line;             /* a line has begun and not ended */
	uint64_t line_started_ms; /* when it began */
	bool reading;             /* false while input is paused (back-pressure) */
	unsigned calls;           /* incoming calls in flight */
	size_t inflight_bytes;    /* their messages' cost */
	size_t queued;            /* output not taken by the socket yet */
	size_t held;              /* input read but not framed yet (paused mid-read) */
	unsigned pending;         /* our own calls waiting for a reply */
	uint64_t lines_in;        /* lines framed since the peer began */
};

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

/* Defaults: RPC_MAX_MESSAGE in, RPC_PEER_MAX_OUTPUT out, nothing else bounded. */
void rpc_peer_limits_init(struct rpc_peer_limits *l);
/*
 * The supervisor <-> worker channel's. The worker serves calls: its replies
 * are bounded by the supervisor's message limit (an oversized one becomes
 * ResourceLimit), and it stops reading while they back up. The supervisor
 * makes the calls (RPC_CHANNEL_MAX_CALLS at a time): it never stops
 * reading the worker, or the two could wait on each other, and its output
 * is bounded by those calls, so it is never dropped for it.
 */
void rpc_peer_channel_limits(struct rpc_peer_limits *l, bool worker_side);
/* Returns 0, or -ENOMEM (a new framer) leaving the old limits. Resets a
 * line in progress: set them before any input. */
int rpc_peer_set_limits(struct rpc_peer *p, const struct rpc_peer_limits *l);

/* Whether the other end may send descriptors with its messages (proto/fds.h;
 * default no: any that come are closed). */
void rpc_peer_accept_fds(struct rpc_peer *p, bool accept);
/* From a handler, while its call is dispatched: take descriptor index of
 * the message (the caller owns it), or -EBADF when it did not come, was
 * taken already, or the call is not being dispatched now. */
int rpc_peer_take_fd(struct rpc_peer *p, size_t index);
/* Message-size limit for this peer's input (default RPC_MAX_MESSAGE). */
void rpc_peer_set_max_message(struct rpc_peer *p, size_t max);
void rpc_peer_get_state(const struct rpc_peer *p, struct rpc_peer_state *ret);
/* The libevent priority of the peer's events (event_base_priority_init):
 * lower runs first when several are ready. 0 or -errno. */
int rpc_peer_set_priority(struct rpc_peer *p, int priority);
/* The peer whose input a call came from; NULL for a call no rpc_peer dispatched. */
struct rpc_peer *rpc_peer_of_call(const struct rpc_call *call);
/* CLOCK_MONOTONIC in ms, the clock of rpc_peer_state. */
uint64_t rpc_peer_now_ms(void);

/* Queue a message (taken over). -EPIPE when closed, -ENOBUFS when the reader
 * is too far behind or the shared budget is spent (the peer is closed from
 * the loop, not under the caller). */
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
