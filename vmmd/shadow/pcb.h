/* SPDX-License-Identifier: MIT */
/*
 * The guest PCB — the seed's "proc control block for guest OS": what the
 * deprivileged guest kernel *thinks* the CPU state is. The real vCPU always
 * runs the guest at CPL3 with IOPL 0 on a shadow page table; everything
 * below is the virtual state that vmmd keeps and emulates against.
 *
 *   seed note                               field
 *   "if guest OS thinks interrupts are      vif
 *    disabled"
 *   "what guest OS thinks its interrupt     idtr
 *    handler is"
 *   "what guest OS thinks its base pg       cr3
 *    table register is"
 *   "if guest OS thinks it's running in     vcpl (0 = kernel, 3 = user)
 *    kernel mode"
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct shadow_dtr {
	uint64_t base;     /* a guest *virtual* (linear) address */
	uint16_t limit;
};

struct shadow_pcb {
	bool vif;                 /* virtual RFLAGS.IF */
	unsigned vcpl;            /* virtual CPL: 0 or 3 */
	uint64_t cr0, cr2, cr3, cr4, efer;
	struct shadow_dtr idtr, gdtr;
	uint16_t tr;              /* virtual task register selector */
	uint64_t tss_base;        /* resolved from the guest GDT at ltr (linear) */
	uint32_t tss_limit;       /* ditto; rsp0/IST reads beyond it raise #TS */
	uint16_t ldtr;            /* virtual LDTR selector (0: none) */
	uint64_t ldt_base;        /* resolved from the guest GDT at lldt (linear) */
	uint32_t ldt_limit;
	uint8_t tpr;              /* virtual CR8 (task priority), bits 3:0 */
	/* Virtual segment selectors: what the guest loaded. The real CPU runs
	 * with RPL-3 copies (a documented hole: `mov %cs` reads RPL 3). */
	uint16_t cs, ss, ds, es, fs, gs;
	uint64_t star, lstar, cstar, sfmask;        /* syscall MSRs */
	uint64_t fs_base, gs_base, kernel_gs_base;  /* swapgs swaps the last two */
	uint64_t dr[4], dr6, dr7; /* virtual debug registers (breakpoints are not armed) */
	uint64_t pending[4];      /* virtual interrupts pending: bitmap of 256 vectors */
	bool halted;              /* in an emulated hlt, waiting for an interrupt */
};

static inline void pcb_set_pending(struct shadow_pcb *p, unsigned vector)
{
	__atomic_fetch_or(&p->pending[vector / 64], 1ULL << (vector % 64), __ATOMIC_ACQ_REL);
}

/* Highest pending vector, or -1. */
static inline int pcb_highest_pending(struct shadow_pcb *p)
{
	for (int w = 3; w >= 0; w--) {
		uint64_t bits = __atomic_load_n(&p->pending[w], __ATOMIC_ACQUIRE);
		if (bits)
			return w * 64 + 63 - __builtin_clzll(bits);
	}
	return -1;
}

static inline void pcb_clear_pending(struct shadow_pcb *p, unsigned vector)
{
	__atomic_fetch_and(&p->pending[vector / 64], ~(1ULL << (vector % 64)), __ATOMIC_ACQ_REL);
}
