/* SPDX-License-Identifier: MIT */
/*
 * The PV domain builder (XENPV.md 2.1; libxenguest's xg_dom_x86.c: the
 * magic pages, alloc_pgtables_pv, start_info_x86_64, vcpu_x86_64). After
 * the kernel's segments are loaded at their physical addresses, the
 * builder lays out, in guest-physical order right after the image:
 *
 *   p2m list      nr_pages x 8 bytes, identity (pfn == mfn)
 *   start_info    what xen_start_kernel() reads (its address is RSI)
 *   xenstore page zeroed (store_evtchn = 0: no xenstore)
 *   console page  the hvc0 ring (struct xencons_interface)
 *   page tables   L4, L3, L2, L1...: [VIRT_BASE, VIRT_BASE + end) -> pfn 0...,
 *                 4 KiB pages, the tables themselves read-only
 *   boot stack    one page
 *   padding       512 KiB, the end rounded up to 4 MiB: all of this is
 *                 mapped by the bootstrap tables (one L2: under 1 GiB)
 *   initrd        after the mapping, by frame number (SIF_MOD_START_PFN)
 *
 * The shared_info frame is the one after the guest's RAM (nr_pages).
 * Everything here works on the guest-physical bytes it is given.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vmmd/xenpv/xenpv.h"

struct xpv_image {
	uint64_t virt_base;          /* VIRT_BASE note: virtual = virt_base + physical */
	uint64_t kernel_end;         /* one past the highest loaded physical byte */
	uint64_t entry;              /* ENTRY note (virtual) */
	uint64_t hypercall_page;     /* HYPERCALL_PAGE note (virtual), 0: none (Linux 6.1) */
};

struct xpv_layout {
	uint64_t nr_pages;
	uint64_t p2m_pfn, p2m_pages;
	uint64_t start_info_pfn, store_pfn, console_pfn;
	uint64_t pt_pfn, nr_pt_frames;    /* L4 at pt_pfn, then L3, L2, the L1s */
	uint64_t stack_pfn;
	uint64_t mapped_pages;             /* the bootstrap mapping covers pfn [0, mapped_pages) */
	uint64_t initrd_pfn, initrd_size;
};

/* Where everything goes for a guest of nr_pages RAM pages: 0, -ENOSPC
 * with *why (too little memory) or -ERANGE (a mapping past 1 GiB). */
int xpv_layout_plan(uint64_t nr_pages, const struct xpv_image *img, uint64_t initrd_size,
		    struct xpv_layout *ret, const char **why);

/* Write the p2m, start_info, the ring pages, the bootstrap tables and the
 * hypercall page into guest memory [guest, guest + nr_pages pages) (the
 * initrd is the caller's to place at initrd_pfn), and the entry state.
 * 0, or -E2BIG (command line) / -ERANGE with *why. */
int xpv_build(uint8_t *guest, const struct xpv_layout *l, const struct xpv_image *img, const char *cmdline,
	      struct xpv_entry *ret, const char **why);

/* Tell the domain where the console ring is and which frames are the
 * bootstrap page tables (for the writable page-table assist). */
void xpv_build_adopt(struct xpv_domain *d, const struct xpv_layout *l);
