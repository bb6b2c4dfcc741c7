/* SPDX-License-Identifier: MIT */
/*
 * The pool of shadow page-table pages: a fixed number of machine pages,
 * handed out zeroed, organised as one tree per shadow root, plus the
 * reverse maps that let vmmd find what depends on a guest frame.
 * Nothing here allocates host memory after smmu_pool_init: every structure
 * is sized by pool_pages or guest_pages up front.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmmd/shadow/shadow_mmu_priv.h"

int smmu_pool_init(struct smmu *s)
{
	uint64_t n = s->cfg.pool_pages, entries = n * SMMU_ENTRIES, gp = s->pm->guest_pages;

	s->meta = calloc(n, sizeof(*s->meta));
	s->leaf_gpa = calloc(entries, sizeof(*s->leaf_gpa));
	s->rmap_next = malloc(entries * sizeof(*s->rmap_next));
	s->rmap_prev = malloc(entries * sizeof(*s->rmap_prev));
	s->rmap_head = malloc(gp * sizeof(*s->rmap_head));
	s->sp_head = malloc(gp * sizeof(*s->sp_head));
	s->writes = calloc(gp, sizeof(*s->writes));
	s->free_clean = calloc(BITMAP_WORDS(n), sizeof(uint64_t));
	s->free_fresh = calloc(BITMAP_WORDS(n), sizeof(uint64_t));
	s->free_stale = calloc(BITMAP_WORDS(n), sizeof(uint64_t));
	s->scratch = malloc(n * sizeof(*s->scratch));
	if (!s->meta || !s->leaf_gpa || !s->rmap_next || !s->rmap_prev || !s->rmap_head || !s->sp_head ||
	    !s->writes || !s->free_clean || !s->free_fresh || !s->free_stale || !s->scratch)
		return -ENOMEM;

	memset(s->rmap_head, 0xff, gp * sizeof(*s->rmap_head));
	memset(s->sp_head, 0xff, gp * sizeof(*s->sp_head));
	/* The host has seen none of the pool yet: every page starts fresh, and
	 * its first use makes its group due (for KVM: the slot is registered
	 * then, not all at once when the VM starts). */
	for (uint64_t k = 0; k < n; k++) {
		bitmap_set(s->free_fresh, k);
		s->meta[k].parents = SMMU_NONE;
	}
	s->nr_free = (unsigned) n;
	return smmu_zap_init(s);
}

void smmu_pool_free(struct smmu *s)
{
	free(s->meta);
	free(s->leaf_gpa);
	free(s->rmap_next);
	free(s->rmap_prev);
	free(s->rmap_head);
	free(s->sp_head);
	free(s->writes);
	free(s->free_clean);
	free(s->free_fresh);
	free(s->free_stale);
	free(s->scratch);
	smmu_zap_free(s);
}

/* --- reverse map: guest frame -> leaf entries that map it ------------------ */

static void rmap_link(struct smmu *s, uint32_t id, uint64_t spte)
{
	uint64_t gfn = smmu_leaf_gfn(s, spte);

	s->rmap_prev[id] = SMMU_NONE;
	if (gfn == SMMU_GFN_NONE) {     /* never: leaves map guest RAM only */
		s->rmap_next[id] = SMMU_NONE;
		return;
	}
	s->rmap_next[id] = s->rmap_head[gfn];
	if (s->rmap_head[gfn] != SMMU_NONE)
		s->rmap_prev[s->rmap_head[gfn]] = id;
	s->rmap_head[gfn] = id;
}

static void rmap_unlink(struct smmu *s, uint32_t id, uint64_t spte)
{
	uint64_t gfn = smmu_leaf_gfn(s, spte);
	uint32_t prev = s->rmap_prev[id], next = s->rmap_next[id];

	if (next != SMMU_NONE)
		s->rmap_prev[next] = prev;
	if (prev != SMMU_NONE)
		s->rmap_next[prev] = next;
	else if (gfn != SMMU_GFN_NONE && s->rmap_head[gfn] == id)
		s->rmap_head[gfn] = next;
}

void smmu_rmap_foreach(struct smmu *s, uint64_t gfn, void (*fn)(struct smmu *s, uint32_t id))
{
	if (gfn == SMMU_GFN_NONE)
		return;
	for (uint32_t id = s->rmap_head[gfn], next; id != SMMU_NONE; id = next) {
		next = s->rmap_next[id];
		fn(s, id);
	}
}

/* --- shadow pages ------------------------------------------------------------ */

static void gfn_chain_add(struct smmu *s, uint32_t sp)
{
	uint64_t gfn = s->meta[sp].gfn;

	s->meta[sp].gfn_prev = SMMU_NONE;
	s->meta[sp].gfn_next = SMMU_NONE;
	if (gfn == SMMU_GFN_NONE)
		return;
	s->meta[sp].gfn_next = s->sp_head[gfn];
	if (s->sp_head[gfn] != SMMU_NONE)
		s->meta[s->sp_head[gfn]].gfn_prev = sp;
	s->sp_head[gfn] = sp;
}

static void gfn_chain_del(struct smmu *s, uint32_t sp)
{
	struct sp_meta *m = &s->meta[sp];

	if (m->gfn == SMMU_GFN_NONE)
		return;
	if (m->gfn_next != SMMU_NONE)
		s->meta[m->gfn_next].gfn_prev = m->gfn_prev;
	if (m->gfn_prev != SMMU_NONE)
		s->meta[m->gfn_prev].gfn_next = m->gfn_next;
	else
		s->sp_head[m->gfn] = m->gfn_next;
}

uint32_t smmu_sp_alloc(struct smmu *s, int level, unsigned as, bool user, uint64_t key, uint64_t gfn,
		       bool synth)
{
	uint32_t sp;
	bool was_protected;

	/* Callers reserve first; running dry here is a bug in the reservation. */
	if (s->nr_free == 0)
		abort();
	/* The lowest clean page (tests stay readable, groups fill in order);
	 * else a fresh one, whose group the host must be shown first (for KVM
	 * one ioctl, once); a stale one only when neither is left, and then the
	 * host must forget its old contents before the guest can walk the new
	 * ones (two ioctls, every time). */
	sp = (uint32_t) bitmap_next(s->free_clean, 0, s->cfg.pool_pages);
	if (sp < s->cfg.pool_pages) {
		bitmap_clear(s->free_clean, sp);
	} else {
		uint64_t *from = bitmap_next(s->free_fresh, 0, s->cfg.pool_pages) < s->cfg.pool_pages ? s->free_fresh
														: s->free_stale;
		sp = (uint32_t) bitmap_next(from, 0, s->cfg.pool_pages);
		bitmap_clear(from, sp);
		smmu_zap_now(s, sp);
	}
	s->nr_free--;
	memset(sp_table(s, sp), 0, PAGE_SIZE_4K);
	s->meta[sp] = (struct sp_meta) {
		.key = key,
		.gfn = synth ? SMMU_GFN_NONE : gfn,
		.parents = SMMU_NONE,
		.as = (uint16_t) as,
		.level = (uint8_t) level,
		.synth = synth,
		.user = user,
	};
	was_protected = smmu_gfn_protected(s, s->meta[sp].gfn);
	gfn_chain_add(s, sp);
	if (s->cfg.strategy == SMMU_CACHED && !was_protected && s->meta[sp].gfn != SMMU_GFN_NONE)
		smmu_write_protect(s, s->meta[sp].gfn);
	return sp;
}

void smmu_sp_rekey(struct smmu *s, uint32_t sp, uint64_t key, uint64_t gfn)
{
	bool was_protected;

	gfn_chain_del(s, sp);
	s->meta[sp].key = key;
	s->meta[sp].gfn = gfn;
	was_protected = smmu_gfn_protected(s, gfn);
	gfn_chain_add(s, sp);
	if (s->cfg.strategy == SMMU_CACHED && !was_protected && gfn != SMMU_GFN_NONE)
		smmu_write_protect(s, gfn);
}

static void sp_release(struct smmu *s, uint32_t sp)
{
	gfn_chain_del(s, sp);
	s->meta[sp].level = 0;
	s->meta[sp].parents = SMMU_NONE;
	/* The host may still hold its contents (reachable through a parent
	 * entry whose removal is deferred): clean again only once zapped. */
	bitmap_set(s->free_stale, sp);
	s->nr_free++;
}

/* --- links between shadow pages: an entry pointing to a child ----------------- */

static void parents_add(struct smmu *s, uint32_t child, uint32_t id)
{
	uint32_t head = s->meta[child].parents;

	s->rmap_prev[id] = SMMU_NONE;
	s->rmap_next[id] = head;
	if (head != SMMU_NONE)
		s->rmap_prev[head] = id;
	s->meta[child].parents = id;
}

static void parents_del(struct smmu *s, uint32_t child, uint32_t id)
{
	uint32_t prev = s->rmap_prev[id], next = s->rmap_next[id];

	if (next != SMMU_NONE)
		s->rmap_prev[next] = prev;
	if (prev != SMMU_NONE)
		s->rmap_next[prev] = next;
	else
		s->meta[child].parents = next;
}

static void sp_clear(struct smmu *s, uint32_t sp, bool freeing);

/* Entry id (a table entry) no longer points to its child; the child and
 * what hangs below it go when nothing else links it. The entry itself is
 * the caller's to clear. */
static void link_drop(struct smmu *s, uint32_t id, uint64_t e)
{
	uint32_t child = sp_of_entry(s, e);

	parents_del(s, child, id);
	if (s->meta[child].parents == SMMU_NONE) {
		sp_clear(s, child, true);
		sp_release(s, child);
	}
}

void smmu_sp_link(struct smmu *s, uint32_t parent, unsigned slot, uint32_t child)
{
	parents_add(s, child, parent * SMMU_ENTRIES + slot);
	/* Intermediate entries allow everything: the leaf carries the rights of
	 * the whole guest path. A is preset so the CPU never has to set it. */
	sp_table(s, parent)[slot] = sp_mpa(s, child) | X86_PTE_P | X86_PTE_W | X86_PTE_U | X86_PTE_A;
}

/* Empty sp: unlink its leaves and children (freeing those nothing else
 * links). Depth <= 4. freeing: sp is released next; a host is made to
 * forget it when it is handed out again, and what still leads to it goes
 * when the entries pointing to it are zapped, so its own removals need no
 * zap (only the record of writable leaves dropped, shadow_zap.c). */
static void sp_clear(struct smmu *s, uint32_t sp, bool freeing)
{
	uint64_t *t = sp_table(s, sp);
	int level = s->meta[sp].level;

	for (unsigned i = 0; i < SMMU_ENTRIES; i++) {
		uint64_t e = t[i];

		if (!(e & X86_PTE_P) || (level == 4 && i == s->cfg.monitor_slot))
			continue;
		if (level == 1)
			rmap_unlink(s, sp * SMMU_ENTRIES + i, e);
		else
			link_drop(s, sp * SMMU_ENTRIES + i, e);
		t[i] = 0;
		if (freeing)
			smmu_zap_dropped_leaf(s, sp, e);
		else
			smmu_zap_removed(s, sp, e);
	}
}

void smmu_sp_zap(struct smmu *s, uint32_t sp)
{
	struct sp_meta *m = &s->meta[sp];

	while (m->parents != SMMU_NONE) {
		uint32_t id = m->parents, parent = id / SMMU_ENTRIES;
		uint64_t *pe = &sp_table(s, parent)[id % SMMU_ENTRIES];

		parents_del(s, sp, id);
		smmu_zap_removed(s, parent, *pe);
		*pe = 0;
	}
	if (m->level == 4 && s->as[m->as].root[m->user] == sp)
		s->as[m->as].root[m->user] = SMMU_NONE;
	sp_clear(s, sp, true);
	sp_release(s, sp);
}

void smmu_entry_zap(struct smmu *s, uint32_t sp, unsigned slot)
{
	uint64_t *t = sp_table(s, sp);
	uint64_t e = t[slot];
	uint32_t id = sp * SMMU_ENTRIES + slot;

	if (!(e & X86_PTE_P) || (s->meta[sp].level == 4 && slot == s->cfg.monitor_slot))
		return;
	if (s->meta[sp].level == 1)
		rmap_unlink(s, id, e);
	else
		link_drop(s, id, e);
	t[slot] = 0;
	smmu_zap_removed(s, sp, e);
}

void smmu_leaf_set(struct smmu *s, uint32_t sp, unsigned slot, uint64_t spte, uint64_t pte_gpa)
{
	uint64_t *t = sp_table(s, sp);
	uint32_t id = sp * SMMU_ENTRIES + slot;

	/* Replacing the entry of the faulting address: the #PF already took it
	 * out of the real TLB, so no flush is needed here. */
	if (t[slot] & X86_PTE_P)
		rmap_unlink(s, id, t[slot]);
	t[slot] = spte;
	s->leaf_gpa[id] = pte_gpa;
	rmap_link(s, id, spte);
}

/* --- address spaces and recycling ------------------------------------------ */

void smmu_as_drop(struct smmu *s, unsigned as, bool keep_roots)
{
	struct aspace *a = &s->as[as];

	for (int user = 0; user < 2; user++) {
		uint32_t r = a->root[user];

		if (r == SMMU_NONE)
			continue;
		if (keep_roots) {
			sp_clear(s, r, false);
			a->emptied[user] = true;
		} else
			smmu_sp_zap(s, r);
	}
	if (!keep_roots) {
		a->valid = false;
		if (s->cur_as == (int) as)
			s->cur_as = -1;
	}
	s->st.flushes++;
}

void smmu_pool_reserve(struct smmu *s, unsigned n, int pin_as)
{
	while (s->nr_free < n) {
		int victim = -1;
		unsigned before = s->nr_free;

		for (unsigned i = 0; i < s->nr_as; i++) {
			struct aspace *a = &s->as[i];
			if (!a->valid || (int) i == pin_as || (int) i == s->cur_as)
				continue;
			if (a->root[0] == SMMU_NONE && a->root[1] == SMMU_NONE)
				continue;
			if (victim < 0 || a->last_use < s->as[victim].last_use)
				victim = (int) i;
		}
		if (victim < 0)
			break;
		smmu_as_drop(s, (unsigned) victim, false);
		s->st.pool_recycled += s->nr_free - before;
	}
	if (s->nr_free >= n)
		return;

	/* Only the pinned spaces are left: keep their roots, drop the rest.
	 * With pool_pages >= 16 and at most 4 roots kept this always suffices. */
	for (int k = 0; k < 2; k++) {
		int as = k == 0 ? s->cur_as : pin_as;
		unsigned before = s->nr_free;

		if (as < 0 || (k == 1 && as == s->cur_as) || !s->as[as].valid)
			continue;
		smmu_as_drop(s, (unsigned) as, true);
		s->st.pool_recycled += s->nr_free - before;
		if (s->nr_free >= n)
			return;
	}
}
