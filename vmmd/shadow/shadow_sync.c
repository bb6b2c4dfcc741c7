/* SPDX-License-Identifier: MIT */
/*
 * Keeping cached shadows true to the guest's page tables (CACHED strategy,
 * the seed's "mark every page table entry of non-current page table as
 * invalid ... then handle updating cached shadow page table on exception"):
 * every guest page that some shadow page shadows is mapped read-only in all
 * shadows, the guest's write to it faults (SMMU_FAULT_PT_WRITE), the engine
 * performs it with smmu_pt_write and the shadow entries built from the
 * written guest entries are dropped, to be refilled on demand. A page written
 * SMMU_UNSHADOW_WRITES times with no use as page table in between is
 * probably no longer one: its shadows go, and with them the protection.
 */
#include <errno.h>
#include <string.h>

#include "vmmd/shadow/shadow_mmu_priv.h"

static void leaf_drop_write(struct smmu *s, uint32_t id)
{
	uint32_t sp = id / SMMU_ENTRIES;
	uint64_t *e = &sp_table(s, sp)[id % SMMU_ENTRIES];

	if (!(*e & X86_PTE_W))
		return;
	*e &= ~(X86_PTE_W | X86_PTE_D);
	/* Not deferrable: a stale writable mapping would let the guest change
	 * a table vmmd shadows without a trap. */
	smmu_zap_now(s, sp);
	s->tlb_flush = true;
}

void smmu_write_protect(struct smmu *s, uint64_t gfn)
{
	smmu_zap_protecting(s, gfn);
	smmu_rmap_foreach(s, gfn, leaf_drop_write);
}

/* The shadow pages of gfn, copied: dropping entries may free pages of the
 * same chain (a guest table that maps itself). */
static unsigned chain_snapshot(struct smmu *s, uint64_t gfn)
{
	unsigned n = 0;

	for (uint32_t sp = s->sp_head[gfn]; sp != SMMU_NONE && n < s->cfg.pool_pages; sp = s->meta[sp].gfn_next)
		s->scratch[n++] = sp;
	return n;
}

/* Still the page we snapshotted? Nothing is allocated while we drop. */
static bool still_shadows(const struct smmu *s, uint32_t sp, uint64_t gfn)
{
	return s->meta[sp].level != 0 && s->meta[sp].gfn == gfn;
}

static void unshadow(struct smmu *s, uint64_t gfn)
{
	unsigned n = chain_snapshot(s, gfn);
	bool dropped = false;

	/* A root takes its whole address space with it (a cached space whose
	 * PML4 page the guest reuses, e.g. after the process exited), except
	 * the current one: the real CR3 holds it, its entries are re-synced
	 * write by write instead. */
	for (unsigned k = 0; k < n; k++) {
		uint32_t sp = s->scratch[k];
		if (!still_shadows(s, sp, gfn))
			continue;
		if (s->meta[sp].parents != SMMU_NONE)
			smmu_sp_zap(s, sp);
		else if ((int) s->meta[sp].as != s->cur_as)
			smmu_as_drop(s, s->meta[sp].as, false);
		else
			continue;
		dropped = true;
	}
	if (dropped)
		s->st.unshadowed++;
}

/* Is gfn the root of an address space other than the loaded one? */
static bool other_root(const struct smmu *s, uint64_t gfn)
{
	for (uint32_t sp = s->sp_head[gfn]; sp != SMMU_NONE; sp = s->meta[sp].gfn_next)
		if (s->meta[sp].level == 4 && s->meta[sp].parents == SMMU_NONE && (int) s->meta[sp].as != s->cur_as)
			return true;
	return false;
}

int smmu_unprotect(struct smmu *s, uint64_t gpa)
{
	uint64_t gfn = gpa / PAGE_SIZE_4K;

	if (!s || !physmap_guest_ptr(s->pm, s->mm, gpa & ~(PAGE_SIZE_4K - 1), PAGE_SIZE_4K))
		return -EINVAL;
	if (smmu_gfn_protected(s, gfn))
		unshadow(s, gfn);
	s->writes[gfn] = 0;
	return smmu_gfn_protected(s, gfn) ? -EBUSY : 0;
}

/* What the guest said about a write: a page-table update (smmu_pt_update)
 * under these CR0.WP and EFER.NXE, or nothing (smmu_pt_write). */
struct declared {
	bool guest_wp, nxe;
};

/* The new entry at gpa into every leaf shadow of its page (smmu_leaf_update). */
static void apply_update(struct smmu *s, uint64_t gpa, const struct declared *d)
{
	const uint64_t *p = physmap_guest_ptr(s->pm, s->mm, gpa, 8);
	uint64_t gfn = gpa / PAGE_SIZE_4K, ge;
	unsigned n;

	if (!p)
		return;
	ge = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	n = chain_snapshot(s, gfn);
	for (unsigned k = 0; k < n; k++)
		if (still_shadows(s, s->scratch[k], gfn))
			smmu_leaf_update(s, s->scratch[k], gpa % PAGE_SIZE_4K / 8, gpa, ge, d->guest_wp, d->nxe);
}

static int pt_write(struct smmu *s, uint64_t gpa, const void *data, unsigned len, const struct declared *declared)
{
	unsigned off = gpa % PAGE_SIZE_4K, first, last, n;
	uint64_t gfn;
	void *p;

	if (!s || !data || len == 0 || len > PAGE_SIZE_4K - off)
		return -EINVAL;
	p = physmap_guest_ptr(s->pm, s->mm, gpa, len);
	if (!p)
		return -EFAULT;
	/* An aligned entry is stored in one piece, as the guest's mov would. */
	if (len == 8 && off % 8 == 0) {
		uint64_t v;
		memcpy(&v, data, 8);
		__atomic_store_n((uint64_t *) p, v, __ATOMIC_RELEASE);
	} else {
		memcpy(p, data, len);
	}

	gfn = gpa / PAGE_SIZE_4K;
	if (s->sp_head[gfn] == SMMU_NONE)
		return 0;

	first = off / 8;
	last = (off + len - 1) / 8;
	n = chain_snapshot(s, gfn);
	for (unsigned k = 0; k < n; k++) {
		uint32_t sp = s->scratch[k];
		if (!still_shadows(s, sp, gfn))
			continue;
		for (unsigned i = first; i <= last; i++)
			smmu_entry_zap(s, sp, i);
		s->st.resyncs++;
	}

	if (s->cfg.strategy != SMMU_CACHED)
		return 0;
	/* The PML4 of an address space that is not loaded being written: most
	 * likely a dead process's, its page reused (B8 churn). Drop that space
	 * now rather than after SMMU_UNSHADOW_WRITES traps for each of its
	 * tables; if it is alive, its next load refills it. */
	/* Declared updates say the page is still a table: they do not count
	 * towards giving up its shadows (Linux's fault-around sets up to 16
	 * entries of one table, each with its own mmu_update). */
	if ((!declared && ++s->writes[gfn] >= SMMU_UNSHADOW_WRITES) || other_root(s, gfn)) {
		s->writes[gfn] = 0;
		unshadow(s, gfn);
	}
	/* The shadows that are left take the declared entry now rather than
	 * at the fault that would follow (a new PTE is used at once). */
	if (declared)
		apply_update(s, gpa, declared);
	return 0;
}

int smmu_pt_write(struct smmu *s, uint64_t gpa, const void *data, unsigned len)
{
	return pt_write(s, gpa, data, len, NULL);
}

int smmu_pt_update(struct smmu *s, uint64_t gpa, uint64_t val, bool guest_wp, bool nxe)
{
	struct declared d = { guest_wp, nxe };

	if (gpa % 8)
		return -EINVAL;
	return pt_write(s, gpa, &val, sizeof(val), &d);
}
