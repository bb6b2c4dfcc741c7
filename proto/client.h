/* SPDX-License-Identifier: MIT */
/*
 * A blocking JSON-RPC client over a Unix socket, for vmmctl and tests.
 * Notifications that arrive while waiting for a reply are handed to an
 * optional callback (used by `vmmctl events` and `console --follow`).
 */
#pragma once

#include <json-c/json.h>
#include "proto/rpc.h"

/* Replies can exceed the server's 1 MiB input limit (mem.read of 1 MiB is
 * ~1.4 MiB of base64), so the client reads lines up to this size. */
#define RPC_CLIENT_MAX_MESSAGE (64u << 20)

struct rpc_client;

/* notification is borrowed: json_object_get it to keep it past the call. */
typedef void (*rpc_notify_fn)(void *userdata, struct json_object *notification);

/* A blocking, close-on-exec stream socket connected to the Unix socket at
 * path (a Unix connect does not wait for the other side to accept): the
 * fd, or -errno (-EINVAL empty path, -ENAMETOOLONG). vmmctl bridge and
 * vmmweb connect with it too. */
int rpc_unix_connect(const char *path);
/* Connect to path. Returns 0 or -errno. */
int rpc_client_connect(const char *path, struct rpc_client **ret);
/* Wrap a connected stream socket (tests, socket pairs); owns fd on success only. */
int rpc_client_from_fd(int fd, struct rpc_client **ret);
void rpc_client_free(struct rpc_client *c);
int rpc_client_fd(const struct rpc_client *c);
void rpc_client_on_notify(struct rpc_client *c, rpc_notify_fn fn, void *userdata);

/*
 * Call method with params (taken over, may be NULL) and wait for its reply.
 * Returns 0 with *ret_result (caller puts it; NULL for a null result), or:
 * -EPROTO with err filled from the server's error object (code, message,
 * data.field), or another -errno for transport failures (err->message says
 * what): -ECONNRESET on EOF, -EBADMSG for a reply that is not valid JSON or
 * JSON-RPC, -EMSGSIZE for one over RPC_CLIENT_MAX_MESSAGE. err may be NULL.
 * Ids count up from 1; replies to other ids are dropped.
 */
int rpc_client_call(struct rpc_client *c, const char *method, struct json_object *params,
		    struct json_object **ret_result, struct rpc_error *err);
/* The same, sending n descriptors (at most RPC_MAX_FDS, proto/fds.h) with the
 * request: params.files names them by index. The caller keeps its fds.
 * -ENOTSOCK when the connection cannot carry them (not a Unix socket). */
int rpc_client_call_fds(struct rpc_client *c, const char *method, struct json_object *params, const int *fds,
			size_t n, struct json_object **ret_result, struct rpc_error *err);

/* Block until one message arrives (timeout_ms < 0: forever); notifications go to the callback.
 * Returns 1 if a notification was handled, 0 on timeout, -errno on EOF/error (-ECONNRESET on EOF,
 * -EBADMSG/-EMSGSIZE for an unreadable line). Stray replies are dropped. */
int rpc_client_wait(struct rpc_client *c, int timeout_ms);
