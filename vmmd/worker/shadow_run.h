/* SPDX-License-Identifier: MIT */
/*
 * KVM glue for shadow mode: KVM is only "a CPU that runs CPL3 code". This
 * file maps machine memory into the KVM VM, loads the real CPU state the
 * monitor needs (GDT/IDT/TSS/LSTAR in monitor memory, CPL3 segments, the
 * shadow root in CR3), and runs the vCPU loop: KVM_RUN until a monitor
 * stub's port write, capture the trap from the synced registers and the
 * exception frame on the monitor stack, hand it to the engine, write the
 * guest back with KVM_CAP_SYNC_REGS (no GET/SET ioctls on the hot path).
 */
#pragma once

#include <stdint.h>

struct vm;
struct vcpu;

/* Shadow page-table pages per VM, recycled (LRU address spaces): one per 8
 * guest pages, at least `min` (SHADOW_POOL_MIN, 4 MiB: minios needs ~30;
 * XENPV_POOL_PAGES for Linux) and at most 16384 (64 MiB), unless
 * shadow.pool_pages says. */
#define SHADOW_POOL_MIN   1024
#define SHADOW_POOL_MAX   16384
#define SHADOW_POOL_RATIO 8
unsigned shadow_pool_pages(uint32_t memory_mib, uint32_t configured, unsigned min);

/* Map machine memory (guest frames + monitor + pool) and build the engine. */
int shadow_run_setup_memory(struct vm *vm, const char **why);
/* Boot vCPU state (vmmd's 64-bit boot contract, virtualized). */
int shadow_run_setup_vcpu(struct vcpu *v, uint64_t entry, uint64_t stack, uint64_t arg);
/* The vCPU thread body in shadow mode. */
void shadow_run_loop(struct vcpu *v);
void shadow_run_destroy(struct vm *vm);
/* Queue a virtual interrupt vector and kick the vCPU (irq.inject in shadow mode). */
void shadow_run_raise(struct vcpu *v, unsigned vector);
