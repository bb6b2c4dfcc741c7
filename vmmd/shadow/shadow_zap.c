/* SPDX-License-Identifier: MIT */
/*
 * What a host that shadows the pool must forget, and when (docs/shadow.md,
 * "Telling KVM").
 *
 * vmmd writes shadow tables from the host side. A host that shadows them
 * itself (KVM without EPT/NPT) never sees those writes, and a host with
 * EPT/NPT still has the CPU's TLB: what they derived from an entry vmmd
 * removed or downgraded lives on until vmmd makes them forget the pool
 * pages involved ("zaps" them: KVM_SET_USER_MEMORY_REGION delete and re-add
 * of the pages' memory slot). The pool is cut into zap groups of zap_group
 * pages, one memory slot each; one group is one zap.
 *
 * A zap can wait where the guest's own TLB could hold the old translation:
 * until the guest's next TLB flush (invlpg, a CR3 write, a paging change,
 * the PV layer's flush hypercalls: smmu_tlb_flush). It cannot wait where
 * vmmd's own coherence needs it:
 *  - a pool page handed out again (its new contents are not a stale copy of
 *    anything the guest had: the host would mix old and new tables);
 *  - a writable mapping of a guest frame that is, or becomes, a shadowed
 *    guest page table (the guest could change a table vmmd shadows without
 *    a trap). W drops for write-protection are due at once, and a frame
 *    whose writable mapping was dropped in a deferred way since the last
 *    flush makes every deferred group due before it is protected.
 * Free pages are clean, fresh (their group never shown to the host) or
 * stale (a host may still hold what it derived from their old contents);
 * allocation prefers clean, then fresh, then stale ones, and a fresh or
 * stale one makes its group due.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmmd/shadow/shadow_mmu_priv.h"

int smmu_zap_init(struct smmu *s)
{
	unsigned g = s->cfg.zap_group;

	s->zap_group = g && g < s->cfg.pool_pages ? g : s->cfg.pool_pages;
	s->nr_groups = (s->cfg.pool_pages + s->zap_group - 1) / s->zap_group;
	s->zap_due = calloc(BITMAP_WORDS(s->nr_groups), sizeof(uint64_t));
	s->zap_deferred = calloc(BITMAP_WORDS(s->nr_groups), sizeof(uint64_t));
	s->w_epoch = calloc(s->pm->guest_pages, sizeof(*s->w_epoch));
	if (!s->zap_due || !s->zap_deferred || !s->w_epoch)
		return -ENOMEM;
	s->epoch = 1;
	return 0;
}

void smmu_zap_free(struct smmu *s)
{
	free(s->zap_due);
	free(s->zap_deferred);
	free(s->w_epoch);
}

void smmu_zap_dropped_leaf(struct smmu *s, uint32_t sp, uint64_t old_spte)
{
	if ((old_spte & X86_PTE_W) && s->meta[sp].level == 1) {
		uint64_t gfn = smmu_leaf_gfn(s, old_spte);
		if (gfn != SMMU_GFN_NONE)
			s->w_epoch[gfn] = s->epoch;
	}
	s->tlb_pending = true;
}

void smmu_zap_removed(struct smmu *s, uint32_t sp, uint64_t old_spte)
{
	unsigned g = smmu_zap_group_of(s, sp);

	smmu_zap_dropped_leaf(s, sp, old_spte);
	if (bitmap_test(s->zap_due, g) || bitmap_test(s->zap_deferred, g))
		return;
	bitmap_set(s->zap_deferred, g);
	s->nr_deferred++;
}

static void group_due(struct smmu *s, unsigned g)
{
	if (bitmap_test(s->zap_due, g))
		return;
	if (bitmap_test(s->zap_deferred, g)) {
		bitmap_clear(s->zap_deferred, g);
		s->nr_deferred--;
	}
	bitmap_set(s->zap_due, g);
	s->nr_due++;
}

void smmu_zap_now(struct smmu *s, uint32_t sp)
{
	group_due(s, smmu_zap_group_of(s, sp));
}

/* Every deferred group becomes due, and the real TLB is flushed if it may
 * hold a removed entry: what a guest TLB flush means for vmmd. */
static void deferred_now(struct smmu *s)
{
	for (unsigned g = 0; s->nr_deferred && g < s->nr_groups; g++)
		if (bitmap_test(s->zap_deferred, g))
			group_due(s, g);
	if (s->tlb_pending)
		s->tlb_flush = true;
	s->tlb_pending = false;
	s->epoch++;
}

void smmu_tlb_flush(struct smmu *s)
{
	if (!s)
		return;
	s->st.tlb_flushes++;
	deferred_now(s);
}

void smmu_zap_protecting(struct smmu *s, uint64_t gfn)
{
	if (gfn == SMMU_GFN_NONE || s->w_epoch[gfn] != s->epoch)
		return;
	/* A stale writable mapping of the new table may live in any deferred
	 * group: they all go now, as if the guest had flushed. */
	s->st.zaps_forced++;
	deferred_now(s);
}

unsigned smmu_zap_groups(const struct smmu *s)
{
	return s->nr_groups;
}

unsigned smmu_zap_group_pages(const struct smmu *s)
{
	return s->zap_group;
}

static void clean_group(struct smmu *s, uint64_t *set, uint32_t first, uint32_t end)
{
	for (uint32_t p = first; (p = (uint32_t) bitmap_next(set, p, end)) < end; p++) {
		bitmap_clear(set, p);
		bitmap_set(s->free_clean, p);
	}
}

unsigned smmu_take_zaps(struct smmu *s, uint32_t *ret_groups, unsigned max)
{
	unsigned n = 0;

	for (unsigned g = 0; s->nr_due && g < s->nr_groups && n < max; g++) {
		uint32_t first = g * s->zap_group, end = first + s->zap_group;

		if (!bitmap_test(s->zap_due, g))
			continue;
		bitmap_clear(s->zap_due, g);
		s->nr_due--;
		/* The host forgets the whole group (or sees it the first time): its
		 * stale and fresh free pages are clean now. */
		if (end > s->cfg.pool_pages)
			end = s->cfg.pool_pages;
		clean_group(s, s->free_stale, first, end);
		clean_group(s, s->free_fresh, first, end);
		ret_groups[n++] = g;
		s->st.zap_groups++;
	}
	return n;
}
