/* SPDX-License-Identifier: MIT */
/*
 * vmmweb's connection to vmmd: one rpc_peer on the event loop, connected
 * again (with backoff) whenever vmmd goes away, so vmmweb outlives vmmd
 * restarts. On each connect it reads rpc.discover once: which methods this
 * vmmd has, the role each needs and the types of their parameters (what
 * /api needs to turn a query string into params); then vmm.whoami: the
 * role vmmd gives vmmweb and the methods it may call (a `monitor` vmmweb
 * says so in its debug views instead of failing there), then tells its
 * owner. Calls made while vmmd is away fail at once with -ENOTCONN.
 */
#pragma once

#include <stdbool.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "vmmd/common/rpc_peer.h"

struct vmmd_link;

struct vmmd_link_ops {
	/* Connected and rpc.discover read: (re)subscribe here. */
	void (*connected)(void *userdata);
	/* The connection ended; calls in flight have failed already. */
	void (*disconnected)(void *userdata);
	/* An `event` notification's params (borrowed). */
	void (*event)(void *userdata, struct json_object *params);
};

/* Does not connect yet: vmmd_link_start does. Returns 0 or -ENOMEM. */
int vmmd_link_new(struct event_base *base, const char *socket_path, const struct vmmd_link_ops *ops,
		  void *userdata, struct vmmd_link **ret);
void vmmd_link_free(struct vmmd_link *l);
/* Connect now, and keep reconnecting after every loss. */
void vmmd_link_start(struct vmmd_link *l);

/* Connected and rpc.discover read. */
bool vmmd_link_ready(const struct vmmd_link *l);
const char *vmmd_link_socket(const struct vmmd_link *l);
/* The last connect error (-errno), 0 while connected. */
int vmmd_link_error(const struct vmmd_link *l);

/* As rpc_peer_call / rpc_peer_call_batch; -ENOTCONN while not ready (params taken over either way). */
int vmmd_link_call(struct vmmd_link *l, const char *method, struct json_object *params,
		   rpc_reply_fn fn, void *userdata);
int vmmd_link_batch(struct vmmd_link *l, size_t n, const char *const *methods,
		    struct json_object *const *params, rpc_batch_reply_fn fn, void *userdata);

/* From rpc.discover: whether vmmd has the method, and a parameter's JSON
 * schema type ("string", "integer", "boolean", ...; NULL when unknown). */
bool vmmd_link_has_method(const struct vmmd_link *l, const char *method);
const char *vmmd_link_param_type(const struct vmmd_link *l, const char *method, const char *param);
/* vmmd has the method and gives us a role that may call it (a vmmd without
 * vmm.whoami: every method it has). */
bool vmmd_link_may_call(const struct vmmd_link *l, const char *method);
/* Whether our role may subscribe to an event topic (vmm.whoami's topics). */
bool vmmd_link_may_subscribe(const struct vmmd_link *l, const char *topic);
/* Our role ("monitor", "debug", "admin"), NULL from a vmmd without vmm.whoami. */
const char *vmmd_link_role(const struct vmmd_link *l);
/* The role a method needs (rpc.discover's x-role), NULL when unknown. */
const char *vmmd_link_method_role(const struct vmmd_link *l, const char *method);

/* Batches and calls sent since start (monitoring: one batch per scrape). */
unsigned long long vmmd_link_batches(const struct vmmd_link *l);
unsigned long long vmmd_link_calls(const struct vmmd_link *l);
