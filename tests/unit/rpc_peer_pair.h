/* SPDX-License-Identifier: MIT */
/*
 * The fixture the rpc_peer unit tests share (test_common_rpc_peer*.c):
 * one rpc_peer on an event loop, on one end of a socketpair, and the
 * other end raw, so that the test plays the far side byte by byte.
 * Header-only: only the tests of vmmd/common/ link rpc_peer, and every
 * unit test links every other .c file of tests/unit/.
 */
#pragma once

#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "vmmd/common/rpc_peer.h"

/* A peer on base, on one end of a new socketpair; returns the other end. */
static inline int peer_on_socketpair(struct event_base *base, const struct rpc_peer_ops *ops, void *userdata,
				     struct rpc_peer **ret_peer)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(rpc_peer_new(base, sv[0], ops, userdata, ret_peer), 0);
	return sv[1];
}

/* Close and release *p, if any. */
static inline void peer_drop(struct rpc_peer **p)
{
	if (*p) {
		rpc_peer_close(*p, 0);
		rpc_peer_unref(*p);
	}
	*p = NULL;
}

struct peer_pair {
	struct event_base *base;
	struct rpc_peer *peer;
	int other;                    /* the raw end */
};

static inline void peer_pair_open(struct peer_pair *pp, const struct rpc_peer_ops *ops, void *userdata)
{
	pp->base = event_base_new();
	assert_non_null(pp->base);
	pp->other = peer_on_socketpair(pp->base, ops, userdata, &pp->peer);
}

static inline void peer_pair_close(struct peer_pair *pp)
{
	peer_drop(&pp->peer);
	close(pp->other);
	event_base_free(pp->base);
}
