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
 * These files are the JSON side only: they read and check parameters, call
 * the mechanism (vm_hold, vcpu_get_regs, guest_paging_get, vm_irq.h, the
 * walker in x86/guest_walk.h), and shape the answer. The mechanism hides
 * whether the VM runs in hw or shadow mode, and issues the KVM ioctls.
 *
 * Reading a vCPU's state needs that vCPU out of KVM_RUN, and only that
 * one: it alone is kicked and parked on its own thread (vm_hold_vcpu),
 * read, and let go, while the others run on; in a paused VM it is read as
 * it is. What each method holds still (issue 14, finding 14):
 *
 *   vcpu.state, mmu.translate, mmu.guest, mem.read by virtual address,
 *   irq.inject nmi          the vCPU named (its registers, its CR3)
 *   mem.write by virtual    every vCPU (vm_hold): all of it is translated
 *                           before a byte is written, and no vCPU may
 *                           change the tables in between
 *   vcpu.regs.set           nothing more: the VM must be paused already
 *   mem.read/write physical, bus.map, stats, irq.inject irq/vector
 *                           nothing: memory and counters are read as they
 *                           are, like a DMA would
 *   mmu.shadow              nothing; the engine's lock, which the vCPUs'
 *                           shadow faults take too, for the walk
 *
 * A walk through a running VM's page tables reads them while the other
 * vCPUs may change them: it shows the tables at no single instant, as a
 * hardware walker racing another CPU would.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>
#include <json-c/json.h>

#include "proto/exchange.h"
#include "vmmd/worker/vm.h"

struct worker;

/* Add the issue-3 parts of worker.stats (irqs, and the shadow-only
 * counters as null in hw mode) to o. */
void inspect_stats_extend(struct vm *vm, struct json_object *o);

/* --- shared by inspect*.c: the JSON side ------------------------------------- */

#define INSPECT_MEM_MAX   (1u << 20)   /* mem.read len, mem.write data: 1 MiB */

enum inspect_irq_kind { INSPECT_IRQ_LINE, INSPECT_IRQ_VECTOR, INSPECT_IRQ_NMI, INSPECT_IRQ_KINDS };

/* vm_hold_vcpu (vcpu >= 0) or vm_hold (-1), or err filled: the one
 * sentence for "the vCPUs would not hold still". */
int inspect_hold(struct vm *vm, int vcpu, struct vm_hold *h, struct rpc_error *err);
/* Fill err for a failed vm_hold or vm_pause: the VM is stopping, or its
 * vCPUs did not park in time (kind state). Returns the code. */
int inspect_hold_error(int r, struct rpc_error *err);
/* Fill err for reading a vCPU that failed with r (kind internal). */
int inspect_vcpu_error(int r, unsigned vcpu, struct rpc_error *err);

/* Parameter readers: 0, or negative with err filled (kind params, naming it). */
int inspect_param_vcpu(struct vm *vm, struct json_object *params, unsigned *ret, struct rpc_error *err);
int inspect_param_u64(struct json_object *params, const char *name, bool required, uint64_t dflt,
		      uint64_t *ret, struct rpc_error *err);

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

/* Pure helpers (unit-tested in tests/unit/test_vmmd_inspect.c). */
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
