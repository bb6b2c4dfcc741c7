/* SPDX-License-Identifier: MIT */
/*
 * Internals of the shadow MMU, shared by its files only:
 *   shadow_mmu.c         address spaces, faults, invlpg, stats, inspection
 *   shadow_pool.c        the pool of shadow pages, reverse maps, recycling
 *   shadow_sync.c        write-protection of guest page-table pages, re-sync
 *   shadow_zap.c         what a host that shadows the pool must forget, and when
 *   guest_walk_shadow.c  the guest page walk (x86/guest_walk.c) through the physmap
 *
 * Data structures, all bounded by pool_pages, guest_pages or max_roots:
 *  - a shadow page (pool page) remembers the masked guest entry it was
 *    built from (`key`): a fill that finds a child whose key differs from
 *    the guest's current entry unlinks it first, so a stale structure is
 *    never reused;
 *  - the pages below a root form a tree, except that (CACHED) a page right
 *    below a root (level 3) is shared by every root of the same kind (user
 *    or kernel) whose guest PML4 entry is the same (`key`: the same guest
 *    table, U, W, NX): the kernel half that every address space of a guest
 *    maps with the same entries is shadowed once. Below level 3 the rights
 *    of the path are fixed by that one entry, so the whole subtree is the
 *    same for every root that links it. Every non-root page keeps the
 *    chain of entries that point to it (`parents`) and is freed when the
 *    last one goes;
 *  - per leaf shadow entry (pool_pages * 512): the gpa of the guest PTE it
 *    came from, and a doubly linked reverse-map link chaining it to the
 *    other leaves that map the same guest frame (head per guest frame);
 *  - per guest frame: the chain of shadow pages that shadow it as a page
 *    table (non-empty = write-protected in CACHED), and a write counter;
 *  - host coherence (shadow_zap.c): free pages split into clean, fresh
 *    (never shown to the host) and stale (the host may still hold what it
 *    derived from them), and per zap group (a run of zap_group pool pages,
 *    one KVM memory slot) whether it is due now or deferred to the guest's
 *    next TLB flush.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vmmd/shadow/bitmap.h"
#include "vmmd/shadow/shadow_mmu.h"
#include "vmmd/shadow/vcpu_model.h"
#include "x86/guest_walk.h"

#define SMMU_NONE         UINT32_MAX
#define SMMU_ENTRIES      512u
#define SMMU_GFN_NONE     UINT64_MAX
/* Writes to a shadowed guest page-table page, without a use as page table
 * in between, before vmmd stops write-protecting it (CACHED). */
#define SMMU_UNSHADOW_WRITES 8
#define SMMU_DEFAULT_MAX_ROOTS 8

/* The bits of a guest entry a shadow structure depends on (not A/D/G/AVL). */
#define SMMU_KEY_MASK (X86_PTE_ADDR | X86_PTE_P | X86_PTE_W | X86_PTE_U | X86_PTE_PS | X86_PTE_NX)

struct sp_meta {
	uint64_t key;          /* masked guest entry it was built from; roots: guest CR3 address */
	uint64_t gfn;          /* guest table frame it shadows, SMMU_GFN_NONE when synthesized */
	uint32_t parents;      /* first entry (pool index * 512 + slot) pointing here, SMMU_NONE for roots */
	uint32_t gfn_next, gfn_prev;  /* chain of pages shadowing the same gfn */
	uint16_t as;           /* roots: address-space slot */
	uint8_t level;         /* 4..1, 0 = free */
	bool synth;            /* built for a guest 2 MiB / 1 GiB page: no guest table behind it */
	bool user;             /* belongs to the user root */
};

struct aspace {
	bool valid;
	uint64_t cr3;          /* guest CR3, address bits only */
	uint64_t last_use;
	uint32_t root[2];      /* [user]: pool index or SMMU_NONE */
	bool emptied[2];       /* [user]: flushed since last loaded (its next load is a miss) */
};

struct smmu {
	struct machine_memory *mm;
	const struct physmap *pm;
	struct smmu_config cfg;
	uint8_t *pool;                 /* host view of the pool */
	struct sp_meta *meta;          /* [pool_pages] */
	uint64_t *leaf_gpa;            /* [pool_pages * 512]: guest PTE gpa per leaf entry */
	uint32_t *rmap_next, *rmap_prev; /* [pool_pages * 512]: entry ids, SMMU_NONE ends: leaves in the
					  * chain of their guest frame, table entries in their child's parents */
	uint32_t *rmap_head;           /* [guest_pages]: first leaf entry mapping that frame */
	uint32_t *sp_head;             /* [guest_pages]: first shadow page shadowing that frame */
	uint8_t *writes;               /* [guest_pages]: write-flood counters */
	uint64_t *free_clean;          /* [pool_pages] bits: free, nothing stale in the host */
	uint64_t *free_fresh;          /* [pool_pages] bits: free, its group never shown to the host */
	uint64_t *free_stale;          /* [pool_pages] bits: free, the host may hold old contents */
	uint32_t *scratch;             /* [pool_pages]: a snapshot of one gfn chain */
	unsigned nr_free;
	/* shadow_zap.c */
	unsigned zap_group, nr_groups; /* pool pages per group; groups */
	uint64_t *zap_due;             /* [nr_groups] bits: the host must forget before the guest runs */
	uint64_t *zap_deferred;        /* [nr_groups] bits: may wait for the guest's next TLB flush */
	unsigned nr_due, nr_deferred;
	uint32_t *w_epoch;             /* [guest_pages]: epoch of the last deferred drop of a writable leaf */
	uint32_t epoch;                /* advances at every guest TLB flush */
	bool tlb_pending;              /* a deferred removal the real TLB may still hold */
	struct aspace *as;             /* [nr_as] */
	unsigned nr_as;
	int cur_as;                    /* the address space of the last loaded root, -1 none */
	bool cur_user;
	uint32_t cur_root;             /* the pool page the real CR3 holds, SMMU_NONE before the first load */
	uint64_t clock;
	bool tlb_flush;
	struct smmu_stats st;
};

/* A successful walk's step at level (4 down to the leaf's level). */
static inline const struct gw_step *walk_step(const struct gw_result *w, int level)
{
	return &w->steps[GW_LEVELS - level];
}

static inline int walk_leaf_level(const struct gw_result *w)
{
	return w->steps[w->n_steps - 1].level;
}

static inline unsigned smmu_index(uint64_t va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & (SMMU_ENTRIES - 1);
}

static inline uint64_t *sp_table(struct smmu *s, uint32_t sp)
{
	return (uint64_t *) (s->pool + (uint64_t) sp * PAGE_SIZE_4K);
}

static inline uint64_t sp_mpa(const struct smmu *s, uint32_t sp)
{
	return s->cfg.pool_mpa + (uint64_t) sp * PAGE_SIZE_4K;
}

/* Pool index of the shadow page a non-leaf shadow entry points to. */
static inline uint32_t sp_of_entry(const struct smmu *s, uint64_t e)
{
	return (uint32_t) (((e & X86_PTE_ADDR) - s->cfg.pool_mpa) / PAGE_SIZE_4K);
}

static inline uint64_t gfn_of(const struct smmu *s, uint64_t gpa)
{
	uint64_t gfn = gpa / PAGE_SIZE_4K;
	return gfn < s->pm->guest_pages ? gfn : SMMU_GFN_NONE;
}

/* shadow_pool.c */
int smmu_pool_init(struct smmu *s);
void smmu_pool_free(struct smmu *s);
/* A zeroed page; the caller made room with smmu_pool_reserve. */
uint32_t smmu_sp_alloc(struct smmu *s, int level, unsigned as, bool user, uint64_t key, uint64_t gfn,
		       bool synth);
/* Change what a root shadows (VTLB re-use of its root pages). */
void smmu_sp_rekey(struct smmu *s, uint32_t sp, uint64_t key, uint64_t gfn);
/* Point entry slot of parent at child (which may already have other parents). */
void smmu_sp_link(struct smmu *s, uint32_t parent, unsigned slot, uint32_t child);
/* Free sp and everything below it that nothing else links; clears every
 * entry that points to it. */
void smmu_sp_zap(struct smmu *s, uint32_t sp);
/* Clear entry `slot` of sp: a leaf, or the link to a child, which goes with
 * its subtree when nothing else links it. */
void smmu_entry_zap(struct smmu *s, uint32_t sp, unsigned slot);
/* Set leaf entry slot of sp (replacing what is there) and its reverse map. */
void smmu_leaf_set(struct smmu *s, uint32_t sp, unsigned slot, uint64_t spte, uint64_t pte_gpa);
/* Make room for n free pages: evict least-recently-used address spaces other
 * than pin_as and the current one; if that is not enough, drop everything
 * below the roots of those two (the roots stay where they are). */
void smmu_pool_reserve(struct smmu *s, unsigned n, int pin_as);
/* Drop an address space: its roots too, or (keep_roots) only what is below them. */
void smmu_as_drop(struct smmu *s, unsigned as, bool keep_roots);
/* Walk leaf entries mapping gfn: fn(s, entry_id). */
void smmu_rmap_foreach(struct smmu *s, uint64_t gfn, void (*fn)(struct smmu *s, uint32_t id));
static inline uint64_t smmu_leaf_gfn(const struct smmu *s, uint64_t spte)
{
	return gfn_of(s, physmap_mpa_to_gpa(s->pm, spte & X86_PTE_ADDR));
}

/* shadow_zap.c */
int smmu_zap_init(struct smmu *s);
void smmu_zap_free(struct smmu *s);
/* Entries of sp were removed or lost rights (the leaf spte, or 0 for a
 * table entry): a host may keep the old ones until the guest's next TLB
 * flush, as the guest's own TLB would. */
void smmu_zap_removed(struct smmu *s, uint32_t sp, uint64_t old_spte);
/* The same for an entry of a page being freed: nothing to zap for the page
 * itself, but a writable leaf's frame is remembered. */
void smmu_zap_dropped_leaf(struct smmu *s, uint32_t sp, uint64_t old_spte);
/* sp changed in a way the host must learn before the guest runs again. */
void smmu_zap_now(struct smmu *s, uint32_t sp);
/* gfn is about to be write-protected: no stale writable mapping of it may survive. */
void smmu_zap_protecting(struct smmu *s, uint64_t gfn);
/* The group of pool page sp. */
static inline unsigned smmu_zap_group_of(const struct smmu *s, uint32_t sp) { return sp / s->zap_group; }

/* shadow_mmu.c */
/* Declared guest entry ge (at pte_gpa) for slot of leaf shadow page sp, as a
 * fill would build it, or nothing (the slot stays empty) where a fill would
 * not happen without a fault first. */
void smmu_leaf_update(struct smmu *s, uint32_t sp, unsigned slot, uint64_t pte_gpa, uint64_t ge, bool guest_wp,
		      bool nxe);

/* shadow_sync.c */
/* A new shadow page for guest table gfn (CACHED): clear W of leaves mapping it. */
void smmu_write_protect(struct smmu *s, uint64_t gfn);
static inline bool smmu_gfn_protected(const struct smmu *s, uint64_t gfn)
{
	return s->cfg.strategy == SMMU_CACHED && gfn != SMMU_GFN_NONE && s->sp_head[gfn] != SMMU_NONE;
}
