/* SPDX-License-Identifier: MIT */
/*
 * The guest's paging state as the page walks need it (mmu.translate,
 * mmu.guest, mem.read/write by virtual address), whatever the VM's mode:
 * in hw mode the guest's CR0/CR3/CR4/EFER are the vCPU's own registers, in
 * shadow mode the real CR3 is a shadow root and the guest's registers live
 * in the engine's PCB. MAXPHYADDR and 1 GiB pages come from the CPUID the
 * vCPU was given, in both modes (x86/cpuid.h), so the walk refuses the
 * entries the guest's CPU would.
 */
#pragma once

#include <stdint.h>

#include "x86/guest_walk.h"

struct vcpu;

enum guest_paging_kind {
	GUEST_PAGING_NONE,      /* CR0.PG clear: linear = physical */
	GUEST_PAGING_32BIT,
	GUEST_PAGING_PAE,
	GUEST_PAGING_4LEVEL,    /* the one vmmd walks */
	GUEST_PAGING_5LEVEL,
};

struct guest_paging {
	uint64_t cr0, cr3, cr4, efer;
	enum guest_paging_kind kind;
	struct gw_config walk;  /* EFER.NXE, MAXPHYADDR, 1 GiB pages */
};

/* From the control registers alone: pure. */
enum guest_paging_kind guest_paging_kind(uint64_t cr0, uint64_t cr4, uint64_t efer);
/* "none", "32-bit", "pae", "4-level", "5-level". */
const char *guest_paging_name(enum guest_paging_kind kind);

/* The vCPU's guest paging state; the vCPU must be held still (vm_hold_vcpu).
 * 0 or -errno (KVM). */
int guest_paging_get(struct vcpu *v, struct guest_paging *ret);
