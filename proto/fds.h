/* SPDX-License-Identifier: MIT */
/*
 * Descriptors that travel with messages (SCM_RIGHTS on the Unix socket):
 * a client passes files it opened with its own rights (docs/operations.md
 * "File access"). The convention, for every method that takes files: a
 * request's params.files maps a name to the index of a descriptor sent
 * with the message, and the message carries 1 + the highest index any of
 * its requests names (a batch's requests share the message's list). The
 * sender attaches them to the message's first byte (one sendmsg), so they
 * arrive no later than the message; the receiver queues what arrives, in
 * order, and each message takes its count from the head of the queue.
 * Both ends are bounded: RPC_MAX_FDS a message, RPC_FD_QUEUE_MAX waiting.
 */
#pragma once

#include <stddef.h>
#include <json-c/json.h>

#define RPC_MAX_FDS       32   /* descriptors one message may carry (a VM's files: 28) */
#define RPC_FD_QUEUE_MAX  64   /* received, not yet taken by a message, per connection */

/* Received descriptors, oldest first. */
struct rpc_fd_queue {
	int fd[RPC_FD_QUEUE_MAX];
	size_t n;
};

/* The descriptors of one message; an entry taken is -1. */
struct rpc_fds {
	int fd[RPC_MAX_FDS];
	size_t n;
};

/* Queue fd (taken over): 0, or -EMFILE when the queue is full (fd closed). */
int rpc_fd_queue_push(struct rpc_fd_queue *q, int fd);
/* Move the oldest n (or as many as there are) into ret. */
void rpc_fd_queue_pop(struct rpc_fd_queue *q, size_t n, struct rpc_fds *ret);
void rpc_fd_queue_clear(struct rpc_fd_queue *q);

/* How many descriptors msg (a request or a batch) carries by the
 * convention above; indexes that are not integers in [0, RPC_MAX_FDS) are
 * not counted (the method refuses them). */
size_t rpc_message_fd_count(struct json_object *msg);

/* Take descriptor index of a message (the caller owns it then), or -EBADF
 * when it did not come or was taken already. */
int rpc_fds_take(struct rpc_fds *f, size_t index);
void rpc_fds_close(struct rpc_fds *f);
