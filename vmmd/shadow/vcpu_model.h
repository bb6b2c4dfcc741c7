/* SPDX-License-Identifier: MIT */
/*
 * The interface between the shadow engine's CPU semantics (emulate.c,
 * reflect.c) and the rest of vmmd. The engine works on a `struct shadow_cpu`
 * — the guest's general registers plus its PCB — and reaches memory and
 * devices only through `struct shadow_env` callbacks, so every instruction
 * can be unit-tested on a fake CPU with fake memory, without /dev/kvm.
 *
 * Registers: `regs` holds the guest's architectural state as the guest
 * sees it (struct kvm_regs layout: rax..r15, rip, rflags); its RFLAGS.IF is
 * kept equal to pcb.vif (DESIGN.md: so `pushf` reads the truth).
 */
#pragma once

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmmd/shadow/pcb.h"
#include "x86/cpu.h"

struct shadow_cpu {
	struct kvm_regs regs;
	struct shadow_pcb pcb;
};

/* A fault met while the engine touched guest memory on the guest's behalf. */
struct shadow_fault {
	unsigned vector;     /* 14 (#PF) for translation faults, 13 (#GP) otherwise */
	uint32_t error;      /* the error code the guest will see */
	uint64_t cr2;        /* for #PF */
};

/* Kinds of access for virtual-memory callbacks. */
#define SHADOW_ACC_WRITE  X86_PF_WRITE   /* the #PF error code's bits */
#define SHADOW_ACC_USER   X86_PF_USER
#define SHADOW_ACC_FETCH  X86_PF_INSTR

struct shadow_env {
	void *ctx;
	/* Guest-virtual access through the guest's page tables (pcb.cr3), with
	 * the permission checks of `access` (SHADOW_ACC_* bits; USER set when the
	 * access is made as virtual CPL3), setting accessed/dirty bits like the
	 * hardware. 0, or -EFAULT with *fault filled (a #PF the guest should see). */
	int (*read_virt)(void *ctx, uint64_t va, void *buf, size_t len, unsigned access, struct shadow_fault *fault);
	int (*write_virt)(void *ctx, uint64_t va, const void *buf, size_t len, unsigned access, struct shadow_fault *fault);
	/* Port I/O on the device bus (size 1, 2 or 4). */
	int (*pio)(void *ctx, uint16_t port, void *data, unsigned size, bool is_write);
	/* Guest-physical data access for MMIO emulation (the device bus) — 0 or -errno. */
	int (*mmio)(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write);
	/* Paging events the shadow MMU must see. new_cr3: the guest wrote CR3
	 * (a guest page-table switch). invlpg: one guest entry changed. */
	void (*cr3_write)(void *ctx, uint64_t new_cr3);
	void (*invlpg)(void *ctx, uint64_t va);
	/* CR0/CR4/EFER changed in a way that affects paging (WP, PG, NXE...). */
	void (*paging_changed)(void *ctx);
	/* Statistics: one call per emulated instruction / reflected event.
	 * (emulate.c/reflect.c do not call it: the engine counts out->mnemonic
	 * and the reflected class itself.) May be NULL. */
	void (*count)(void *ctx, const char *what);
	/* CPUID as the guest may see it (emulated cpuid, when CPUID faulting
	 * makes it trap). NULL: every leaf reads as zeros. */
	void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
	/* The guest's TSC for rdmsr(IA32_TSC). NULL: the host's rdtsc. */
	uint64_t (*tsc)(void *ctx);
};
