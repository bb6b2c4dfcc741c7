/* SPDX-License-Identifier: MIT */
/*
 * Introspection and control of a running VM, the worker's side (issue 3):
 *
 *   worker.vcpu.state {vcpu}                 inspect.c
 *   worker.vcpu.regs.set {vcpu, regs}        inspect.c
 *   worker.mem.read {addr, len, space, vcpu} inspect_mem.c
 *   worker.mem.write {addr, data, space, vcpu}
 *   worker.mmu.translate {addr, vcpu}
 *   worker.mmu.guest {vcpu, from, to, limit}
 *   worker.irq.inject {irq | vector | nmi, vcpu}   inspect_irq.c
 *   worker.bus.map {}
 *
 * The supervisor checks the parameters first (methods_inspect.c); the
 * worker checks them again, since it is the one that touches the VM.
 *
 * Reading a vCPU's state needs the vCPU out of KVM_RUN: a running VM is
 * paused (every vCPU parked on its own thread, vm_pause), read, and
 * resumed; a paused one is read as it is. hw mode reads the real state
 * with KVM ioctls; the shadow engine supplies its own guest view later
 * (the `pcb` part of vcpu.state and the CR3 the walks start from).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>
#include <json-c/json.h>

#include "proto/exchange.h"
#include "x86/guest_walk.h"

struct vm;
struct worker;

/* Add the issue-3 parts of worker.stats (irqs, and the shadow-only
 * counters as null in hw mode) to o. */
void inspect_stats_extend(struct vm *vm, struct json_object *o);

/* --- shared by inspect*.c ---------------------------------------------------- */

#define INSPECT_MEM_MAX   (1u << 20)   /* mem.read len, mem.write data: 1 MiB */
#define INSPECT_PHYS_BITS 52           /* MAXPHYADDR when the vCPU's CPUID does not say */

enum inspect_irq_kind { INSPECT_IRQ_LINE, INSPECT_IRQ_VECTOR, INSPECT_IRQ_NMI, INSPECT_IRQ_KINDS };

/* A vCPU held still: paused by us (resume on release) or by the user. */
struct inspect_hold {
	bool resume;
};

/* Park every vCPU unless already parked. -ESHUTDOWN when the VM is stopping. */
int inspect_hold(struct vm *vm, struct inspect_hold *h);
void inspect_release(struct vm *vm, struct inspect_hold *h);
/* Fill err for a failed inspect_hold or vm_pause: the VM is stopping, or its
 * vCPUs did not park in time (kind state). Returns the code. */
int inspect_hold_error(int r, struct rpc_error *err);

/* The vCPU's registers and CPUID facts as the paging code needs them. */
struct inspect_paging {
	uint64_t cr0, cr3, cr4, efer;
	unsigned phys_bits;     /* CPUID 0x80000008 EAX[7:0], INSPECT_PHYS_BITS if unknown */
	bool no_1g;             /* CPUID 0x80000001 EDX[26] (PDPE1GB) clear */
};
/* -EOPNOTSUPP where the guest's paging state is not the vCPU's (shadow mode, for now). */
int inspect_get_paging(struct vm *vm, unsigned vcpu, struct inspect_paging *ret);
/* Fill err for a failed inspect_get_paging (Unsupported or InternalError). */
int inspect_paging_error(int r, unsigned vcpu, struct rpc_error *err);
/* "4-level" when CR0.PG, CR4.PAE and EFER.LMA; "none" without CR0.PG; else what it is. */
const char *inspect_paging_kind(const struct inspect_paging *p);

/* The walk's view of the CPU: EFER.NXE, MAXPHYADDR, 1 GiB pages. */
void inspect_walk_config(const struct inspect_paging *p, struct gw_config *ret);
/* gw_memory over the VM's guest-physical memory. */
void inspect_guest_reader(struct vm *vm, struct gw_memory *ret);

/* Parameter readers: 0, or -EINVAL with err filled (InvalidParams, naming it). */
int inspect_param_vcpu(struct vm *vm, struct json_object *params, unsigned *ret, struct rpc_error *err);
int inspect_param_u64(struct json_object *params, const char *name, bool required, uint64_t dflt,
		      uint64_t *ret, struct rpc_error *err);

/* Complete call with the error (always returns). */
void inspect_fail(struct rpc_call *call, const struct rpc_error *err);

/* Handlers, rows of worker_methods[] (worker.h): inspect.c, inspect_mem.c, inspect_irq.c. */
void inspect_vcpu_state(struct worker *w, struct vm *vm, struct rpc_call *call);
void inspect_vcpu_regs_set(struct worker *w, struct vm *vm, struct rpc_call *call);
void inspect_mem_read(struct worker *w, struct vm *vm, struct rpc_call *call);
void inspect_mem_write(struct worker *w, struct vm *vm, struct rpc_call *call);
void inspect_mmu_translate(struct worker *w, struct vm *vm, struct rpc_call *call);
void inspect_mmu_guest(struct worker *w, struct vm *vm, struct rpc_call *call);
void inspect_irq_inject(struct worker *w, struct vm *vm, struct rpc_call *call);
void inspect_bus_map(struct worker *w, struct vm *vm, struct rpc_call *call);
/* Add stats.get's `bus` {regions: [{space, base, device, reads, writes, errors}], misses} to o. */
void inspect_bus_stats(struct vm *vm, struct json_object *o);

/* Pure helpers (unit-tested in tests/unit/test_worker_inspect.c). */
struct json_object *inspect_regs_json(const struct kvm_regs *regs);
struct json_object *inspect_sregs_json(const struct kvm_sregs *sregs);
/* The guest's view: hw mode derives it from the real registers. */
struct json_object *inspect_pcb_json(const struct kvm_regs *regs, const struct kvm_sregs *sregs);
/* Apply a {"rax": N, ...} object to regs; unknown names and non-integers are
 * refused (InvalidParams naming "regs.NAME") and regs is then untouched. */
int inspect_regs_apply(struct json_object *obj, struct kvm_regs *regs, struct rpc_error *err);
/* "P", "W", "U", "PWT", "PCD", "A", "D", "PS", "G", "NX" set in entry (PS only above level 1). */
struct json_object *inspect_pte_flags_json(uint64_t entry, int level);
/* Memory references a hardware walk makes for a guest walk of guest_levels entries:
 * 1-D (shadow tables or native) and 2-D (guest walk under 4-level nested paging). */
unsigned inspect_refs_1d(unsigned guest_levels);
unsigned inspect_refs_2d(unsigned guest_levels, unsigned nested_levels, bool complete);
/* "urwx"-style rights: u or s, r, w or -, x or -. */
void inspect_rights(bool user, bool writable, bool nx, char out[5]);
