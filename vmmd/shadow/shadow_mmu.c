/* SPDX-License-Identifier: MIT */
/*
 * Shadow page tables: address spaces (guest CR3 -> kernel and user roots),
 * the page-fault path (guest walk, then fill or say why not), invlpg, CR3
 * writes, statistics and inspection. See shadow_mmu_priv.h for the data
 * structures and shadow_pool.c / shadow_sync.c for the pool and re-sync.
 *
 * Not thread-safe: one struct smmu per VM, its caller serialises (vmmd runs
 * shadow mode with one vCPU). "Current" below is the root of the last
 * smmu_load_root; it is the one the real CR3 holds, and never freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmmd/shadow/shadow_mmu_priv.h"

int smmu_new(struct machine_memory *mm, const struct physmap *pm, const struct smmu_config *cfg,
	     struct smmu **ret)
{
	struct smmu *s;
	int r;

	if (!mm || !pm || !cfg || !ret || !pm->to_machine)
		return -EINVAL;
	if (cfg->pool_pages < 16 || cfg->pool_pages >= UINT32_MAX / SMMU_ENTRIES ||
	    cfg->pool_mpa % PAGE_SIZE_4K)
		return -EINVAL;
	if (cfg->strategy != SMMU_VTLB && cfg->strategy != SMMU_CACHED)
		return -EINVAL;
	if (cfg->monitor_slot != 0 && (cfg->monitor_slot < 256 || cfg->monitor_slot > 511))
		return -EINVAL;
	if (cfg->prefetch > SMMU_ENTRIES)
		return -EINVAL;
	if (!machine_ptr(mm, cfg->pool_mpa, (size_t) cfg->pool_pages * PAGE_SIZE_4K))
		return -ERANGE;
	/* The pool must not overlap guest frames: the guest could write it. */
	for (unsigned i = 0; i < cfg->pool_pages; i++)
		if (physmap_mpa_to_gpa(pm, cfg->pool_mpa + (uint64_t) i * PAGE_SIZE_4K) != UINT64_MAX)
			return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mm = mm;
	s->pm = pm;
	s->cfg = *cfg;
	if (!s->cfg.monitor_slot)
		s->cfg.monitor_slot = SHADOW_MONITOR_PML4_SLOT;
	if (!s->cfg.monitor_pml4e_kernel)
		s->cfg.monitor_pml4e_kernel = s->cfg.monitor_pml4e;
	s->pool = machine_ptr(mm, cfg->pool_mpa, (size_t) cfg->pool_pages * PAGE_SIZE_4K);
	s->cur_as = -1;
	s->cur_root = SMMU_NONE;
	if (cfg->strategy == SMMU_VTLB)
		s->nr_as = 1;
	else
		s->nr_as = cfg->max_roots ? (cfg->max_roots < 4096 ? cfg->max_roots : 4096) : SMMU_DEFAULT_MAX_ROOTS;
	s->cfg.max_roots = s->nr_as;
	s->as = calloc(s->nr_as, sizeof(*s->as));
	r = s->as ? smmu_pool_init(s) : -ENOMEM;
	if (r < 0) {
		smmu_free(s);
		return r;
	}
	for (unsigned i = 0; i < s->nr_as; i++)
		s->as[i].root[0] = s->as[i].root[1] = SMMU_NONE;
	*ret = s;
	return 0;
}

void smmu_free(struct smmu *s)
{
	if (!s)
		return;
	smmu_pool_free(s);
	free(s->as);
	free(s);
}

static int as_find(const struct smmu *s, uint64_t cr3)
{
	for (unsigned i = 0; i < s->nr_as; i++)
		if (s->as[i].valid && s->as[i].cr3 == cr3)
			return (int) i;
	return -1;
}

/* VTLB: the one address space now shadows cr3; its root pages stay put
 * (the real CR3 may hold one), everything below them goes. */
static void as_rekey(struct smmu *s, unsigned as, uint64_t cr3)
{
	struct aspace *a = &s->as[as];

	smmu_as_drop(s, as, true);
	a->cr3 = cr3;
	for (int user = 0; user < 2; user++)
		if (a->root[user] != SMMU_NONE)
			smmu_sp_rekey(s, a->root[user], cr3, gfn_of(s, cr3));
}

/* The address space of cr3, made if needed (evicting the LRU one). */
static unsigned as_get(struct smmu *s, uint64_t cr3)
{
	int as = as_find(s, cr3), victim = -1;

	if (as >= 0)
		return (unsigned) as;
	if (s->cfg.strategy == SMMU_VTLB) {
		if (s->as[0].valid) {
			as_rekey(s, 0, cr3);
			return 0;
		}
		victim = 0;
	} else {
		for (unsigned i = 0; i < s->nr_as; i++) {
			if (!s->as[i].valid) {
				victim = (int) i;
				break;
			}
			if (victim < 0 || s->as[i].last_use < s->as[victim].last_use)
				victim = (int) i;
		}
		if (s->as[victim].valid)
			smmu_as_drop(s, (unsigned) victim, false);
	}
	s->as[victim] = (struct aspace) {
		.valid = true,
		.cr3 = cr3,
		.root = { SMMU_NONE, SMMU_NONE },
	};
	return (unsigned) victim;
}

static uint32_t root_get(struct smmu *s, unsigned as, bool user)
{
	struct aspace *a = &s->as[as];
	uint32_t r;

	if (a->root[user] != SMMU_NONE)
		return a->root[user];
	smmu_pool_reserve(s, 1, (int) as);
	r = smmu_sp_alloc(s, 4, as, user, a->cr3, gfn_of(s, a->cr3), false);
	sp_table(s, r)[s->cfg.monitor_slot] = user ? s->cfg.monitor_pml4e : s->cfg.monitor_pml4e_kernel;
	a->root[user] = r;
	return r;
}

uint64_t smmu_load_root(struct smmu *s, uint64_t guest_cr3, bool user)
{
	uint64_t cr3 = guest_cr3 & X86_CR3_ADDR;
	unsigned as = as_get(s, cr3);

	s->st.root_loads++;
	/* A hit: the root is there with what was built in it (not flushed). */
	if (s->as[as].root[user] != SMMU_NONE && !s->as[as].emptied[user])
		s->st.root_cache_hits++;
	else
		s->st.root_cache_misses++;
	s->as[as].emptied[user] = false;
	s->as[as].last_use = ++s->clock;
	s->cur_as = (int) as;
	s->cur_user = user;
	root_get(s, as, user);
	/* Loading another CR3 flushes the real (untagged, non-global) TLB;
	 * loading the same one again does not. */
	if (s->cur_root != s->as[as].root[user]) {
		s->tlb_flush = false;
		s->tlb_pending = false;
	}
	s->cur_root = s->as[as].root[user];
	return sp_mpa(s, s->cur_root);
}

/* Where a leaf comes from: its guest entry and the path's effective rights. */
struct leaf_src {
	uint64_t gpa, pte, pte_gpa;
	bool writable, user, nx;
};

/* Leaf `slot` of sp maps the frame of l->gpa. user_root: it is a user root's.
 * kexec: the guest kernel itself fetches from the page (see below). */
static void leaf_fill(struct smmu *s, uint32_t sp, unsigned slot, const struct leaf_src *l, bool user_root,
		      bool guest_wp, bool kexec)
{
	uint64_t frame = l->gpa & ~(PAGE_SIZE_4K - 1), spte;
	/* The guest kernel (CR0.WP = 0) may write read-only pages; user code never. */
	bool w = (l->writable || (!user_root && !guest_wp)) && (l->pte & X86_PTE_D) &&
		 !smmu_gfn_protected(s, gfn_of(s, frame));
	/* Where the host may let the guest return to user mode without a
	 * trap, guest-user pages are not executable in the kernel root: the
	 * first user instruction faults (engine.c) instead of running on it.
	 * A fetch the engine found to be the kernel's own makes it executable. */
	bool nx = l->nx || (!user_root && l->user && s->cfg.user_nx_in_kernel_root && !kexec);

	spte = physmap_gpa_to_mpa(s->pm, frame) | X86_PTE_P | X86_PTE_U | X86_PTE_A | (w ? X86_PTE_W | X86_PTE_D : 0) |
	       (nx ? X86_PTE_NX : 0);
	smmu_leaf_set(s, sp, slot, spte, l->pte_gpa);
}

/*
 * Fill-around (KVM's pte_prefetch, Xen's sh_prefetch): the other entries of
 * va's aligned block of cfg.prefetch in the leaf shadow page sp, where the
 * shadow has none yet and the guest would translate without a fault and
 * has already set A (so no access the guest cannot see is made possible:
 * A/D stay exact; W still needs D). A 4 KiB guest table is read entry by
 * entry; the pieces of a guest large page share its entry, whose A the
 * walk just set.
 */
static void prefetch(struct smmu *s, uint32_t sp, bool user, uint64_t va, const struct gw_result *p, bool guest_wp,
		     bool nxe)
{
	const struct gw_step *leaf = &p->steps[p->n_steps - 1];
	unsigned n = s->cfg.prefetch, i = smmu_index(va, 1), first = i - i % n;
	bool up_user = true, up_write = true, up_nx = false;
	uint64_t *table = NULL;

	if (leaf->level == 1) {
		table = physmap_guest_ptr(s->pm, s->mm, leaf->table, PAGE_SIZE_4K);
		if (!table)
			return;
		for (int level = 4; level >= 2; level--) {
			uint64_t e = walk_step(p, level)->entry;
			up_user &= !!(e & X86_PTE_U);
			up_write &= !!(e & X86_PTE_W);
			up_nx |= nxe && (e & X86_PTE_NX);
		}
	}
	for (unsigned j = first; j < first + n && j < SMMU_ENTRIES; j++) {
		uint64_t ge, gpa;
		bool e_user, e_write, e_nx;

		if (j == i || (sp_table(s, sp)[j] & X86_PTE_P))
			continue;
		if (leaf->level > 1) {
			/* The same large page: its entry, the frame j pages on. */
			uint64_t size = p->page_size, jva = (va & ~(SMMU_ENTRIES * PAGE_SIZE_4K - 1)) | (uint64_t) j << 12;
			gpa = (p->phys & ~(size - 1)) | (jva & (size - 1));
			if (gfn_of(s, gpa) == SMMU_GFN_NONE)
				continue;
			struct leaf_src l = { gpa, leaf->entry, gw_step_addr(leaf), p->writable, p->user, p->nx };
			leaf_fill(s, sp, j, &l, user, guest_wp, false);
			s->st.prefetched++;
			continue;
		}
		ge = __atomic_load_n(&table[j], __ATOMIC_ACQUIRE);
		e_user = up_user && (ge & X86_PTE_U);
		e_write = up_write && (ge & X86_PTE_W);
		e_nx = up_nx || (nxe && (ge & X86_PTE_NX));
		if (!(ge & X86_PTE_P) || !(ge & X86_PTE_A) || ((ge & X86_PTE_NX) && !nxe) || (user && !e_user))
			continue;
		gpa = ge & X86_PTE_ADDR;
		/* MMIO must fault and be decoded; beyond RAM is also where
		 * reserved address bits (above MAXPHYADDR) would be. */
		if (gfn_of(s, gpa) == SMMU_GFN_NONE)
			continue;
		struct leaf_src l = { gpa, ge, leaf->table + 8 * j, e_write, e_user, e_nx };
		leaf_fill(s, sp, j, &l, user, guest_wp, false);
		s->st.prefetched++;
	}
}

/*
 * A declared update (smmu_pt_update) of entry `slot` of guest table gfn,
 * written straight into leaf shadow page sp instead of leaving the entry
 * empty for a fill fault (Xen validates a PV guest's update and uses it; vmmd
 * propagates it). Only what the fill path itself would build: the guest
 * translates the entry without a fault under the rights of sp's path (the
 * keys of its ancestors: CACHED keeps them equal to the guest's current
 * entries, every write to those tables re-syncs), has set A, and the frame
 * is guest RAM; leaf_fill then withholds W without D and from a frame vmmd
 * shadows as a page table. Anything else stays empty and faults as before.
 */
void smmu_leaf_update(struct smmu *s, uint32_t sp, unsigned slot, uint64_t pte_gpa, uint64_t ge, bool guest_wp,
		      bool nxe)
{
	const struct sp_meta *m = &s->meta[sp];
	bool up_user = true, up_write = true, up_nx = false;
	uint32_t page = sp;

	if (s->cfg.strategy != SMMU_CACHED || m->level != 1 || m->synth)
		return;
	/* The keys of sp (the guest's PDE), its parent (PDPTE) and theirs (PML4E). */
	for (int level = 1; level <= 3; level++) {
		uint64_t key = s->meta[page].key;
		if (s->meta[page].level != level || s->meta[page].parents == SMMU_NONE)
			return;
		up_user &= !!(key & X86_PTE_U);
		up_write &= !!(key & X86_PTE_W);
		up_nx |= !!(key & X86_PTE_NX);
		page = s->meta[page].parents / SMMU_ENTRIES;
	}
	if (!(ge & X86_PTE_P) || !(ge & X86_PTE_A))
		return;
	/* NX without EFER.NXE is a reserved bit: the guest's #PF, made by a fault. */
	if (!nxe && (up_nx || (ge & X86_PTE_NX)))
		return;
	bool e_user = up_user && (ge & X86_PTE_U);
	if (m->user && !e_user)
		return;
	uint64_t gpa = ge & X86_PTE_ADDR;
	/* MMIO must fault and be decoded; beyond RAM is also where reserved
	 * address bits (above MAXPHYADDR) would be. */
	if (gfn_of(s, gpa) == SMMU_GFN_NONE)
		return;
	struct leaf_src l = { gpa, ge, pte_gpa, up_write && (ge & X86_PTE_W), e_user, up_nx || (ge & X86_PTE_NX) };
	leaf_fill(s, sp, slot, &l, m->user, guest_wp, false);
	s->st.updates_applied++;
}

/* A level-3 shadow page another root of this kind already links for the
 * same guest PML4 entry (CACHED: its shadows follow every write to the
 * guest tables below, so they are the same for every root). */
static uint32_t shared_l3(struct smmu *s, uint64_t key, bool user)
{
	uint64_t gfn = gfn_of(s, key & X86_PTE_ADDR);

	if (s->cfg.strategy != SMMU_CACHED || gfn == SMMU_GFN_NONE)
		return SMMU_NONE;
	for (uint32_t sp = s->sp_head[gfn]; sp != SMMU_NONE; sp = s->meta[sp].gfn_next)
		if (s->meta[sp].level == 3 && s->meta[sp].key == key && s->meta[sp].user == user)
			return sp;
	return SMMU_NONE;
}

/* Build the shadow path and leaf for va from a successful guest walk.
 * kexec: the guest kernel itself fetches from the page (leaf_fill). */
static void fill(struct smmu *s, unsigned as, bool user, uint64_t va, const struct gw_result *p, bool guest_wp,
		 bool nxe, bool kexec)
{
	const struct gw_step *leaf = &p->steps[p->n_steps - 1];
	uint64_t pte = leaf->entry;
	int leaf_level = walk_leaf_level(p);
	uint32_t sp;

	root_get(s, as, user);
	smmu_pool_reserve(s, 3, (int) as);
	sp = s->as[as].root[user];

	for (int level = 4; level >= 2; level--) {
		unsigned i = smmu_index(va, level);
		bool synth = level <= leaf_level;
		uint64_t ge = synth ? pte : walk_step(p, level)->entry;
		uint64_t key = ge & SMMU_KEY_MASK, e = sp_table(s, sp)[i];
		uint32_t child;

		if (e & X86_PTE_P) {
			child = sp_of_entry(s, e);
			if (s->meta[child].key == key && s->meta[child].synth == synth) {
				sp = child;
				continue;
			}
			/* The guest entry changed under a cached structure. */
			smmu_entry_zap(s, sp, i);
		}
		child = level == 4 ? shared_l3(s, key, user) : SMMU_NONE;
		if (child != SMMU_NONE)
			s->st.shared++;
		else
			child = smmu_sp_alloc(s, level - 1, as, user, key, gfn_of(s, ge & X86_PTE_ADDR), synth);
		smmu_sp_link(s, sp, i, child);
		sp = child;
	}

	/* This walk used these tables as page tables: not a write flood. */
	for (int level = 4; level >= leaf_level; level--) {
		uint64_t t = gfn_of(s, walk_step(p, level)->table);
		if (t != SMMU_GFN_NONE)
			s->writes[t] = 0;
	}

	struct leaf_src l = { p->phys, pte, gw_step_addr(leaf), p->writable, p->user, p->nx };
	leaf_fill(s, sp, smmu_index(va, 1), &l, user, guest_wp, kexec);
	s->st.fills++;
	if (s->cfg.prefetch > 1)
		prefetch(s, sp, user, va, p, guest_wp, nxe);
}

int smmu_page_fault(struct smmu *s, uint64_t guest_cr3, bool user, uint64_t va, uint32_t hw_error,
		    bool guest_wp, bool nxe, struct smmu_fault *ret)
{
	unsigned access = (hw_error & X86_PF_WRITE ? SHADOW_ACC_WRITE : 0) | (hw_error & X86_PF_INSTR ? SHADOW_ACC_FETCH : 0) |
			  (user ? SHADOW_ACC_USER : 0);
	uint64_t cr3 = guest_cr3 & X86_CR3_ADDR;
	struct gw_result p;
	unsigned as;
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (!x86_canonical(va))
		return -EINVAL;

	/* Guest contract: the monitor's PML4 slot is not the guest's. Whatever
	 * the guest maps there, an access faults as not-present. */
	if (smmu_index(va, 4) == s->cfg.monitor_slot) {
		s->st.guest_faults++;
		*ret = (struct smmu_fault) {
			.kind = SMMU_FAULT_GUEST,
			.guest_error = (access & SHADOW_ACC_WRITE ? X86_PF_WRITE : 0) | (user ? X86_PF_USER : 0) |
				       (access & SHADOW_ACC_FETCH && nxe ? X86_PF_INSTR : 0),
		};
		return 0;
	}

	r = smmu_guest_walk(s, cr3, va, access, guest_wp, nxe, true, &p);
	if (r == -EFAULT) {
		s->st.guest_faults++;
		*ret = (struct smmu_fault) { .kind = SMMU_FAULT_GUEST, .guest_error = p.error };
		return 0;
	}
	if (r < 0)
		return r;
	if (gfn_of(s, p.phys) == SMMU_GFN_NONE) {
		s->st.mmio_faults++;
		*ret = (struct smmu_fault) { .kind = SMMU_FAULT_MMIO, .gpa = p.phys };
		return 0;
	}

	/* Fill even for a write to a page table: later reads then run natively.
	 * The check comes after the fill, which may have just write-protected
	 * the target (a table on its own path, e.g. a self-map). */
	as = as_get(s, cr3);
	s->as[as].last_use = ++s->clock;
	fill(s, as, user, va, &p, guest_wp, nxe, !user && (access & SHADOW_ACC_FETCH));
	if ((access & SHADOW_ACC_WRITE) && smmu_gfn_protected(s, gfn_of(s, p.phys))) {
		s->st.write_protect_faults++;
		*ret = (struct smmu_fault) { .kind = SMMU_FAULT_PT_WRITE, .gpa = p.phys };
		return 0;
	}
	*ret = (struct smmu_fault) { .kind = SMMU_FAULT_FILLED };
	return 0;
}

void smmu_guest_cr3_write(struct smmu *s, uint64_t old_cr3, uint64_t new_cr3)
{
	(void) old_cr3;
	if (!s)
		return;
	/* A virtual TLB forgets everything on a CR3 write, even to the same value. */
	if (s->cfg.strategy == SMMU_VTLB && s->as[0].valid)
		as_rekey(s, 0, new_cr3 & X86_CR3_ADDR);
	/* The guest's TLB would forget its non-global entries: deferred zaps are due. */
	smmu_tlb_flush(s);
}

/* Drop what the shadows of address space `as` cache for va. */
static void invlpg_drop(struct smmu *s, unsigned as, uint64_t va)
{
	for (int user = 0; user < 2; user++) {
		uint32_t sp = s->as[as].root[user];
		uint64_t gtable = s->as[as].cr3;

		if (sp == SMMU_NONE)
			continue;
		/* Like the CPU's paging-structure caches, drop every cached level
		 * on va's path the guest entry no longer matches, and the whole of
		 * a large page (its 4 KiB pieces share one guest entry). */
		for (int level = 4; level >= 1; level--) {
			unsigned i = smmu_index(va, level);
			uint64_t e = sp_table(s, sp)[i], *gp, ge;
			uint32_t child;

			if (level == 1 || !(e & X86_PTE_P)) {
				smmu_entry_zap(s, sp, i);
				break;
			}
			child = sp_of_entry(s, e);
			gp = physmap_guest_ptr(s->pm, s->mm, gtable + 8 * i, 8);
			ge = gp ? __atomic_load_n(gp, __ATOMIC_ACQUIRE) : 0;
			if (s->meta[child].synth || s->meta[child].key != (ge & SMMU_KEY_MASK)) {
				smmu_entry_zap(s, sp, i);
				break;
			}
			gtable = ge & X86_PTE_ADDR;
			sp = child;
		}
	}
}

void smmu_invlpg(struct smmu *s, uint64_t guest_cr3, uint64_t va)
{
	int as;

	if (!s)
		return;
	s->st.invlpg++;
	as = as_find(s, guest_cr3 & X86_CR3_ADDR);
	if (as >= 0 && x86_canonical(va) && smmu_index(va, 4) != s->cfg.monitor_slot)
		invlpg_drop(s, (unsigned) as, va);
	/* invlpg also flushes every paging-structure cache entry (SDM 4.10.4.1),
	 * and vmmd does not track which deferred zap covers which address: all
	 * deferred zaps are due, va's own drop included. */
	smmu_tlb_flush(s);
}

void smmu_flush_all(struct smmu *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->nr_as; i++)
		if (s->as[i].valid)
			smmu_as_drop(s, i, (int) i == s->cur_as);
	smmu_tlb_flush(s);
}

bool smmu_take_tlb_flush(struct smmu *s)
{
	bool r = s->tlb_flush;

	s->tlb_flush = false;
	return r;
}

void smmu_get_stats(const struct smmu *s, struct smmu_stats *ret)
{
	*ret = s->st;
	ret->pool_pages = s->cfg.pool_pages;
	ret->pool_used = s->cfg.pool_pages - s->nr_free;
}

/* --- inspection ---------------------------------------------------------------- */

int smmu_foreach_root(struct smmu *s, smmu_root_fn fn, void *userdata)
{
	for (unsigned i = 0; i < s->nr_as; i++) {
		for (int user = 0; user < 2; user++) {
			int r;
			if (!s->as[i].valid || s->as[i].root[user] == SMMU_NONE)
				continue;
			r = fn(userdata, s->as[i].cr3, user, sp_mpa(s, s->as[i].root[user]));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static uint64_t canonical(uint64_t va)
{
	return (uint64_t) ((int64_t) (va << 16) >> 16);
}

static int mappings_below(struct smmu *s, uint32_t sp, uint64_t base, uint64_t from, uint64_t to,
			  smmu_mapping_fn fn, void *userdata)
{
	int level = s->meta[sp].level;
	uint64_t span = PAGE_SIZE_4K << (9 * (level - 1));
	uint64_t *t = sp_table(s, sp);

	for (unsigned i = 0; i < SMMU_ENTRIES; i++) {
		uint64_t va = canonical(base + i * span), e = t[i];
		int r;

		if (!(e & X86_PTE_P) || (level == 4 && i == s->cfg.monitor_slot))
			continue;
		if (va > to || va + (span - 1) < from)
			continue;
		if (level > 1) {
			r = mappings_below(s, sp_of_entry(s, e), va, from, to, fn, userdata);
		} else {
			uint32_t id = sp * SMMU_ENTRIES + i;
			uint64_t *gp = physmap_guest_ptr(s->pm, s->mm, s->leaf_gpa[id], 8);
			struct smmu_mapping m = {
				.va = va,
				.mpa = e & X86_PTE_ADDR,
				.size = PAGE_SIZE_4K,
				.flags = e & ~X86_PTE_ADDR,
				.guest_pte = gp ? __atomic_load_n(gp, __ATOMIC_ACQUIRE) : 0,
				.guest_pte_gpa = s->leaf_gpa[id],
			};
			r = fn(userdata, &m);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int smmu_foreach_mapping(struct smmu *s, uint64_t guest_cr3, bool user, uint64_t from, uint64_t to,
			 smmu_mapping_fn fn, void *userdata)
{
	int as;

	if (!s || !fn || from > to)
		return -EINVAL;
	as = as_find(s, guest_cr3 & X86_CR3_ADDR);
	if (as < 0 || s->as[as].root[user] == SMMU_NONE)
		return -ENOENT;
	return mappings_below(s, s->as[as].root[user], 0, from, to, fn, userdata);
}
