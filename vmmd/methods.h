/* SPDX-License-Identifier: MIT */
/*
 * The RPC method table (STYLE.md "tables over switch ladders"): each entry
 * names the role a client needs, its parameters and, for methods on one
 * VM, the VM states in which it is accepted and whether it may run while
 * the VM changes state — so a call is refused here, before its handler
 * runs (Firecracker's rpc_interface). rpc.discover and docs/methods.md are
 * generated from it, so a method cannot be added without saying who may
 * call it.
 */
#pragma once

#include "proto/exchange.h"
#include "vmmd/daemon.h"
#include "vmmd/common/params.h"

struct method;

/* vm is the looked-up record for methods with takes_vm, else NULL. */
typedef void (*method_fn)(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);

struct method {
	const char *name;
	const char *summary;
	method_fn fn;
	enum access_role role;  /* the role a client needs (access.h); every row names one */
	bool takes_vm;          /* "name" names an existing VM */
	unsigned states;        /* VM_STATE_BIT mask accepted, with takes_vm */
	bool while_busy;        /* with takes_vm: also while a start or stop is in flight */
	bool costs_guest;       /* holds a vCPU of the guest still, or what its vCPUs need (the
	                         * worker's inspect.h): at most limits.inspect_per_second a
	                         * second per connection below admin (token_bucket.h) */
	struct param_spec params[PARAMS_MAX];
};

extern const struct method vmm_methods[];
extern const size_t vmm_methods_count;

/* The row of a method; NULL when there is none. */
const struct method *method_find(const char *name);
/* The role a row needs: its role column, admin for a row without one. */
enum access_role method_role(const struct method *m);

/* Validate and dispatch one call from a client. */
void methods_dispatch(struct daemon *d, struct client *c, struct rpc_call *call);

/* Shared helpers for handlers. */
/* MiB of guest memory that VMs other than `except` (NULL: every VM) hold:
 * running or paused, or with a worker still starting or stopping. */
uint64_t vm_memory_in_use(const struct daemon *d, const struct vm_record *except);
struct json_object *vm_summary_json(struct vm_record *vm);
/* Send the call's params, less "name", to vm's worker as worker_method and
 * relay its answer (methods_inspect.c). */
void method_forward(struct rpc_call *call, struct vm_record *vm, const char *worker_method);
/* Who a call is from, for the worker's fair queue (worker_call_from): its
 * client's uid + 1, and WORKER_OWNER_ADMIN for an admin's. */
uint64_t method_call_owner(struct rpc_call *call);

/* Handlers (methods_*.c). */
void method_rpc_discover(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vmm_version(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vmm_stats(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vmm_whoami(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_events_subscribe(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_create(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_start(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_pause(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_resume(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_stop(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_destroy(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_list(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_info(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_console_read(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_mmu_shadow(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vm_console_write(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
/* Introspection and control (methods_inspect.c). */
void method_vcpu_state(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_vcpu_regs_set(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_mem_read(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_mem_write(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_mmu_translate(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_mmu_guest(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_irq_inject(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_bus_map(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
void method_stats_get(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm);
