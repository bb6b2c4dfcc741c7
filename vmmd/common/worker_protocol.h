/* SPDX-License-Identifier: MIT */
/*
 * The typed parts of the channel between the supervisor and a worker
 * (JSON-RPC over a socketpair, rpc_peer.h): why a call failed and why a
 * guest ended. Both travel as the names below and are parsed back into
 * the enums on receipt, so code on either side switches on a kind, never
 * on a message; messages are for people and may be reworded freely
 * (Firecracker's VmmActionError).
 *
 * A worker error names its kind; the JSON-RPC class the client sees, and
 * the config field for ConfigInvalid, follow from the kind through one
 * table (worker_protocol.c), which a unit test holds to API.md's classes.
 * The kind crosses the channel as error.data.kind, and reaches clients
 * with the error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/rpc.h"

/*
 * The channel's methods. The supervisor calls the first group and names
 * them only through these (worker_call_from keeps the pointer: they are
 * string literals); the worker's table (vmmd/worker/worker_methods.c)
 * has one row for each, with its parameters. The worker sends the
 * notifications.
 */
#define WORKER_METHOD_BOOT          "worker.boot"
#define WORKER_METHOD_PAUSE         "worker.pause"
#define WORKER_METHOD_RESUME        "worker.resume"
#define WORKER_METHOD_STOP          "worker.stop"
#define WORKER_METHOD_STATS         "worker.stats"
#define WORKER_METHOD_CONSOLE_WRITE "worker.console.write"
#define WORKER_METHOD_INFO          "worker.info"       /* who the worker is: an adoption's first call */
#define WORKER_METHOD_VCPU_STATE    "worker.vcpu.state"
#define WORKER_METHOD_VCPU_REGS_SET "worker.vcpu.regs.set"
#define WORKER_METHOD_MEM_READ      "worker.mem.read"
#define WORKER_METHOD_MEM_WRITE     "worker.mem.write"
#define WORKER_METHOD_MMU_TRANSLATE "worker.mmu.translate"
#define WORKER_METHOD_MMU_GUEST     "worker.mmu.guest"
#define WORKER_METHOD_MMU_SHADOW    "worker.mmu.shadow"
#define WORKER_METHOD_IRQ_INJECT    "worker.irq.inject"
#define WORKER_METHOD_BUS_MAP       "worker.bus.map"
#define WORKER_NOTIFY_CONSOLE       "worker.console"    /* {offset}: the console ring grew */
#define WORKER_NOTIFY_EXIT          "worker.exit"       /* the exit report, before the worker leaves */

enum worker_error {
	WORKER_ERROR_INTERNAL,      /* vmmd or KVM failed where they should not */
	WORKER_ERROR_NO_KVM,        /* /dev/kvm cannot be opened: the host lacks what the VM needs */
	WORKER_ERROR_CONFIG,        /* the config does not parse (field: the one named) */
	WORKER_ERROR_KERNEL,        /* the kernel file does not load, or not as configured */
	WORKER_ERROR_INITRD,        /* the initrd does not load */
	WORKER_ERROR_MEMORY,        /* memory_mib beyond what the mode supports */
	WORKER_ERROR_CONSOLE_LOG,   /* console.log cannot be opened */
	WORKER_ERROR_DEVICE,        /* a configured device cannot be built */
	WORKER_ERROR_DEVICE_BUSY,   /* a disk image another VM holds (flock) */
	WORKER_ERROR_PARAMS,        /* the call's parameters are wrong */
	WORKER_ERROR_STATE,         /* not now: not booted, already booted, stopping, still running */
	WORKER_ERROR_NO_METHOD,     /* no such worker method */
	WORKER_ERROR_GUEST_ACCESS,  /* a guest address that is not mapped or not memory */
	WORKER_ERROR_LIMIT,         /* more than a call may ask for */
	WORKER_ERROR_UNSUPPORTED,   /* the mode or the guest's state lacks what the call needs */
	WORKER_ERROR_GONE,          /* the channel closed before the reply: the worker left */
	WORKER_ERROR_NO_SPACE,      /* a filesystem vmmd writes (the state directory) is full */
	WORKER_ERROR_TIMEOUT,       /* supervisor: the worker did not boot or answer in time */
	WORKER_ERROR_MAX
};

/* "internal", "kernel", ...; NULL for a value outside the enum. */
const char *worker_error_name(enum worker_error kind);
/* The inverse; -EINVAL for a name not in the table (a newer or broken peer). */
int worker_error_from_name(const char *name);
/* The JSON-RPC code (API.md's class) of a kind. */
int worker_error_code(enum worker_error kind);
/* The config field a kind blames (ConfigInvalid's data.field), or NULL. */
const char *worker_error_field(enum worker_error kind);

/* Fill err: the kind's code, its field (or `field` when given), its name
 * in err->kind, and the message. Returns the (negative) code. */
int worker_error_set(struct rpc_error *err, enum worker_error kind, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The kind of an error received over the channel: its data.kind, else
 * WORKER_ERROR_INTERNAL (a peer that did not name one). */
enum worker_error worker_error_of(const struct rpc_error *err);

/* Why a VM's run ended: the worker's reasons (a vCPU or the control loop
 * saw it), then the supervisor's own, for a worker that could not say. */
enum vm_exit_reason {
	VM_EXIT_NONE = 0,
	VM_EXIT_DEBUG_EXIT,        /* guest wrote the debug-exit port */
	VM_EXIT_STOPPED,           /* vm.stop, or the guest was stopped with its worker */
	VM_EXIT_TRIPLE_FAULT,      /* KVM_EXIT_SHUTDOWN */
	VM_EXIT_EMULATION_FAILURE, /* KVM could not emulate an instruction */
	VM_EXIT_INTERNAL_ERROR,    /* KVM or vmmd failed */
	VM_EXIT_GUEST_RESET,       /* the guest reset the machine (i8042, KVM system event) */
	VM_EXIT_POWEROFF,          /* the guest powered off (Xen PV SCHEDOP_shutdown poweroff) */
	VM_EXIT_GUEST_CRASH,       /* the guest kernel crashed (Xen PV shutdown "crash"): message says why */
	VM_EXIT_WORKER_KILLED,     /* supervisor: the worker died of a signal */
	VM_EXIT_WORKER_CRASHED,    /* supervisor: the worker exited without a report */
	VM_EXIT_WORKER_GONE,       /* supervisor: an adopted worker ended without a report */
	VM_EXIT_DAEMON_RESTART,    /* supervisor: restarted and the worker was gone */
	VM_EXIT_UNKNOWN,           /* a name this build does not know (a newer worker, an old file) */
	VM_EXIT_REASON_MAX
};

/* "debug-exit", "stopped", ... */
const char *vm_exit_reason_name(enum vm_exit_reason r);
/* The inverse; VM_EXIT_UNKNOWN for any other name. */
enum vm_exit_reason vm_exit_reason_from_name(const char *name);
/* The guest's own wish or ours (debug-exit, stopped, guest-reset, poweroff): the VM
 * ends `stopped`, like a powered-off machine; the rest end `crashed`. */
bool vm_exit_reason_is_clean(enum vm_exit_reason r);
