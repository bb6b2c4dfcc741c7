/* SPDX-License-Identifier: MIT */
/*
 * Shadow page-table synthesis (seed "What about guest OS virtual memory" and
 * "Shadow page table synthesis"): the real CPU walks page tables that vmmd
 * builds by combining the guest's page tables (virtual -> physical) with the
 * physmap (physical -> machine), filled on demand like a TLB.
 *
 * Per guest address space (guest CR3) two roots: kernel (guest supervisor
 * and user pages, all mapped user-accessible because the guest kernel runs
 * at CPL3) and user (guest user pages only) — the seed's "one shadow kernel
 * pt, one shadow user pt". Every root also maps the monitor, supervisor-only,
 * in its PML4 slot (smmu_config.monitor_slot), which guests must not use.
 *
 * Accessed/dirty bits of guest PTEs are maintained by the walk; a page whose
 * guest PTE is not yet dirty is shadowed read-only so the first write faults
 * and sets D. A miss also fills neighbouring entries of the same guest table
 * (prefetch), only those whose guest A bit is already set, so A/D stay
 * exact. NX is honoured. MMIO (guest-physical beyond RAM) is never
 * mapped: its fault is the seed's second kind of page fault.
 *
 * Strategies: VTLB drops all shadows of the current address space on a
 * guest CR3 write and invlpg drops one entry; CACHED keeps roots per guest
 * CR3 in a bounded cache, write-protects the guest page-table pages it has
 * shadowed, and re-syncs on the emulated write (a page written too often,
 * or the PML4 of a space that is not loaded, is unshadowed), and shares the
 * shadow of a kernel half among the roots that map it with the same PML4
 * entry. Shadow pages come from a bounded pool and are recycled.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vmmd/shadow/physmap.h"
#include "x86/guest_walk.h"

/* The monitor's slot unless the config names another (monitor.h MON_SLOT_*). */
#define SHADOW_MONITOR_PML4_SLOT 510      /* 0xffffff0000000000 .. +512 GiB */
#define SHADOW_MONITOR_VBASE     0xffffff0000000000ULL

enum smmu_strategy { SMMU_VTLB, SMMU_CACHED };

struct smmu_config {
	enum smmu_strategy strategy;
	uint64_t pool_mpa;          /* machine address of the first pool page */
	unsigned pool_pages;        /* bounded; >= 16 */
	uint64_t monitor_pml4e;     /* PML4 entry installed in slot monitor_slot of every root */
	uint64_t monitor_pml4e_kernel; /* the same for kernel roots (a monitor window); 0 = monitor_pml4e */
	unsigned monitor_slot;      /* 256..511; 0 = SHADOW_MONITOR_PML4_SLOT */
	unsigned max_roots;         /* CACHED: address spaces kept (each has 2 roots); 0: 8, at most 4096 */
	/* The guest CPU's paging facts from its CPUID, for the reserved-bit rule. */
	unsigned phys_bits;         /* MAXPHYADDR; 0: 52 */
	bool no_1g;                 /* no PDPE1GB: PS in a PDPT entry is reserved */
	bool user_nx_in_kernel_root; /* map guest-user pages non-executable in kernel roots (engine.h) */
	unsigned zap_group;         /* pool pages the host forgets at once (one KVM slot); 0: the whole pool */
	unsigned prefetch;          /* entries a miss fills: the faulting one and the neighbours of its
				     * aligned block of this many in the same guest table (0, 1: none; <= 512) */
};

struct smmu_stats {
	uint64_t fills;             /* shadow entries created on a fault */
	uint64_t prefetched;        /* neighbours filled with them (smmu_config.prefetch) */
	uint64_t updates_applied;   /* declared updates written straight into a leaf shadow (smmu_pt_update) */
	uint64_t shared;            /* links to a level-3 shadow page another root already had (kernel half) */
	uint64_t flushes;           /* whole-address-space drops (vtlb CR3 writes, evictions) */
	uint64_t invlpg;
	uint64_t write_protect_faults; /* writes to write-protected guest page-table pages */
	uint64_t resyncs;
	uint64_t unshadowed;        /* page-table pages given up: repeated writes, a PML4 not loaded written */
	uint64_t root_cache_hits, root_cache_misses;
	uint64_t root_loads;        /* shadow page-table switches: real CR3 loads */
	uint64_t guest_faults;      /* reflected to the guest */
	uint64_t mmio_faults;
	uint64_t pool_recycled;     /* pages taken back from other roots when the pool ran dry */
	uint64_t tlb_flushes;       /* guest TLB flush points: invlpg, CR3 writes, paging changes, smmu_tlb_flush */
	uint64_t zap_groups;        /* zap groups handed to the host to forget (smmu_take_zaps) */
	uint64_t zaps_forced;       /* deferred zaps made due early: a frame mapped writable became a table */
	unsigned pool_used, pool_pages;
};

enum smmu_fault_kind {
	SMMU_FAULT_FILLED,      /* a shadow entry was (re)built: resume the guest */
	SMMU_FAULT_GUEST,       /* the guest's own page tables say fault: reflect #PF */
	SMMU_FAULT_MMIO,        /* the guest maps a non-RAM physical address: device access */
	SMMU_FAULT_PT_WRITE,    /* a write to a write-protected guest page-table page: emulate it */
};

struct smmu_fault {
	enum smmu_fault_kind kind;
	uint32_t guest_error;   /* GUEST: the #PF error code the guest sees */
	uint64_t gpa;           /* MMIO / PT_WRITE: guest-physical address of the access */
};

struct smmu;

/* Not thread-safe: the caller serialises. Pinning (below) knows one current
 * root, i.e. one vCPU. -EINVAL / -ERANGE for a pool that is < 16 pages,
 * unaligned, outside mm or overlapping guest frames. */
int smmu_new(struct machine_memory *mm, const struct physmap *pm, const struct smmu_config *cfg,
	     struct smmu **ret);
void smmu_free(struct smmu *s);

/* The machine address the real CR3 must hold for guest_cr3 in kernel (user=false)
 * or user mode. Counts a root load. Never fails: the pool recycles.
 * The root loaded last is "current": it is never freed (evictions, flushes
 * and VTLB CR3 writes empty it but keep its machine address). Call again
 * after smmu_guest_cr3_write / smmu_flush_all and on every kernel/user switch.
 * Loading another root is a real CR3 load, so it also clears
 * smmu_take_tlb_flush; loading the same one again does not. */
uint64_t smmu_load_root(struct smmu *s, uint64_t guest_cr3, bool user);

/*
 * A real #PF at guest-virtual va with the hardware error code hw_error, while
 * the guest ran with (guest_cr3, virtual CPL user?). Walk the guest tables
 * (updating A/D as hardware would), then fill, or say why not.
 * guest_wp: the guest's CR0.WP (supervisor writes to read-only pages fault only if set).
 * nxe: the guest's EFER.NXE.
 * Guest contract: the monitor's slot (cfg.monitor_slot) is not the
 * guest's; any access there is SMMU_FAULT_GUEST, not-present (P = RSVD = 0),
 * whatever the guest's own tables say.
 * PT_WRITE comes after a read-only fill, so only the write needs emulating.
 * Returns 0 with *ret filled, or -EINVAL (non-canonical va: not a #PF).
 */
int smmu_page_fault(struct smmu *s, uint64_t guest_cr3, bool user, uint64_t va, uint32_t hw_error,
		    bool guest_wp, bool nxe, struct smmu_fault *ret);

/*
 * Flush semantics (docs/shadow.md, "Telling KVM"). Shadow entries that vmmd
 * removes or downgrades because the guest changed its tables may stay in
 * the real TLB, and in what a host that shadows the pool derived from it,
 * until the guest's next TLB flush, exactly as a guest TLB may keep a stale
 * translation: those zaps are deferred. The guest's flush points are
 * smmu_guest_cr3_write, smmu_invlpg, smmu_flush_all and smmu_tlb_flush.
 * What vmmd's own coherence needs is never deferred: a writable mapping of
 * a frame that is, or becomes, a write-protected guest page table, and a
 * pool page reused for new contents.
 */

/* The guest wrote CR3 (vtlb: drop that space's shadows; cached: nothing to
 * drop). A flush point. */
void smmu_guest_cr3_write(struct smmu *s, uint64_t old_cr3, uint64_t new_cr3);
/* invlpg va in address space guest_cr3 (both roots). A flush point. */
void smmu_invlpg(struct smmu *s, uint64_t guest_cr3, uint64_t va);
/* A guest TLB flush with nothing to drop (the PV layer's MMUEXT_TLB_FLUSH_*,
 * UVMF_TLB_FLUSH / UVMF_INVLPG after an update it already made through
 * smmu_pt_write): every deferred zap is due, the real TLB is flushed. */
void smmu_tlb_flush(struct smmu *s);
/* Perform a guest write of len bytes at gpa to a write-protected page-table
 * page (the RAM copy), then re-sync the shadows that depend on it (those
 * removals are deferred to the next flush point). Any guest RAM page may be
 * given (it is then a plain write), so the engine can send every write it
 * makes on the guest's behalf through here. [gpa, gpa+len) must stay within
 * one 4 KiB page: 0, -EINVAL, or -EFAULT (not guest RAM). */
int smmu_pt_write(struct smmu *s, uint64_t gpa, const void *data, unsigned len);
/* The same for one aligned entry the guest itself declares a page-table
 * update (Xen PV's mmu_update, update_va_mapping, the writable page-table
 * assist): such writes never make vmmd stop shadowing the page, as repeated
 * plain writes do, and (CACHED) the new entry goes straight into the leaf
 * shadows of the page where a fill would build it (the guest translates it
 * without a fault at CR0.WP guest_wp, EFER.NXE nxe, A set, a frame of guest
 * RAM; W only with D and never to a shadowed page table), saving the fill
 * fault that would follow. */
int smmu_pt_update(struct smmu *s, uint64_t gpa, uint64_t val, bool guest_wp, bool nxe);
/* Stop write-protecting the guest page-table page holding gpa, because the
 * engine cannot emulate an instruction writing it (emulate_data.h), or the
 * guest says it is no longer a table (Xen PV's unpin): the shadows built
 * from it go, and with them the protection, so writes run natively; the
 * page is shadowed (and protected) again when next used as a table. 0, -EBUSY when it is a table of the loaded root (which stays
 * protected), -EINVAL for a gpa outside guest RAM. */
int smmu_unprotect(struct smmu *s, uint64_t gpa);
/* Drop everything (CR0/CR4/EFER paging changes, reset); the current root
 * stays, emptied. A flush point. */
void smmu_flush_all(struct smmu *s);

/* True once (then false) when the real TLB may hold an entry vmmd removed
 * and the guest has flushed (or vmmd's coherence needs it gone) since the
 * last load of another root: the engine must flush it before resuming the
 * guest. Filling never needs it (the #PF dropped the faulting address's
 * entry). */
bool smmu_take_tlb_flush(struct smmu *s);
/* The pool is cut into zap groups of smmu_zap_group_pages() pages (one KVM
 * memory slot each), smmu_zap_groups() of them. smmu_take_zaps fills
 * ret_groups with the groups a host that shadows the pool (KVM without
 * EPT/NPT), or a TLB, must forget before the guest runs again, at most max,
 * and returns how many; they count as forgotten from then on. A group is
 * also due the first time any of its pages is used. */
unsigned smmu_zap_groups(const struct smmu *s);
unsigned smmu_zap_group_pages(const struct smmu *s);
unsigned smmu_take_zaps(struct smmu *s, uint32_t *ret_groups, unsigned max);

void smmu_get_stats(const struct smmu *s, struct smmu_stats *ret);

/* Inspection (mmu.shadow): each root and its leaf mappings. */
struct smmu_mapping {
	uint64_t va, mpa, size;
	uint64_t flags;       /* the shadow PTE's flag bits */
	uint64_t guest_pte;   /* the guest PTE it was built from */
	uint64_t guest_pte_gpa; /* where that guest PTE lives */
};
typedef int (*smmu_root_fn)(void *userdata, uint64_t guest_cr3, bool user, uint64_t root_mpa);
typedef int (*smmu_mapping_fn)(void *userdata, const struct smmu_mapping *m);
/* Callbacks return < 0 to stop; that value is returned. foreach_mapping walks
 * the leaves of one root overlapping [from, to] (inclusive) in address order,
 * skipping the monitor slot; guest_pte is read now from guest_pte_gpa;
 * -ENOENT when that root does not exist. */
int smmu_foreach_root(struct smmu *s, smmu_root_fn fn, void *userdata);
int smmu_foreach_mapping(struct smmu *s, uint64_t guest_cr3, bool user, uint64_t from, uint64_t to,
			 smmu_mapping_fn fn, void *userdata);

/* The guest page walk (x86/guest_walk.h's gw_walk) as the CPU would do it in
 * this VM, for the engine's accesses on the guest's behalf. access: GW_ACC_*
 * (= SHADOW_ACC_*) bits. A guest table outside guest RAM reads as not
 * present. Touches guest RAM and the immutable config only: no lock needed.
 * Returns gw_walk's 0, -EFAULT (ret->error: the #PF error code) or -EINVAL
 * (non-canonical va: #GP, not #PF). */
int smmu_guest_walk(const struct smmu *s, uint64_t guest_cr3, uint64_t va, unsigned access, bool guest_wp,
		    bool nxe, bool set_ad, struct gw_result *ret);
/* Its parts: the walker's reader/A-D writer over guest RAM, and its CPU view. */
void smmu_guest_memory(const struct smmu *s, struct gw_memory *ret);
void smmu_walk_config(const struct smmu *s, bool guest_wp, bool nxe, struct gw_config *ret);
