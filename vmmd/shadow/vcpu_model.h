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
#define SHADOW_ACC_WRITE  (1u << 1)   /* same bits as the #PF error code */
#define SHADOW_ACC_USER   (1u << 2)
#define SHADOW_ACC_FETCH  (1u << 4)

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

/* Architectural constants used by the engine. */
#define X86_RFLAGS_IF  (1ULL << 9)
#define X86_RFLAGS_TF  (1ULL << 8)
#define X86_RFLAGS_DF  (1ULL << 10)
#define X86_RFLAGS_IOPL (3ULL << 12)
#define X86_RFLAGS_NT  (1ULL << 14)
#define X86_RFLAGS_RF  (1ULL << 16)
#define X86_RFLAGS_VM  (1ULL << 17)
#define X86_RFLAGS_AC  (1ULL << 18)
#define X86_RFLAGS_FIXED (1ULL << 1)

#define X86_CR0_PE  (1ULL << 0)
#define X86_CR0_MP  (1ULL << 1)
#define X86_CR0_EM  (1ULL << 2)
#define X86_CR0_TS  (1ULL << 3)
#define X86_CR0_ET  (1ULL << 4)
#define X86_CR0_NE  (1ULL << 5)
#define X86_CR0_WP  (1ULL << 16)
#define X86_CR0_AM  (1ULL << 18)
#define X86_CR0_NW  (1ULL << 29)
#define X86_CR0_CD  (1ULL << 30)
#define X86_CR0_PG  (1ULL << 31)

#define X86_CR4_PSE        (1ULL << 4)
#define X86_CR4_PAE        (1ULL << 5)
#define X86_CR4_PGE        (1ULL << 7)
#define X86_CR4_UMIP       (1ULL << 11)
#define X86_CR4_LA57       (1ULL << 12)
#define X86_CR4_FSGSBASE   (1ULL << 16)
#define X86_CR4_PCIDE      (1ULL << 17)
#define X86_CR4_OSXSAVE    (1ULL << 18)
#define X86_CR4_SMEP       (1ULL << 20)
#define X86_CR4_SMAP       (1ULL << 21)
#define X86_CR4_PKE        (1ULL << 22)

#define X86_EFER_SCE  (1ULL << 0)
#define X86_EFER_LME  (1ULL << 8)
#define X86_EFER_LMA  (1ULL << 10)
#define X86_EFER_NXE  (1ULL << 11)

enum x86_vector {
	X86_DE = 0, X86_DB = 1, X86_NMI = 2, X86_BP = 3, X86_OF = 4, X86_BR = 5, X86_UD = 6, X86_NM = 7,
	X86_DF = 8, X86_TS = 10, X86_NP = 11, X86_SS = 12, X86_GP = 13, X86_PF = 14, X86_MF = 16,
	X86_AC = 17, X86_MC = 18, X86_XM = 19,
};

/* Does this exception push an error code? */
static inline bool x86_vector_has_error(unsigned v)
{
	return v == X86_DF || (v >= X86_TS && v <= X86_PF) || v == X86_AC || v == 21 || v == 29 || v == 30;
}
