/* SPDX-License-Identifier: MIT */
/* The software page walker (x86/guest_walk.c) on synthetic tables in a fake memory buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "x86/guest_walk.h"

#define MEM_SIZE  (64 * 4096)
#define P   X86_PTE_P
#define W   X86_PTE_W
#define U   X86_PTE_U
#define PS  X86_PTE_PS
#define NX  X86_PTE_NX

/* Fake guest-physical memory: [0, MEM_SIZE); reads outside it fail. */
struct fake_mem {
	uint8_t bytes[MEM_SIZE];
	unsigned reads;
};

static struct fake_mem fm;

static int fake_read(void *opaque, uint64_t paddr, uint64_t *ret)
{
	struct fake_mem *m = opaque;
	m->reads++;
	if (paddr > MEM_SIZE - 8 || (paddr & 7))
		return -EFAULT;
	memcpy(ret, m->bytes + paddr, 8);
	return 0;
}

static int fake_set_bits(void *opaque, uint64_t paddr, uint64_t bits, uint64_t *ret)
{
	struct fake_mem *m = opaque;
	uint64_t e;
	if (paddr > MEM_SIZE - 8 || (paddr & 7))
		return -EFAULT;
	memcpy(&e, m->bytes + paddr, 8);
	e |= bits;
	memcpy(m->bytes + paddr, &e, 8);
	*ret = e;
	return 0;
}

static const struct gw_memory mem = { .read = fake_read, .opaque = &fm };
static const struct gw_memory mem_ad = { .read = fake_read, .set_bits = fake_set_bits, .opaque = &fm };
static const struct gw_config cfg36 = { .phys_bits = 36, .nxe = true };

static void put(uint64_t table, unsigned index, uint64_t entry)
{
	memcpy(fm.bytes + table + 8 * index, &entry, 8);
}

static unsigned idx(uint64_t virt, int level)
{
	return (virt >> (12 + 9 * (level - 1))) & 511;
}

enum { PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000, PT = 0x4000 };

/* virt -> phys through four levels, every level with `flags`, the PTE with pte_flags. */
static void map_4k(uint64_t virt, uint64_t phys, uint64_t flags, uint64_t pte_flags)
{
	put(PML4, idx(virt, 4), PDPT | flags);
	put(PDPT, idx(virt, 3), PD | flags);
	put(PD, idx(virt, 2), PT | flags);
	put(PT, idx(virt, 1), phys | pte_flags);
}

static int reset(void **state)
{
	memset(&fm, 0, sizeof(fm));
	return 0;
}

static void test_4k_page(void **state)
{
	uint64_t v = 0x00007f1234567000ULL;
	struct gw_result r;

	map_4k(v, 0x9000, P | W | U, P | W | U);
	assert_int_equal(gw_translate(&mem, PML4, v + 0x123, NULL, &r), 0);
	assert_int_equal(r.fault, GW_OK);
	assert_int_equal(r.phys, 0x9123);
	assert_int_equal(r.page_size, 4096);
	assert_int_equal(r.n_steps, 4);
	assert_true(r.writable && r.user && !r.nx);
	uint64_t tables[4] = { PML4, PDPT, PD, PT };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r.steps[i].level, 4 - i);
		assert_int_equal(r.steps[i].table, tables[i]);
		assert_int_equal(r.steps[i].index, idx(v, 4 - i));
		assert_int_equal(r.steps[i].entry & P, P);
	}
	assert_int_equal(r.steps[3].entry, 0x9000 | P | W | U);
	/* CR3's low flag bits (PCD/PWT) are not part of the table address. */
	assert_int_equal(gw_translate(&mem, PML4 | 0x18, v, NULL, &r), 0);
	assert_int_equal(r.phys, 0x9000);
}

static void test_2m_page(void **state)
{
	uint64_t v = 0x40000000ULL + 5 * 0x200000ULL;
	struct gw_result r;

	put(PML4, 0, PDPT | P | W);
	put(PDPT, 1, PD | P | W);
	put(PD, 5, 0x00600000ULL | P | W | PS);
	assert_int_equal(gw_translate(&mem, PML4, v + 0x12345, NULL, &r), 0);
	assert_int_equal(r.phys, 0x00612345ULL);
	assert_int_equal(r.page_size, 2u << 20);
	assert_int_equal(r.n_steps, 3);
	assert_int_equal(r.steps[2].level, 2);
	assert_true(r.writable && !r.user);
	/* Bit 12 is PAT in a large-page entry, not an address bit. */
	put(PD, 5, 0x00600000ULL | 0x1000 | P | PS);
	assert_int_equal(gw_translate(&mem, PML4, v, NULL, &r), 0);
	assert_int_equal(r.phys, 0x00600000ULL);
	assert_false(r.writable);
}

static void test_1g_page(void **state)
{
	uint64_t v = 3ULL << 30;
	struct gw_result r;

	put(PML4, 0, PDPT | P | W | U);
	put(PDPT, 3, (7ULL << 30) | P | W | U | PS);
	assert_int_equal(gw_translate(&mem, PML4, v + 0xabcdef, NULL, &r), 0);
	assert_int_equal(r.phys, (7ULL << 30) + 0xabcdef);
	assert_int_equal(r.page_size, 1u << 30);
	assert_int_equal(r.n_steps, 2);
	assert_true(r.user && r.writable);
	/* A CPU without PDPE1GB faults on it: PS is a reserved bit there. */
	static const struct gw_config no_1g = { .phys_bits = 52, .nxe = true, .no_1g = true };
	assert_int_equal(gw_translate(&mem, PML4, v, &no_1g, &r), -EFAULT);
	assert_int_equal(r.fault, GW_RESERVED);
	assert_int_equal(r.fault_level, 3);
}

static void test_rights_combine(void **state)
{
	uint64_t v = 0x1000;
	struct gw_result r;

	/* NX at the top only: the page is not executable. */
	map_4k(v, 0x5000, P | W | U, P | W | U);
	put(PML4, 0, PDPT | P | W | U | NX);
	assert_int_equal(gw_translate(&mem, PML4, v, NULL, &r), 0);
	assert_true(r.nx && r.writable && r.user);
	/* W clear in the PD entry: read-only, whatever the PTE says. */
	map_4k(v, 0x5000, P | W | U, P | W | U);
	put(PD, 0, PT | P | U);
	assert_int_equal(gw_translate(&mem, PML4, v, NULL, &r), 0);
	assert_true(!r.writable && r.user && !r.nx);
	/* U clear in the PTE: supervisor-only. */
	map_4k(v, 0x5000, P | W | U, P | W);
	assert_int_equal(gw_translate(&mem, PML4, v, NULL, &r), 0);
	assert_true(r.writable && !r.user);
}

static void test_not_present_each_level(void **state)
{
	uint64_t v = 0x00001234567ff000ULL;
	for (int level = 4; level >= 1; level--) {
		struct gw_result r;
		uint64_t tables[5] = { 0, PT, PD, PDPT, PML4 };

		reset(state);
		map_4k(v, 0x6000, P | W, P | W);
		put(tables[level], idx(v, level), 0x7000 | W);   /* P clear: the rest is ignored */
		assert_int_equal(gw_translate(&mem, PML4, v, NULL, &r), -EFAULT);
		assert_int_equal(r.fault, GW_NOT_PRESENT);
		assert_int_equal(r.fault_level, level);
		assert_int_equal(r.n_steps, 5 - level);
		assert_int_equal(r.steps[r.n_steps - 1].entry, 0x7000 | W);
	}
}

static void test_non_canonical(void **state)
{
	struct gw_result r;
	static const uint64_t bad[] = { 0x0000800000000000ULL, 0xffff7fffffffffffULL, 0x8000000000000000ULL,
					0x00ff000000000000ULL };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned before = fm.reads;
		assert_int_equal(gw_translate(&mem, PML4, bad[i], NULL, &r), -EINVAL);
		assert_int_equal(r.fault, GW_NON_CANONICAL);
		assert_int_equal(r.n_steps, 0);
		assert_int_equal(fm.reads, before);   /* refused before any table is read */
	}
	assert_true(x86_canonical(0x00007fffffffffffULL));
	assert_true(x86_canonical(0xffff800000000000ULL));
	assert_false(x86_canonical(0x0000800000000000ULL));
}

static void test_upper_half(void **state)
{
	uint64_t v = 0xffffffff80000000ULL;
	struct gw_result r;

	map_4k(v, 0xa000, P | W, P | W);
	assert_int_equal(idx(v, 4), 511);
	assert_int_equal(gw_translate(&mem, PML4, v + 8, NULL, &r), 0);
	assert_int_equal(r.phys, 0xa008);
}

static void test_reserved_bits(void **state)
{
	struct gw_result r;

	/* PS in a PML4 entry is reserved. */
	put(PML4, 0, PDPT | P | W | PS);
	assert_int_equal(gw_translate(&mem, PML4, 0x1000, NULL, &r), -EFAULT);
	assert_int_equal(r.fault, GW_RESERVED);
	assert_int_equal(r.fault_level, 4);

	/* A 2 MiB page whose address is not 2 MiB aligned (bit 13 set). */
	put(PML4, 0, PDPT | P | W);
	put(PDPT, 0, PD | P | W);
	put(PD, 0, 0x202000ULL | P | PS);
	assert_int_equal(gw_translate(&mem, PML4, 0x1000, NULL, &r), -EFAULT);
	assert_int_equal(r.fault, GW_RESERVED);
	assert_int_equal(r.fault_level, 2);

	/* An address bit above MAXPHYADDR (36 here). */
	put(PD, 0, PT | P | W);
	put(PT, 1, (1ULL << 40) | P);
	assert_int_equal(gw_translate(&mem, PML4, 0x1000, &cfg36, &r), -EFAULT);
	assert_int_equal(r.fault, GW_RESERVED);
	assert_int_equal(r.fault_level, 1);
	/* NX without EFER.NXE is a reserved bit; with it, a right. */
	put(PT, 1, 0x5000 | P | NX);
	static const struct gw_config no_nxe = { .phys_bits = 52, .nxe = false };
	assert_int_equal(gw_translate(&mem, PML4, 0x1000, &no_nxe, &r), -EFAULT);
	assert_int_equal(r.fault, GW_RESERVED);
	assert_int_equal(gw_translate(&mem, PML4, 0x1000, NULL, &r), 0);
	assert_true(r.nx);
	put(PT, 1, (1ULL << 40) | P);
	/* ... which is fine with 52 bits (and maps outside this memory). */
	assert_int_equal(gw_translate(&mem, PML4, 0x1000, NULL, &r), 0);
	assert_int_equal(r.phys, 1ULL << 40);
}

static void test_tables_outside_memory(void **state)
{
	struct gw_result r;

	/* CR3 itself outside memory. */
	assert_int_equal(gw_translate(&mem, 0x7ffff000ULL, 0x1000, NULL, &r), -EFAULT);
	assert_int_equal(r.fault, GW_BAD_TABLE);
	assert_int_equal(r.fault_level, 4);
	assert_int_equal(r.n_steps, 1);
	/* A PDPT far away, and one at the very top of the physical space. */
	put(PML4, 0, 0x7fff00000000ULL | P | W);
	assert_int_equal(gw_translate(&mem, PML4, 0x1000, NULL, &r), -EFAULT);
	assert_int_equal(r.fault, GW_BAD_TABLE);
	assert_int_equal(r.fault_level, 3);
	assert_int_equal(r.steps[1].table, 0x7fff00000000ULL);
	put(PML4, 0, 0x000ffffffffff000ULL | P | W);
	assert_int_equal(gw_translate(&mem, PML4, 0xff8ULL << 27, NULL, &r), -EFAULT);
	assert_int_equal(r.fault, GW_BAD_TABLE);
}


/* --- the CPU's walk: rights, error codes, accessed/dirty ------------------- */

#define A  X86_PTE_A
#define D  X86_PTE_D
#define ACC_W GW_ACC_WRITE
#define ACC_U GW_ACC_USER
#define ACC_X GW_ACC_FETCH

static uint64_t get(uint64_t table, unsigned index)
{
	uint64_t e;
	memcpy(&e, fm.bytes + table + 8 * index, 8);
	return e;
}

/* The #PF error code of one access, or -1 when it is allowed. */
static long walk_error(uint64_t v, unsigned access, const struct gw_config *cfg)
{
	struct gw_result r;
	int ret = gw_walk(&mem, PML4, v, access, cfg, false, &r);
	if (ret == 0)
		return -1;
	assert_int_equal(ret, -EFAULT);
	return r.error;
}

static void test_walk_rights_and_error_codes(void **state)
{
	static const struct gw_config wp = { .phys_bits = 52, .nxe = true, .wp = true };
	static const struct gw_config no_wp = { .phys_bits = 52, .nxe = true, .wp = false };
	static const struct gw_config no_nxe = { .phys_bits = 52, .wp = true };
	uint64_t v = 0x7000;

	/* A supervisor read-only page. */
	map_4k(v, 0x5000, P | W | U, P);
	assert_int_equal(walk_error(v, 0, &wp), -1);
	assert_int_equal(walk_error(v, ACC_U, &wp), X86_PF_PROT | X86_PF_USER);
	assert_int_equal(walk_error(v, ACC_W, &wp), X86_PF_PROT | X86_PF_WRITE);
	/* CR0.WP = 0: the supervisor may write it, user code still may not. */
	assert_int_equal(walk_error(v, ACC_W, &no_wp), -1);
	map_4k(v, 0x5000, P | W | U, P | U);
	assert_int_equal(walk_error(v, ACC_W | ACC_U, &no_wp), X86_PF_PROT | X86_PF_WRITE | X86_PF_USER);
	/* NX: a fetch faults with I/D; without EFER.NXE there is no NX and no I/D. */
	map_4k(v, 0x5000, P | W | U, P | U | NX);
	assert_int_equal(walk_error(v, ACC_X | ACC_U, &wp), X86_PF_PROT | X86_PF_USER | X86_PF_INSTR);
	assert_int_equal(walk_error(v, ACC_U, &wp), -1);
	map_4k(v, 0x5000, P | W | U, P | U);
	assert_int_equal(walk_error(v, ACC_X | ACC_U, &no_nxe), -1);
	/* Not present: P clear in the code, I/D only with NXE. */
	put(PT, idx(v, 1), 0);
	assert_int_equal(walk_error(v, ACC_X | ACC_U, &wp), X86_PF_USER | X86_PF_INSTR);
	assert_int_equal(walk_error(v, ACC_X | ACC_U, &no_nxe), X86_PF_USER);
	assert_int_equal(walk_error(v, ACC_W, &wp), X86_PF_WRITE);
	/* A reserved bit: P and RSVD, whatever the rights would say. */
	put(PT, idx(v, 1), 0x5000 | P | U | NX);
	assert_int_equal(walk_error(v, ACC_U, &no_nxe), X86_PF_PROT | X86_PF_RSVD | X86_PF_USER);
	/* A table the reader refuses: not present. */
	put(PD, idx(v, 2), 0x7fff0000000ULL | P | W | U);
	assert_int_equal(walk_error(v, ACC_W | ACC_U, &wp), X86_PF_WRITE | X86_PF_USER);
	/* U must be set at every level for user access. */
	map_4k(v, 0x5000, P | W | U, P | W | U);
	put(PDPT, idx(v, 3), PD | P | W);
	assert_int_equal(walk_error(v, ACC_U, &wp), X86_PF_PROT | X86_PF_USER);
	assert_int_equal(walk_error(v, ACC_W, &wp), -1);
}

static void test_walk_sets_accessed_dirty(void **state)
{
	uint64_t v = 0x7000;
	struct gw_result r;

	map_4k(v, 0x5000, P | W | U, P | W | U);
	/* A read sets A everywhere, D nowhere, and reports the entries as updated. */
	assert_int_equal(gw_walk(&mem_ad, PML4, v, ACC_U, NULL, true, &r), 0);
	assert_int_equal(get(PML4, idx(v, 4)), PDPT | P | W | U | A);
	assert_int_equal(get(PDPT, idx(v, 3)), PD | P | W | U | A);
	assert_int_equal(get(PD, idx(v, 2)), PT | P | W | U | A);
	assert_int_equal(get(PT, idx(v, 1)), 0x5000 | P | W | U | A);
	assert_int_equal(r.steps[3].entry, 0x5000 | P | W | U | A);
	/* A write sets D in the leaf only. */
	assert_int_equal(gw_walk(&mem_ad, PML4, v, ACC_W, NULL, true, &r), 0);
	assert_int_equal(get(PT, idx(v, 1)), 0x5000 | P | W | U | A | D);
	assert_int_equal(get(PD, idx(v, 2)), PT | P | W | U | A);
	/* A large page is the leaf: D goes there. */
	put(PDPT, 1, 0x40000000ULL | P | W | PS);
	assert_int_equal(gw_walk(&mem_ad, PML4, 0x40001000ULL, ACC_W, NULL, true, &r), 0);
	assert_int_equal(get(PDPT, 1), 0x40000000ULL | P | W | PS | A | D);
	/* A fault sets nothing; nor does a walk without set_ad or without set_bits. */
	map_4k(v, 0x5000, P | W | U, P | U);
	assert_int_equal(gw_walk(&mem_ad, PML4, v, ACC_W | ACC_U, NULL, true, &r), -EFAULT);
	assert_int_equal(r.fault, GW_PROTECTION);
	assert_int_equal(get(PT, idx(v, 1)), 0x5000 | P | U);
	assert_int_equal(get(PML4, idx(v, 4)), PDPT | P | W | U);
	assert_int_equal(gw_walk(&mem_ad, PML4, v, ACC_U, NULL, false, &r), 0);
	assert_int_equal(gw_walk(&mem, PML4, v, ACC_U, NULL, true, &r), 0);
	assert_int_equal(get(PT, idx(v, 1)), 0x5000 | P | U);
}

/* --- enumeration ---------------------------------------------------------- */

#define MAX_GOT 16
struct got {
	struct gw_range r[MAX_GOT];
	unsigned n;
};

static int collect(void *opaque, const struct gw_range *r)
{
	struct got *g = opaque;
	if (g->n == MAX_GOT)
		return -ENOSPC;
	g->r[g->n++] = *r;
	return 0;
}

/* An identity map of the first 8 MiB with 2 MiB pages, like vmmd's boot map. */
static void identity_2m(unsigned pages, uint64_t flags)
{
	put(PML4, 0, PDPT | P | W);
	put(PDPT, 0, PD | P | W);
	for (unsigned i = 0; i < pages; i++)
		put(PD, i, ((uint64_t) i << 21) | PS | flags);
}

static void test_enum_coalesces(void **state)
{
	struct got g = { 0 };
	struct gw_enum_result res;

	identity_2m(4, P | W);
	assert_int_equal(gw_enumerate(&mem, PML4, 0, ~0ULL, NULL, 100, 1u << 20, collect, &g, &res), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].virt, 0);
	assert_int_equal(g.r[0].phys, 0);
	assert_int_equal(g.r[0].size, 8u << 20);
	assert_true(g.r[0].writable && !g.r[0].user && !g.r[0].nx);
	assert_false(res.truncated);
	assert_int_equal(res.ranges, 1);
}

static void test_enum_splits_on_rights_and_gaps(void **state)
{
	struct got g = { 0 };
	struct gw_enum_result res;

	identity_2m(4, P | W);
	put(PD, 1, (1ULL << 21) | PS | P);          /* read-only */
	put(PD, 3, (9ULL << 21) | PS | P | W);      /* not physically contiguous */
	put(PD, 6, (6ULL << 21) | PS | P | W);      /* after a gap */
	/* A 4 KiB page in the upper half, reported after the lower half. */
	put(PML4, 511, PDPT | P | W);
	assert_int_equal(gw_enumerate(&mem, PML4, 0, ~0ULL, NULL, 100, 1u << 20, collect, &g, &res), 0);
	assert_int_equal(g.n, 10);
	assert_int_equal(g.r[0].size, 2u << 20);
	assert_false(g.r[1].writable);
	assert_int_equal(g.r[1].virt, 2u << 20);
	assert_int_equal(g.r[2].virt, 4u << 20);
	assert_int_equal(g.r[3].phys, 9ULL << 21);
	assert_int_equal(g.r[4].virt, 12u << 20);
	/* PML4[511] -> the same PDPT: the upper half repeats the lower one's first GiB. */
	assert_int_equal(g.r[5].virt, 0xffffff8000000000ULL);
	assert_int_equal(g.r[5].phys, 0);
}

static void test_enum_from_to_and_limit(void **state)
{
	struct got g = { 0 };
	struct gw_enum_result res;

	identity_2m(4, P | W);
	put(PD, 1, (1ULL << 21) | PS | P);
	/* from/to clip large pages. */
	assert_int_equal(gw_enumerate(&mem, PML4, 0x100000, 0x2fffff, NULL, 100, 1u << 20, collect, &g, &res), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[0].virt, 0x100000);
	assert_int_equal(g.r[0].phys, 0x100000);
	assert_int_equal(g.r[0].size, 0x100000);
	assert_int_equal(g.r[1].virt, 0x200000);
	assert_int_equal(g.r[1].size, 0x100000);
	/* limit: one range, then continue from next. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_enumerate(&mem, PML4, 0, ~0ULL, NULL, 1, 1u << 20, collect, &g, &res), 0);
	assert_int_equal(g.n, 1);
	assert_true(res.truncated);
	assert_int_equal(res.next, 2u << 20);
	assert_int_equal(gw_enumerate(&mem, PML4, res.next, ~0ULL, NULL, 1, 1u << 20, collect, &g, &res), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[1].virt, 2u << 20);
	assert_true(res.truncated);
	assert_int_equal(res.next, 4u << 20);
	assert_int_equal(gw_enumerate(&mem, PML4, 1, 0, NULL, 1, 1u << 20, collect, &g, &res), -EINVAL);
}

static int count_only(void *opaque, const struct gw_range *r)
{
	(*(uint64_t *) opaque)++;
	return 0;
}

static void test_enum_hostile_budget(void **state)
{
	struct got g = { 0 };
	struct gw_enum_result res;
	uint64_t n = 0;

	/* Every entry of one table points at that table: 512^4 4 KiB leaves
	 * (and the same table as PT maps itself). The budget ends it. */
	for (unsigned i = 0; i < 512; i++)
		put(PML4, i, PML4 | P | W);
	assert_int_equal(gw_enumerate(&mem, PML4, 0, ~0ULL, NULL, ~0ULL, 5000, count_only, &n, &res), 0);
	assert_true(res.truncated);
	assert_int_equal(res.entries, 5000);
	assert_true(n >= 1 && n == res.ranges);
	assert_true(res.next > 0);
	/* Tables outside memory and reserved entries are skipped, not fatal. */
	reset(state);
	put(PML4, 0, 0x7fff0000000ULL | P);
	put(PML4, 1, PDPT | P | PS);
	put(PML4, 2, PDPT | P | W);
	put(PDPT, 0, (1ULL << 30) | P | PS);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_enumerate(&mem, PML4, 0, ~0ULL, NULL, 100, 1u << 20, collect, &g, &res), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].virt, 2ULL << 39);
	assert_int_equal(g.r[0].size, 1u << 30);
	assert_false(res.truncated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_4k_page, reset),
		cmocka_unit_test_setup(test_2m_page, reset),
		cmocka_unit_test_setup(test_1g_page, reset),
		cmocka_unit_test_setup(test_rights_combine, reset),
		cmocka_unit_test_setup(test_not_present_each_level, reset),
		cmocka_unit_test_setup(test_non_canonical, reset),
		cmocka_unit_test_setup(test_upper_half, reset),
		cmocka_unit_test_setup(test_reserved_bits, reset),
		cmocka_unit_test_setup(test_tables_outside_memory, reset),
		cmocka_unit_test_setup(test_walk_rights_and_error_codes, reset),
		cmocka_unit_test_setup(test_walk_sets_accessed_dirty, reset),
		cmocka_unit_test_setup(test_enum_coalesces, reset),
		cmocka_unit_test_setup(test_enum_splits_on_rights_and_gaps, reset),
		cmocka_unit_test_setup(test_enum_from_to_and_limit, reset),
		cmocka_unit_test_setup(test_enum_hostile_budget, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
