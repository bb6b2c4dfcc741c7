/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of one worker process: spawning it (fork + exec of
 * our own binary in worker mode, its channel as fd 3, its own session so a
 * terminal's ^C reaches only the daemon), the JSON-RPC channel to it, and
 * the end of its life. A worker is over when both its channel has closed
 * and it has been reaped; only then is the VM's final state decided, from
 * what the worker reported (worker.exit) or, if it reported nothing, from
 * how the process died. A worker a previous supervisor started is adopted
 * by worker_adopt.c instead of spawned.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/exchange.h"
#include "vmmd/daemon.h"
#include "vmmd/common/rpc_peer.h"

#define WORKER_STOP_GRACE_MS 5000   /* vm.stop without force: then SIGKILL */
#define WORKER_MAX_MESSAGE   RPC_CHANNEL_MAX_MESSAGE   /* the channel carries mem.read/mem.write data */

struct worker_link;

/* Spawn a worker for vm, handing it the VM's files (start_files.h), and
 * boot it; start_call is answered when the boot succeeds or fails. Returns
 * 0, or -errno with err filled (start_call untouched then). */
int worker_spawn(struct daemon *d, struct vm_record *vm, struct rpc_call *start_call, struct rpc_error *err);

/* Forward a call to vm's worker; the reply (or a transport error) goes to fn. */
int worker_call(struct vm_record *vm, const char *method, struct json_object *params,
		rpc_reply_fn fn, void *userdata);
/*
 * The same for a client: at most RPC_CHANNEL_MAX_CALLS calls are at a
 * worker at once; the rest wait here and are sent fairly, each owner (a
 * client's user, 0 for vmmd itself) in turn, so one who floods a VM with
 * calls waits behind everyone else's instead of cutting the VM off
 * (issue 14, finding 1). method is kept by pointer: a string literal.
 * An admin's calls (owner with WORKER_OWNER_ADMIN) wait only for the calls
 * already at the worker and for other admins' calls.
 */
#define WORKER_OWNER_ADMIN (UINT64_C(1) << 63)
int worker_call_from(struct vm_record *vm, uint64_t owner, const char *method, struct json_object *params,
		     rpc_reply_fn fn, void *userdata);

/* Ask the worker to stop its guest (force: SIGKILL now). */
void worker_stop(struct vm_record *vm, bool force);

pid_t worker_pid(const struct vm_record *vm);
/* vm.info's cgroup {path, memory_max (null for an adopted worker's)} of
 * its worker, or NULL when it has none (worker_cgroup.h). */
struct json_object *worker_cgroup_json(const struct daemon *d, const struct vm_record *vm);

/* Reap every exited child (SIGCHLD). */
void worker_reap_all(struct daemon *d);

/* Adopting the workers of a previous supervisor: worker_adopt.h. */
