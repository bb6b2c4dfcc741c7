/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "x86/guest_walk.h"

static const char *const fault_names[] = {
	[GW_OK] = "ok",
	[GW_NOT_PRESENT] = "not-present",
	[GW_RESERVED] = "reserved-bit",
	[GW_BAD_TABLE] = "table-outside-memory",
	[GW_NON_CANONICAL] = "non-canonical",
	[GW_PROTECTION] = "protection",
};

const char *gw_fault_name(enum gw_fault f)
{
	return (unsigned) f < sizeof(fault_names) / sizeof(fault_names[0]) ? fault_names[f] : "unknown";
}

static uint64_t phys_mask(unsigned phys_bits)
{
	if (phys_bits < 12 || phys_bits > 52)
		phys_bits = 52;
	return ((1ULL << phys_bits) - 1) & ~0xfffULL;
}

uint64_t gw_entry_addr(uint64_t entry, unsigned phys_bits)
{
	return entry & phys_mask(phys_bits);
}

static unsigned level_shift(int level)
{
	return 12 + 9 * (level - 1);
}

static const struct gw_config default_config = { .phys_bits = 52, .nxe = true, .wp = true };

/* Whether entry (present) at level has bits set that the CPU would fault on. */
static bool reserved_bits(uint64_t entry, int level, const struct gw_config *cfg)
{
	if (entry & X86_PTE_ADDR & ~phys_mask(cfg->phys_bits))
		return true;
	if (!cfg->nxe && (entry & X86_PTE_NX))
		return true;
	if ((level == 4 || (level == 3 && cfg->no_1g)) && (entry & X86_PTE_PS))
		return true;
	/* A 2 MiB or 1 GiB page: bit 12 is PAT, bits 13..shift-1 must be clear. */
	if ((level == 3 || level == 2) && (entry & X86_PTE_PS)) {
		uint64_t low = ((1ULL << level_shift(level)) - 1) & ~0x1fffULL;
		if (entry & low)
			return true;
	}
	return false;
}

static bool is_leaf(uint64_t entry, int level)
{
	return level == 1 || ((level == 3 || level == 2) && (entry & X86_PTE_PS));
}

/* The rights of the whole path against the access. */
static bool allowed(const struct gw_result *r, unsigned access, const struct gw_config *cfg)
{
	if ((access & GW_ACC_USER) && !r->user)
		return false;
	if ((access & GW_ACC_WRITE) && !r->writable && ((access & GW_ACC_USER) || cfg->wp))
		return false;
	return !((access & GW_ACC_FETCH) && r->nx);
}

/* A in every entry used, D in the leaf for a write (SDM 4.8). */
static int set_accessed_dirty(const struct gw_memory *mem, struct gw_result *r, unsigned access)
{
	for (int i = 0; i < r->n_steps; i++) {
		struct gw_step *s = &r->steps[i];
		uint64_t bits = X86_PTE_A | (i == r->n_steps - 1 && (access & GW_ACC_WRITE) ? X86_PTE_D : 0);
		if ((s->entry & bits) == bits)
			continue;
		int e = mem->set_bits(mem->opaque, gw_step_addr(s), bits, &s->entry);
		if (e < 0)
			return e;
	}
	return 0;
}

static int walk_fault(struct gw_result *r, enum gw_fault f, uint32_t error)
{
	r->fault = f;
	r->error = error;
	return -EFAULT;
}

int gw_walk(const struct gw_memory *mem, uint64_t cr3, uint64_t virt, unsigned access,
	    const struct gw_config *cfg, bool set_ad, struct gw_result *ret)
{
	if (!cfg)
		cfg = &default_config;
	unsigned phys_bits = cfg->phys_bits;
	/* The error code's W and U are the access's; I/D only where NX exists. */
	uint32_t error = (access & (GW_ACC_WRITE | GW_ACC_USER)) | (cfg->nxe && (access & GW_ACC_FETCH) ? X86_PF_INSTR : 0);
	memset(ret, 0, sizeof(*ret));
	ret->virt = virt;
	if (!x86_canonical(virt)) {
		ret->fault = GW_NON_CANONICAL;
		return -EINVAL;
	}
	uint64_t table = cr3 & phys_mask(phys_bits);
	bool writable = true, user = true, nx = false;
	for (int level = GW_LEVELS; level >= 1; level--) {
		unsigned shift = level_shift(level);
		struct gw_step *s = &ret->steps[ret->n_steps++];
		uint64_t e;
		s->level = level;
		s->table = table;
		s->index = (virt >> shift) & 511;
		ret->fault_level = level;
		if (mem->read(mem->opaque, gw_step_addr(s), &e) < 0)
			return walk_fault(ret, GW_BAD_TABLE, error);
		s->entry = e;
		if (!(e & X86_PTE_P))
			return walk_fault(ret, GW_NOT_PRESENT, error);
		if (reserved_bits(e, level, cfg))
			return walk_fault(ret, GW_RESERVED, error | X86_PF_PROT | X86_PF_RSVD);
		writable = writable && (e & X86_PTE_W);
		user = user && (e & X86_PTE_U);
		nx = nx || (e & X86_PTE_NX);
		if (is_leaf(e, level)) {
			uint64_t size = 1ULL << shift;
			ret->page_size = size;
			ret->phys = (gw_entry_addr(e, phys_bits) & ~(size - 1)) | (virt & (size - 1));
			ret->writable = writable;
			ret->user = user;
			ret->nx = nx;
			if (!allowed(ret, access, cfg))
				return walk_fault(ret, GW_PROTECTION, error | X86_PF_PROT);
			ret->fault_level = 0;
			if (set_ad && mem->set_bits && set_accessed_dirty(mem, ret, access) < 0)
				return walk_fault(ret, GW_BAD_TABLE, error);
			return 0;
		}
		table = gw_entry_addr(e, phys_bits);
	}
	return -EFAULT;   /* not reached: level 1 is always a leaf */
}

int gw_translate(const struct gw_memory *mem, uint64_t cr3, uint64_t virt, const struct gw_config *cfg,
		 struct gw_result *ret)
{
	return gw_walk(mem, cr3, virt, 0, cfg, false, ret);
}

/* --- enumeration ---------------------------------------------------------- */

enum stop { GO, STOP_RANGES, STOP_ENTRIES, STOP_CALLBACK };

struct enum_ctx {
	const struct gw_memory *mem;
	const struct gw_config *cfg;
	unsigned phys_bits;
	uint64_t from, to, max_ranges, max_entries;
	gw_range_fn fn;
	void *opaque;
	struct gw_enum_result *res;
	struct gw_range pending;
	bool have_pending;
	enum stop stop;
};

/* Hand a finished range to the callback, within the limits. */
static void report(struct enum_ctx *c, const struct gw_range *r)
{
	if (c->res->ranges >= c->max_ranges) {
		c->stop = STOP_RANGES;
		c->res->truncated = true;
		c->res->next = r->virt;
		return;
	}
	if (c->fn(c->opaque, r) < 0) {
		c->stop = STOP_CALLBACK;
		c->res->truncated = true;
		c->res->next = r->virt;
		return;
	}
	c->res->ranges++;
}

static void add_page(struct enum_ctx *c, uint64_t virt, uint64_t phys, uint64_t size,
		     bool writable, bool user, bool nx)
{
	/* Clip a large page that straddles [from, to]. */
	if (virt < c->from) {
		phys += c->from - virt;
		size -= c->from - virt;
		virt = c->from;
	}
	if (virt + (size - 1) > c->to)
		size = c->to - virt + 1;
	struct gw_range *p = &c->pending;
	if (c->have_pending && p->virt + p->size == virt && p->phys + p->size == phys &&
	    p->writable == writable && p->user == user && p->nx == nx) {
		p->size += size;
		return;
	}
	if (c->have_pending) {
		report(c, p);
		if (c->stop != GO) {
			c->have_pending = false;
			return;
		}
	}
	*p = (struct gw_range) { .virt = virt, .phys = phys, .size = size,
				 .writable = writable, .user = user, .nx = nx };
	c->have_pending = true;
}

static void walk_table(struct enum_ctx *c, uint64_t table, int level, uint64_t base,
		       bool writable, bool user, bool nx)
{
	unsigned shift = level_shift(level);
	uint64_t span = 1ULL << shift;
	for (unsigned i = 0; i < 512 && c->stop == GO; i++) {
		uint64_t v = base + (uint64_t) i * span;
		if (level == GW_LEVELS && i >= 256)
			v |= 0xffff000000000000ULL;   /* the upper canonical half */
		if (v + (span - 1) < c->from)
			continue;
		if (v > c->to)
			return;
		if (c->res->entries >= c->max_entries) {
			c->stop = STOP_ENTRIES;
			c->res->truncated = true;
			c->res->next = v < c->from ? c->from : v;
			return;
		}
		uint64_t e;
		c->res->entries++;
		if (c->mem->read(c->mem->opaque, table + 8ULL * i, &e) < 0)
			continue;
		if (!(e & X86_PTE_P) || reserved_bits(e, level, c->cfg))
			continue;
		bool w = writable && (e & X86_PTE_W), u = user && (e & X86_PTE_U), x = nx || (e & X86_PTE_NX);
		if (is_leaf(e, level))
			add_page(c, v, gw_entry_addr(e, c->phys_bits) & ~(span - 1), span, w, u, x);
		else
			walk_table(c, gw_entry_addr(e, c->phys_bits), level - 1, v, w, u, x);
	}
}

int gw_enumerate(const struct gw_memory *mem, uint64_t cr3, uint64_t from, uint64_t to,
		 const struct gw_config *cfg, uint64_t max_ranges, uint64_t max_entries,
		 gw_range_fn fn, void *opaque, struct gw_enum_result *ret)
{
	if (!cfg)
		cfg = &default_config;
	unsigned phys_bits = cfg->phys_bits;
	memset(ret, 0, sizeof(*ret));
	if (from > to)
		return -EINVAL;
	struct enum_ctx c = {
		.mem = mem, .cfg = cfg, .phys_bits = phys_bits, .from = from, .to = to,
		.max_ranges = max_ranges, .max_entries = max_entries,
		.fn = fn, .opaque = opaque, .res = ret,
	};
	walk_table(&c, cr3 & phys_mask(phys_bits), GW_LEVELS, 0, true, true, false);
	if (c.have_pending && (c.stop == GO || c.stop == STOP_ENTRIES))
		report(&c, &c.pending);
	return 0;
}
