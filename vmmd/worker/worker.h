/* SPDX-License-Identifier: MIT */
/*
 * The worker process: one per VM (DESIGN.md process model). It owns the
 * KVM fds, guest memory, vCPU threads and devices, and serves the
 * supervisor over one JSON-RPC channel (a socketpair end passed as an fd):
 *
 *   supervisor -> worker: the methods of worker_methods[] (worker_methods.c:
 *       worker.boot, worker.pause, ..., the introspection calls)
 *   worker -> supervisor (notifications): worker.console {offset},
 *       worker.exit {reason, code, value, message, vcpu, stats}
 *
 * Errors and exit reasons cross the channel typed (vmmd/common/worker_protocol.h).
 * The worker exits after it has reported worker.exit, or when the channel
 * closes (the supervisor is gone) after stopping its guest.
 *
 *   worker.c          the process: arguments, the loop, the channel, adoption, the exit report
 *   worker_methods.c  the method table, its dispatch and the small methods
 *   worker_boot.c     worker.boot: build the VM, jail the worker, start the VM, filter
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "proto/exchange.h"
#include "vmmd/common/params.h"
#include "vmmd/common/rpc_peer.h"
#include "vmmd/common/worker_protocol.h"
#include "vmmd/worker/adopt.h"
#include "vmmd/worker/jail.h"

struct vm;
struct vm_config;

struct worker {
	struct event_base *base;
	struct rpc_peer *peer;          /* NULL while we wait to be adopted */
	struct event *wake_ev;
	struct vm_config *config;
	struct vm *vm;                  /* NULL until worker.boot built it */
	uint64_t console_sent;
	struct event *console_ev;       /* coalesces console notifications */
	/* Adopted, and the new supervisor has not spoken yet: nothing is sent
	 * unasked, so that what it sends first is read before a write to a
	 * connection it already closed ends it (an orphan's worker.stop). */
	bool quiet;
	int error;                      /* why the worker failed: exit status 1 */
	bool exiting;
	bool sandboxed;                 /* the seccomp filter is on (sandbox.h) */
	struct jail_state jail;         /* what the jail holds (jail.h) */
	struct adopt_socket adopt;      /* where the next supervisor finds us (adopt.h) */
	int exit_report_fd;             /* <state>/<name>.exit, opened at boot */
	struct timespec booted;
};

/* A method of the channel. vm is the booted VM for methods that need one
 * (the dispatcher refuses them before worker.boot), else NULL. */
typedef void (*worker_method_fn)(struct worker *w, struct vm *vm, struct rpc_call *call);

struct worker_method {
	const char *name;                      /* WORKER_METHOD_* (worker_protocol.h) */
	worker_method_fn fn;
	bool needs_vm;                         /* refused before worker.boot */
	struct param_spec params[PARAMS_MAX];  /* checked before fn runs; { NULL }-ended */
};

extern const struct worker_method worker_methods[];
extern const size_t worker_methods_count;

/* `vmmd --worker --name NAME --channel-fd N`; returns the process exit status. */
int worker_main(int argc, char **argv);

/* The channel's handler: look the method up in worker_methods[] and run it. */
void worker_dispatch(struct worker *w, struct rpc_call *call);
/* Complete call with an error of this kind (worker_protocol.h). */
void worker_fail(struct rpc_call *call, enum worker_error kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* worker.stats' result, also sent with worker.exit. */
struct json_object *worker_stats_json(struct vm *vm);

/* worker.boot (worker_boot.c). */
void worker_boot(struct worker *w, struct vm *vm, struct rpc_call *call);
/* The sandbox as worker.boot and worker.info report it: {seccomp, uid, gid,
 * user_changed, no_capabilities, private_root, user_namespace, missing}. */
struct json_object *worker_sandbox_json(const struct worker *w);
/* Start watching the VM's wake-up eventfd (worker.c); 0 or -errno. */
int worker_watch_vm(struct worker *w);
/* Accept a supervisor on the control socket (worker.c), for worker_boot's adopt_listen. */
void worker_on_adopt(void *userdata, int fd);
/* Leave the loop once the current call's reply is written (worker.c). */
void worker_leave_after_reply(struct worker *w);
