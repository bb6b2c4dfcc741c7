/* SPDX-License-Identifier: MIT */
/*
 * Guest memory as the inspection calls see it, whatever the VM's mode:
 * reads and writes by guest-physical or guest-virtual address, the walk of
 * one virtual address (mmu.translate) and the guest's mappings as ranges
 * (mmu.guest). No JSON here: the callers (inspect_mem.c) shape the answer.
 *
 * A virtual range is translated page by page through the vCPU's current
 * CR3 (guest_paging.h: the vCPU's CR3 in hw mode, the PCB's in shadow
 * mode); all of it is translated and checked before a byte is copied, so
 * a write that would fault half-way writes nothing. A write holds every
 * vCPU still (vm_hold), so no table changes between the walk and the
 * copy; a read, a translation and the mappings hold only that vCPU
 * (vm_hold_vcpu), and the other vCPUs may change shared tables meanwhile:
 * what they show is the tables at no single instant, as a hardware walk
 * racing another CPU. Physical accesses hold nothing: they touch the
 * memory the guest sees, like a DMA would. Only 4-level paging is walked.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vmmd/worker/guest_paging.h"
#include "x86/guest_walk.h"

struct vm;

#define GUEST_ACCESS_MAX (1u << 20)   /* bytes one access may move */

/* Why an access failed (-EFAULT), for the caller's message. */
struct guest_access_fault {
	enum {
		GUEST_FAULT_OUTSIDE_MEMORY,  /* phys is at or above the end of guest memory */
		GUEST_FAULT_NOT_MAPPED,      /* virt: the walk stopped (level, reason) */
		GUEST_FAULT_NOT_CANONICAL,   /* virt */
		GUEST_FAULT_PAGING,          /* the vCPU's paging is not one vmmd walks (paging) */
	} kind;
	bool virtual;
	uint64_t virt;                       /* the first virtual address that fails */
	uint64_t phys;                       /* the first physical address outside memory */
	int level;
	enum gw_fault reason;
	enum guest_paging_kind paging;
};

/* Copy len bytes (at most GUEST_ACCESS_MAX) between buf and the guest, at
 * a physical address or, with virtual, through vCPU vcpu's page tables.
 * 0; -EFAULT with fault filled; -E2BIG over the limit; -ESHUTDOWN or
 * -ETIMEDOUT when the vCPUs would not hold still (vm.h); -errno. */
int guest_access(struct vm *vm, unsigned vcpu, bool virtual, uint64_t addr, void *buf, uint64_t len, bool write,
		 struct guest_access_fault *fault);

/* One address through the vCPU's page tables (mmu.translate). */
struct guest_translation {
	struct guest_paging paging;
	struct gw_result walk;      /* with paging off: phys = virt, no steps */
	bool mapped;
	bool backed;                /* mapped onto guest memory */
	uint64_t machine;           /* backed: where the KVM VM sees it (shadow mode: the physmap) */
	bool nested;                /* hw mode on EPT/NPT: the hardware walk is 2-D (nested_walk.h) */
	int64_t kvm_gpa;            /* nested: KVM_TRANSLATE's answer for virt, -1 where it has none */
};

/* 0 (mapped or not: ret says), -EINVAL for a non-canonical address,
 * -EOPNOTSUPP for a paging kind vmmd does not walk (ret->paging says
 * which), -ESHUTDOWN/-ETIMEDOUT (vm_hold_vcpu), -errno (reading the vCPU). */
int guest_translate(struct vm *vm, unsigned vcpu, uint64_t virt, struct guest_translation *ret);

/* The vCPU's mappings in [from, to] as coalesced ranges, each given to fn
 * (mmu.guest), with that vCPU held still. At most max_ranges ranges and
 * GUEST_ENTRIES_MAX entries read. ret_paging says what the vCPU uses; with
 * paging off there are no ranges. Errors as guest_translate. */
#define GUEST_ENTRIES_MAX (1u << 20)
int guest_mappings(struct vm *vm, unsigned vcpu, uint64_t from, uint64_t to, uint64_t max_ranges,
		   gw_range_fn fn, void *opaque, struct guest_paging *ret_paging, struct gw_enum_result *ret);
