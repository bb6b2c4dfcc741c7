/* SPDX-License-Identifier: MIT */
/*
 * The monitor: the part of vmmd that lives *inside* the VM in shadow mode
 * (seed: "hypervisor is in kernel mode"). A few pages of machine memory,
 * above the guest's frames, mapped supervisor-only in one PML4 slot of every
 * shadow root (per VM: 510 for vmmd's own guests, 509 for Xen PV guests,
 * whose Linux puts espfix in 510):
 *
 *   GDT     ring-0 code/data for the stubs and the TSS; nothing a guest
 *           selector can load, so every guest segment load (iretq, mov ss,
 *           sysret...) faults and is emulated
 *   IDT     all 256 vectors -> ring-0 stubs, DPL 0 (so `int n` from the
 *           deprivileged guest faults too)
 *   TSS     rsp0 = the monitor stack; an I/O bitmap that lets exactly one
 *           port through, VMM_HYPERCALL_PORT: `out %al, $0xef` at real
 *           CPL3 leaves the VM as a plain port exit, no exception and no
 *           stub (the hypercall transport); every other port traps
 *   stubs   each stub is one `out %al, $VMM_MONITOR_PORT`: the trap leaves
 *           the VM through a single port write, and vmmd tells the vector
 *           from the stub's address; the CPU's exception frame is on the
 *           monitor stack where vmmd reads it
 *   syscall LSTAR points at its own stub (on hosts where `syscall` stays at
 *           CPL3, the fetch from this supervisor page faults instead:
 *           #PF with CR2 == LSTAR, recognised as a syscall)
 *   stack   the monitor stack (never nested: the vCPU waits while vmmd works)
 *   paging  the PDPT/PD/PT that map all of this at the slot's base
 *   window  optional: pages right after these, mapped read-only and
 *           user-accessible 1 GiB above the base in *kernel* roots only,
 *           for a guest ABI that shares a table with its kernel (the Xen
 *           PV machine-to-physical table, vmmd/xenpv); user roots get a
 *           PDPT without it, and the monitor itself stays supervisor-only
 *           (U is ANDed across the levels)
 *
 * The guest's general registers are untouched by a stub, so KVM's synced
 * registers at the exit are the guest's, except rip/rsp/rflags/cs/ss which
 * the frame holds.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "abi/bootinfo.h"
#include "vmmd/shadow/physmap.h"

#define VMM_MONITOR_PORT      0xee
#define VMM_HYPERCALL_PORT    VMM_PORT_HYPERCALL   /* open in the TSS I/O bitmap */
/* TSS layout: the 104-byte 64-bit TSS, then the I/O bitmap up to the
 * hypercall port's byte, then the 0xff byte the CPU may read past it. */
#define MON_TSS_IOMAP         104
#define MON_TSS_LIMIT         (MON_TSS_IOMAP + VMM_HYPERCALL_PORT / 8 + 1)

#define MON_PAGE_GDT          0
#define MON_PAGE_IDT          1
#define MON_PAGE_TSS          2
#define MON_PAGE_STUBS        3
#define MON_PAGE_STACK        4     /* 4 pages */
#define MON_STACK_PAGES       4
#define MON_PAGE_PDPT         8
#define MON_PAGE_PD           9
#define MON_PAGE_PT           10
#define MON_PAGE_PDPT_KERNEL  11    /* with a window: PDPT[0] the monitor, PDPT[1] the window */
#define MON_PAGE_WINDOW_PD    12
#define MON_PAGES             16    /* 64 KiB reserved */
#define MON_WINDOW_MAX_PAGES  (512u * 512u - 512u)   /* one PD of PTs, minus the PTs themselves */

#define MON_STUB_SIZE         8
#define MON_SYSCALL_STUB      (256 * MON_STUB_SIZE)   /* offset in the stub page */

/* Real selectors in the monitor GDT. */
#define MON_SEL_CODE0         0x08
#define MON_SEL_DATA0         0x10
#define MON_SEL_TSS           0x18  /* 16-byte descriptor: entries 3 and 4 */
#define MON_GDT_ENTRIES       5

#define MON_SLOT_DEFAULT      510   /* 0xffffff0000000000: vmmd's own guests (docs/shadow.md) */
#define MON_SLOT_XENPV        509   /* 0xfffffe8000000000: Linux PV owns 510 (espfix) */

struct monitor {
	uint64_t mpa;           /* machine address of monitor page 0 */
	uint64_t pml4e;         /* the entry every shadow root installs in `slot` */
	unsigned slot;          /* PML4 slot, in the kernel half (256..511) */
	uint64_t vbase;         /* its first virtual address */
	uint64_t pml4e_kernel;  /* for kernel roots: with the window (== pml4e without one) */
	unsigned window_pages;  /* 0: no window */
};

/* Machine pages the monitor takes with a window of window_pages: its own,
 * the window's, and the page tables mapping the window. */
static inline uint64_t monitor_machine_pages(unsigned window_pages)
{
	return MON_PAGES + window_pages + (window_pages + 511) / 512;
}

/* The canonical address where PML4 slot `slot` (256..511) begins. */
static inline uint64_t monitor_slot_vbase(unsigned slot)
{
	return 0xffff000000000000ULL | (uint64_t) slot << 39;
}

static inline uint64_t monitor_va(const struct monitor *m, unsigned page) { return m->vbase + (uint64_t) page * 4096; }
static inline uint64_t monitor_stub_va(const struct monitor *m, unsigned vector)
{
	return monitor_va(m, MON_PAGE_STUBS) + vector * MON_STUB_SIZE;
}
static inline uint64_t monitor_syscall_va(const struct monitor *m) { return monitor_va(m, MON_PAGE_STUBS) + MON_SYSCALL_STUB; }
static inline uint64_t monitor_stack_top(const struct monitor *m) { return monitor_va(m, MON_PAGE_STACK + MON_STACK_PAGES); }

/* Build the monitor pages at machine address mpa (monitor_machine_pages()
 * pages, zeroed here), mapped at PML4 slot `slot` (256..511), with a window
 * of window_pages (0: none; at most MON_WINDOW_MAX_PAGES). -EINVAL, -ERANGE. */
int monitor_build(struct machine_memory *mm, uint64_t mpa, unsigned slot, unsigned window_pages,
		  struct monitor *ret);

/* The window: its guest-virtual base, and vmmd's pointer to its contents. */
static inline uint64_t monitor_window_va(const struct monitor *m) { return m->vbase + (1ULL << 30); }
void *monitor_window_ptr(const struct monitor *m, struct machine_memory *mm);

/* Is va inside the monitor's virtual range? Which stub (vector, or 256 for syscall) is rip in? -1 if none. */
bool monitor_contains(const struct monitor *m, uint64_t va);
int monitor_stub_vector(const struct monitor *m, uint64_t rip);

/* Host pointer to the monitor's own virtual address va (len within the monitor). */
void *monitor_ptr(const struct monitor *mon, struct machine_memory *mm, uint64_t va, uint64_t len);
