/* SPDX-License-Identifier: MIT */
/*
 * The shadow MMU (vmmd/shadow/shadow_mmu.c and friends) on fake machine
 * memory: guest frames (identity or scattered) + a monitor page + the pool.
 * Guest page tables are built in fake guest memory through the physmap, the
 * "CPU" is the test: it reports #PFs the way hardware would at CPL3 and
 * reads the shadow tables back through the inspection interface.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmmd/shadow/shadow_mmu.h"
#include "vmmd/shadow/vcpu_model.h"

#define P   (1ULL << 0)
#define W   (1ULL << 1)
#define U   (1ULL << 2)
#define A   (1ULL << 5)
#define D   (1ULL << 6)
#define PS  (1ULL << 7)
#define NX  (1ULL << 63)
#define ADDR 0x000ffffffffff000ULL

/* #PF error code bits. The real CPU runs the guest at CPL3: U always set. */
#define E_P    1u
#define E_W    2u
#define E_U    4u
#define E_RSVD 8u
#define E_ID   16u
#define HW_READ  E_U
#define HW_WRITE (E_U | E_W)
#define HW_FETCH (E_U | E_ID)

#define GUEST_PAGES   1024ULL                 /* 4 MiB of guest RAM */
#define MON_MFN       GUEST_PAGES
#define POOL_MFN      (GUEST_PAGES + 1)
#define MAX_POOL      64
#define MACHINE_PAGES (POOL_MFN + MAX_POOL)
#define MON_PML4E     ((MON_MFN * 4096) | P | W)   /* supervisor-only */
#define TABLES_END    0x100000ULL             /* guest tables below 1 MiB, data above */

#define CR3_A 0x1000ULL
#define CR3_B 0x2000ULL

struct fixture {
	struct machine_memory mm;
	struct physmap pm;
	struct smmu *s;
	uint64_t next_table;
};

static struct fixture fx;
static unsigned fx_monitor_slot;   /* 0: the default (510) */

/* The guest CPU's paging facts the next setup gives the MMU (0: 52 bits, 1 GiB pages). */
static unsigned cpu_phys_bits;
static bool cpu_no_1g;
static bool user_nx_in_kernel_root;   /* for the next setup too */

static void setup_full(enum smmu_strategy strategy, unsigned pool_pages, unsigned max_roots, uint64_t seed,
		       unsigned zap_group, unsigned prefetch)
{
	struct smmu_config cfg = {
		.strategy = strategy,
		.pool_mpa = POOL_MFN * 4096,
		.pool_pages = pool_pages,
		.monitor_pml4e = MON_PML4E,
		.max_roots = max_roots,
		.phys_bits = cpu_phys_bits,
		.no_1g = cpu_no_1g,
		.user_nx_in_kernel_root = user_nx_in_kernel_root,
		.monitor_slot = fx_monitor_slot,
		.zap_group = zap_group,
		.prefetch = prefetch,
	};

	memset(&fx, 0, sizeof(fx));
	fx.mm.size = MACHINE_PAGES * 4096;
	fx.mm.host = calloc(1, fx.mm.size);
	assert_non_null(fx.mm.host);
	assert_int_equal(physmap_init(&fx.pm, GUEST_PAGES, MACHINE_PAGES, seed), 0);
	assert_int_equal(smmu_new(&fx.mm, &fx.pm, &cfg, &fx.s), 0);
	fx.next_table = 0x3000;      /* 0x1000, 0x2000: the PML4s of spaces A and B */
}

static void setup_with(enum smmu_strategy strategy, unsigned pool_pages, unsigned max_roots, uint64_t seed,
		       unsigned zap_group)
{
	setup_full(strategy, pool_pages, max_roots, seed, zap_group, 1);
}

static void setup(enum smmu_strategy strategy)
{
	setup_with(strategy, MAX_POOL, 4, 0, 1);
}

static int teardown(void **state)
{
	cpu_phys_bits = 0;
	cpu_no_1g = false;
	user_nx_in_kernel_root = false;
	smmu_free(fx.s);
	physmap_free(&fx.pm);
	free(fx.mm.host);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* --- guest memory and page tables ------------------------------------------ */

static uint64_t *gptr(uint64_t gpa)
{
	uint64_t *p = physmap_guest_ptr(&fx.pm, &fx.mm, gpa, 8);
	assert_non_null(p);
	return p;
}

static uint64_t gget(uint64_t gpa)
{
	return *gptr(gpa);
}

static void gset(uint64_t gpa, uint64_t v)
{
	*gptr(gpa) = v;
}

static unsigned idx(uint64_t va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

static uint64_t entry_gpa(uint64_t table, uint64_t va, int level)
{
	return table + 8 * idx(va, level);
}

/* Map va -> gpa in the tables rooted at cr3, with a leaf at leaf_level (1: 4 KiB,
 * 2: 2 MiB, 3: 1 GiB); missing tables are made with tflags. Returns the leaf's gpa. */
static uint64_t map(uint64_t cr3, uint64_t va, uint64_t gpa, int leaf_level, uint64_t tflags, uint64_t lflags)
{
	uint64_t table = cr3;

	for (int level = 4; level > leaf_level; level--) {
		uint64_t e = gget(entry_gpa(table, va, level));
		if (!(e & P)) {
			e = fx.next_table | tflags;
			fx.next_table += 4096;
			assert_true(fx.next_table <= TABLES_END);
			gset(entry_gpa(table, va, level), e);
		}
		table = e & ADDR;
	}
	gset(entry_gpa(table, va, leaf_level), gpa | lflags | (leaf_level > 1 ? PS : 0));
	return entry_gpa(table, va, leaf_level);
}

/* The table at `level` on va's path (level 4 = cr3). */
static uint64_t table_of(uint64_t cr3, uint64_t va, int level)
{
	uint64_t table = cr3;

	for (int l = 4; l > level; l--)
		table = gget(entry_gpa(table, va, l)) & ADDR;
	return table;
}

static uint64_t mpa_of(uint64_t gpa)
{
	return physmap_gpa_to_mpa(&fx.pm, gpa);
}

/* --- the "CPU" ------------------------------------------------------------- */

static struct smmu_fault fault(uint64_t cr3, bool user, uint64_t va, uint32_t hw, bool wp, bool nxe)
{
	struct smmu_fault f;

	memset(&f, 0xa5, sizeof(f));
	assert_int_equal(smmu_page_fault(fx.s, cr3, user, va, hw, wp, nxe, &f), 0);
	return f;
}

static void filled(uint64_t cr3, bool user, uint64_t va, uint32_t hw)
{
	assert_int_equal(fault(cr3, user, va, hw, true, true).kind, SMMU_FAULT_FILLED);
}

static void guest_fault(uint64_t cr3, bool user, uint64_t va, uint32_t hw, bool wp, bool nxe, uint32_t error)
{
	struct smmu_fault f = fault(cr3, user, va, hw, wp, nxe);

	assert_int_equal(f.kind, SMMU_FAULT_GUEST);
	assert_int_equal(f.guest_error, error);
}

struct found {
	unsigned n;
	struct smmu_mapping m[64];
};

static int collect(void *userdata, const struct smmu_mapping *m)
{
	struct found *f = userdata;

	if (f->n < 64)
		f->m[f->n] = *m;
	f->n++;
	return 0;
}

/* The shadow leaf for va in root (cr3, user); false when there is none. */
static bool shadow(uint64_t cr3, bool user, uint64_t va, struct smmu_mapping *ret)
{
	struct found f = { 0 };
	int r = smmu_foreach_mapping(fx.s, cr3, user, va & ~0xfffULL, va | 0xfff, collect, &f);

	if (r == -ENOENT)
		return false;
	assert_int_equal(r, 0);
	assert_true(f.n <= 1);
	if (f.n && ret)
		*ret = f.m[0];
	return f.n == 1;
}

static uint64_t shadow_flags(uint64_t cr3, bool user, uint64_t va)
{
	struct smmu_mapping m;

	assert_true(shadow(cr3, user, va, &m));
	return m.flags;
}

static struct smmu_stats stats(void)
{
	struct smmu_stats st;

	smmu_get_stats(fx.s, &st);
	return st;
}

static uint64_t root_entry(uint64_t root_mpa, unsigned slot)
{
	uint64_t *t = machine_ptr(&fx.mm, root_mpa, 4096);

	assert_non_null(t);
	return t[slot];
}

/* --- tests ------------------------------------------------------------------- */

static void check_fill_4k(void)
{
	uint64_t va = 0x00007f0000201000ULL, gpa = 0x180000, leaf;
	struct smmu_mapping m;

	leaf = map(CR3_A, va, gpa, 1, P | W | U, P | W | U);
	smmu_load_root(fx.s, CR3_A, false);

	/* A read fills read-only (D clear) and sets A on every level, not D. */
	filled(CR3_A, false, va + 0x10, HW_READ);
	assert_true(shadow(CR3_A, false, va, &m));
	assert_int_equal(m.va, va);
	assert_int_equal(m.size, 4096);
	assert_int_equal(m.mpa, mpa_of(gpa));
	assert_int_equal(m.flags & (P | W | U | NX), P | U);
	assert_int_equal(m.guest_pte_gpa, leaf);
	assert_int_equal(m.guest_pte, gpa | P | W | U | A);
	for (int level = 4; level >= 1; level--) {
		uint64_t e = gget(entry_gpa(table_of(CR3_A, va, level), va, level));
		assert_true(e & A);
		assert_false(e & D);
	}
	assert_int_equal(stats().fills, 1);

	/* The first write faults (the shadow is read-only), sets D, upgrades W. */
	filled(CR3_A, false, va, HW_WRITE | E_P);
	assert_int_equal(gget(leaf), gpa | P | W | U | A | D);
	assert_int_equal(shadow_flags(CR3_A, false, va) & (P | W | U), P | W | U);
	/* D only on the leaf. */
	for (int level = 4; level >= 2; level--)
		assert_false(gget(entry_gpa(table_of(CR3_A, va, level), va, level)) & D);
	assert_int_equal(stats().fills, 2);
}

static void test_fill_4k(void **state)
{
	setup(SMMU_VTLB);
	check_fill_4k();
}

static void test_fill_2m(void **state)
{
	uint64_t va = 0x0000000040000000ULL, gpa = 0x200000, pde;
	struct smmu_mapping m;

	setup(SMMU_CACHED);
	pde = map(CR3_A, va, gpa, 2, P | W | U, P | W);
	smmu_load_root(fx.s, CR3_A, false);

	filled(CR3_A, false, va + 0x5123, HW_READ);
	assert_true(shadow(CR3_A, false, va + 0x5000, &m));
	assert_int_equal(m.mpa, mpa_of(gpa + 0x5000));
	assert_int_equal(m.size, 4096);
	assert_int_equal(m.guest_pte_gpa, pde);
	assert_int_equal(m.flags & (P | W | U), P | U);
	/* Shadowed 4 KiB at a time: the next piece is not there yet. */
	assert_false(shadow(CR3_A, false, va + 0x6000, NULL));
	assert_int_equal(gget(pde), gpa | PS | P | W | A);

	filled(CR3_A, false, va + 0x1fffff, HW_WRITE);
	assert_int_equal(gget(pde), gpa | PS | P | W | A | D);
	assert_true(shadow(CR3_A, false, va + 0x1ff000, &m));
	assert_int_equal(m.mpa, mpa_of(gpa + 0x1ff000));
	assert_true(m.flags & W);
	/* The earlier piece stays read-only until written (D was clear then). */
	assert_false(shadow_flags(CR3_A, false, va + 0x5000) & W);
	filled(CR3_A, false, va + 0x5000, HW_WRITE | E_P);
	assert_true(shadow_flags(CR3_A, false, va + 0x5000) & W);
	assert_int_equal(stats().fills, 3);

	/* A supervisor page: absent from the user root. */
	guest_fault(CR3_A, true, va, HW_READ, true, true, E_P | E_U);
}

static void test_fill_1g(void **state)
{
	uint64_t va = 0x0000008000000000ULL;     /* PML4 slot 1 */
	struct smmu_mapping m;
	struct smmu_fault f;

	setup(SMMU_VTLB);
	map(CR3_A, va, 0, 3, P | W | U, P | W | U);
	smmu_load_root(fx.s, CR3_A, true);
	filled(CR3_A, true, va + 0x3456, HW_READ);
	assert_true(shadow(CR3_A, true, va + 0x3000, &m));
	assert_int_equal(m.mpa, mpa_of(0x3000));
	assert_int_equal(m.guest_pte_gpa, entry_gpa(table_of(CR3_A, va, 3), va, 3));
	/* Beyond guest RAM inside the same 1 GiB page: MMIO. */
	f = fault(CR3_A, true, va + 0x10000008, HW_READ, true, true);
	assert_int_equal(f.kind, SMMU_FAULT_MMIO);
	assert_int_equal(f.gpa, 0x10000008);
}

static void test_kernel_and_user_roots(void **state)
{
	uint64_t sup = 0x0000000000400000ULL, usr = 0x0000000000401000ULL, ro = 0x0000000000402000ULL;

	setup(SMMU_VTLB);
	map(CR3_A, sup, 0x181000, 1, P | W | U, P | W | D);
	map(CR3_A, usr, 0x182000, 1, P | W | U, P | W | U | D);
	map(CR3_A, ro, 0x183000, 1, P | W | U, P | U | D);

	/* Kernel root: every guest-present page, as real-user pages. */
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, sup, HW_WRITE);
	assert_int_equal(shadow_flags(CR3_A, false, sup) & (P | W | U), P | W | U);
	filled(CR3_A, false, usr, HW_READ);
	assert_int_equal(shadow_flags(CR3_A, false, usr) & (P | W | U), P | W | U);

	/* User root: the user page only; the supervisor page faults for the guest. */
	smmu_load_root(fx.s, CR3_A, true);
	guest_fault(CR3_A, true, sup, HW_READ, true, true, E_P | E_U);
	guest_fault(CR3_A, true, sup, HW_WRITE, true, true, E_P | E_W | E_U);
	assert_false(shadow(CR3_A, true, sup, NULL));
	filled(CR3_A, true, usr, HW_WRITE);
	assert_int_equal(shadow_flags(CR3_A, true, usr) & (P | W | U), P | W | U);

	/* A read-only page: never W for user code, whatever CR0.WP says. */
	filled(CR3_A, true, ro, HW_READ);
	assert_int_equal(shadow_flags(CR3_A, true, ro) & (P | W | U), P | U);
	guest_fault(CR3_A, true, ro, HW_WRITE | E_P, false, true, E_P | E_W | E_U);
	assert_false(shadow_flags(CR3_A, true, ro) & W);

	/* The guest kernel with CR0.WP = 1 faults on it too; with WP = 0 it writes. */
	smmu_load_root(fx.s, CR3_A, false);
	guest_fault(CR3_A, false, ro, HW_WRITE, true, true, E_P | E_W);
	assert_int_equal(fault(CR3_A, false, ro, HW_WRITE, false, true).kind, SMMU_FAULT_FILLED);
	assert_true(shadow_flags(CR3_A, false, ro) & W);
	assert_false(shadow_flags(CR3_A, true, ro) & W);
	assert_int_equal(stats().guest_faults, 4);
}

static void test_nx(void **state)
{
	uint64_t va = 0x0000000000600000ULL, leaf;

	setup(SMMU_VTLB);
	leaf = map(CR3_A, va, 0x184000, 1, P | W | U, P | U | NX);
	smmu_load_root(fx.s, CR3_A, false);

	/* With EFER.NXE: a fetch faults (I/D set), data is mapped NX. */
	guest_fault(CR3_A, false, va, HW_FETCH, true, true, E_P | E_ID);
	guest_fault(CR3_A, true, va, HW_FETCH, true, true, E_P | E_U | E_ID);
	assert_int_equal(gget(leaf) & A, 0);         /* no A for a faulting access */
	filled(CR3_A, false, va, HW_READ);
	assert_true(shadow_flags(CR3_A, false, va) & NX);

	/* Without NXE, bit 63 is reserved. */
	guest_fault(CR3_A, false, va, HW_READ, true, false, E_P | E_RSVD);
	guest_fault(CR3_A, true, va, HW_FETCH & ~E_ID, true, false, E_P | E_RSVD | E_U);

	/* Without NXE and without NX in the guest: executable, no NX in the shadow. */
	gset(leaf, 0x184000 | P | U);
	smmu_invlpg(fx.s, CR3_A, va);
	assert_int_equal(fault(CR3_A, false, va, HW_FETCH, true, false).kind, SMMU_FAULT_FILLED);
	assert_false(shadow_flags(CR3_A, false, va) & NX);
	/* An NX upper level makes the page NX too. */
	gset(entry_gpa(CR3_A, va, 4), gget(entry_gpa(CR3_A, va, 4)) | NX);
	smmu_invlpg(fx.s, CR3_A, va);
	guest_fault(CR3_A, false, va, HW_FETCH, true, true, E_P | E_ID);
	filled(CR3_A, false, va, HW_READ);
	assert_true(shadow_flags(CR3_A, false, va) & NX);
}

static void test_mmio(void **state)
{
	uint64_t va = 0x0000000000800000ULL;
	struct smmu_fault f;

	setup(SMMU_CACHED);
	map(CR3_A, va, 0xfee00000ULL, 1, P | W | U, P | W | D);
	map(CR3_A, va + 0x1000, GUEST_PAGES * 4096, 1, P | W | U, P | W);
	smmu_load_root(fx.s, CR3_A, false);

	f = fault(CR3_A, false, va + 0x30, HW_WRITE, true, true);
	assert_int_equal(f.kind, SMMU_FAULT_MMIO);
	assert_int_equal(f.gpa, 0xfee00030ULL);
	f = fault(CR3_A, false, va + 0x1000, HW_READ, true, true);
	assert_int_equal(f.kind, SMMU_FAULT_MMIO);
	assert_int_equal(f.gpa, GUEST_PAGES * 4096);
	/* Never mapped: every access faults again. */
	assert_false(shadow(CR3_A, false, va, NULL));
	assert_int_equal(stats().mmio_faults, 2);
	assert_int_equal(stats().fills, 0);
	/* But the guest's A/D bits are kept as the hardware would. */
	assert_true(gget(entry_gpa(table_of(CR3_A, va, 1), va + 0x1000, 1)) & A);
}

static void test_guest_error_codes(void **state)
{
	uint64_t va = 0x0000000000a00000ULL, leaf, pde, pt;
	struct gw_result w;

	setup(SMMU_VTLB);
	smmu_load_root(fx.s, CR3_A, false);

	/* Not present at the PML4: error = access bits only. */
	guest_fault(CR3_A, false, va, HW_READ, true, true, 0);
	guest_fault(CR3_A, false, va, HW_WRITE, true, true, E_W);
	guest_fault(CR3_A, true, va, HW_READ, true, true, E_U);
	guest_fault(CR3_A, true, va, HW_WRITE, true, true, E_U | E_W);
	guest_fault(CR3_A, false, va, HW_FETCH, true, true, E_ID);
	guest_fault(CR3_A, true, va, HW_FETCH, true, true, E_U | E_ID);
	guest_fault(CR3_A, true, va, HW_FETCH, true, false, E_U);   /* I/D only with NXE */

	/* Not present at each lower level. */
	leaf = map(CR3_A, va, 0x185000, 1, P | W | U, P | W | U);
	pde = entry_gpa(table_of(CR3_A, va, 2), va, 2);
	pt = table_of(CR3_A, va, 1);
	gset(leaf, 0x185000);
	guest_fault(CR3_A, true, va, HW_WRITE, true, true, E_U | E_W);
	gset(leaf, 0x185000 | P | W | U);
	gset(pde, gget(pde) & ~P);
	guest_fault(CR3_A, false, va, HW_READ, true, true, 0);
	gset(pde, gget(pde) | P);

	/* Protection: U clear at an upper level only. */
	gset(pde, gget(pde) & ~U);
	guest_fault(CR3_A, true, va, HW_READ, true, true, E_P | E_U);
	gset(pde, gget(pde) | U);
	/* W clear at an upper level: user write faults, supervisor only with WP. */
	gset(pde, gget(pde) & ~W);
	guest_fault(CR3_A, true, va, HW_WRITE, false, true, E_P | E_W | E_U);
	guest_fault(CR3_A, false, va, HW_WRITE, true, true, E_P | E_W);
	filled(CR3_A, false, va, HW_READ);
	gset(pde, gget(pde) | W);

	/* Reserved: PS in a PML4 entry; low address bits of a 2 MiB page. */
	gset(entry_gpa(CR3_A, va, 4), gget(entry_gpa(CR3_A, va, 4)) | PS);
	guest_fault(CR3_A, true, va, HW_READ, true, true, E_P | E_RSVD | E_U);
	gset(entry_gpa(CR3_A, va, 4), gget(entry_gpa(CR3_A, va, 4)) & ~PS);
	gset(pde, 0x202000 | PS | P | W | U);
	guest_fault(CR3_A, false, va, HW_WRITE, true, true, E_P | E_RSVD | E_W);
	gset(pde, 0x201000 | PS | P | W | U);   /* bit 12 is PAT: fine */
	filled(CR3_A, false, va, HW_READ);

	/* A table outside guest RAM reads as not present. */
	gset(pde, (GUEST_PAGES * 4096) | P | W | U);
	guest_fault(CR3_A, false, va, HW_READ, true, true, 0);
	assert_int_equal(smmu_guest_walk(fx.s, GUEST_PAGES * 4096, 0, 0, true, true, false, &w),
			 -EFAULT);
	assert_int_equal(w.error, 0);

	/* The exported walk: translation, effective rights, non-canonical. */
	gset(pde, pt | P | W | U);
	assert_int_equal(smmu_guest_walk(fx.s, CR3_A, va + 0x44, SHADOW_ACC_USER | SHADOW_ACC_WRITE,
					 true, true, false, &w), 0);
	assert_int_equal(w.phys, 0x185044);
	assert_int_equal(gw_step_addr(&w.steps[w.n_steps - 1]), leaf);
	assert_int_equal(w.page_size, 4096);
	assert_true(w.user && w.writable && !w.nx);
	assert_false(gget(leaf) & D);        /* set_ad = false */
	assert_int_equal(smmu_guest_walk(fx.s, CR3_A, 0x0000800000000000ULL, 0, true, true, true, &w),
			 -EINVAL);
	assert_int_equal(smmu_page_fault(fx.s, CR3_A, false, 0x0000800000000000ULL, HW_READ, true, true,
					 &(struct smmu_fault) { 0 }), -EINVAL);
}

/* The reserved-bit rule is x86/guest_walk's, with the vCPU's CPUID facts:
 * the same PTE that `vmmctl translate` calls reserved faults the guest. */
static void test_reserved_bits_follow_cpuid(void **state)
{
	uint64_t va = 0x0000000000a00000ULL, leaf;

	cpu_phys_bits = 36;
	cpu_no_1g = true;
	setup(SMMU_CACHED);
	smmu_load_root(fx.s, CR3_A, false);
	leaf = map(CR3_A, va, 0x185000, 1, P | W | U, P | W | U);
	filled(CR3_A, false, va, HW_READ);
	/* An address bit at MAXPHYADDR: reserved, P and RSVD. */
	gset(leaf, (1ULL << 36) | 0x185000 | P | W | U);
	smmu_invlpg(fx.s, CR3_A, va);
	guest_fault(CR3_A, true, va, HW_READ, true, true, E_P | E_RSVD | E_U);
	/* Just below it: a mapping (of MMIO, beyond RAM). */
	gset(leaf, (1ULL << 35) | P | W | U);
	assert_int_equal(fault(CR3_A, true, va, HW_READ, true, true).kind, SMMU_FAULT_MMIO);
	/* A 1 GiB page where CPUID has no PDPE1GB: reserved. */
	gset(entry_gpa(table_of(CR3_A, va, 3), va, 3), 0x40000000ULL | PS | P | W | U);
	guest_fault(CR3_A, false, va, HW_WRITE, true, true, E_P | E_RSVD | E_W);
	teardown(state);

	/* With 52 bits and 1 GiB pages both map. */
	setup(SMMU_CACHED);
	smmu_load_root(fx.s, CR3_A, false);
	leaf = map(CR3_A, va, 0x185000, 1, P | W | U, (1ULL << 36) | P | W | U);
	assert_int_equal(fault(CR3_A, true, va, HW_READ, true, true).kind, SMMU_FAULT_MMIO);
	gset(entry_gpa(table_of(CR3_A, va, 3), va, 3), PS | P | W | U);   /* gpa 0xa00000: beyond RAM */
	assert_int_equal(fault(CR3_A, false, va, HW_READ, true, true).kind, SMMU_FAULT_MMIO);
}

static void test_vtlb_flush_on_cr3_write(void **state)
{
	uint64_t va = 0x0000000000c00000ULL, root;
	struct smmu_mapping m;

	setup(SMMU_VTLB);
	map(CR3_A, va, 0x186000, 1, P | W | U, P | W | U);
	map(CR3_B, va, 0x187000, 1, P | W | U, P | W | U);

	root = smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, va, HW_READ);
	assert_int_equal(shadow(CR3_A, false, va, NULL), true);

	smmu_guest_cr3_write(fx.s, CR3_A, CR3_B);
	assert_int_equal(smmu_load_root(fx.s, CR3_B, false), root);   /* same root page, emptied */
	assert_false(shadow(CR3_A, false, va, NULL));
	assert_false(shadow(CR3_B, false, va, NULL));
	filled(CR3_B, false, va, HW_READ);
	assert_true(shadow(CR3_B, false, va, &m));
	assert_int_equal(m.mpa, mpa_of(0x187000));

	smmu_guest_cr3_write(fx.s, CR3_B, CR3_A);
	smmu_load_root(fx.s, CR3_A, false);
	assert_false(shadow(CR3_A, false, va, NULL));
	filled(CR3_A, false, va, HW_READ);                /* the fill count rises again */
	assert_int_equal(stats().fills, 3);
	assert_int_equal(stats().flushes, 2);
	assert_int_equal(stats().root_loads, 3);
	assert_int_equal(stats().root_cache_misses, 3);     /* a virtual TLB keeps nothing */
	assert_int_equal(stats().root_cache_hits, 0);

	/* Even a write of the same CR3 flushes a virtual TLB. */
	smmu_guest_cr3_write(fx.s, CR3_A, CR3_A);
	assert_false(shadow(CR3_A, false, va, NULL));
}

static void test_cached_keeps_roots(void **state)
{
	uint64_t va = 0x0000000000c00000ULL, ra, rb;
	struct smmu_mapping m;

	setup(SMMU_CACHED);
	map(CR3_A, va, 0x186000, 1, P | W | U, P | W | U);
	map(CR3_B, va, 0x187000, 1, P | W | U, P | W | U);

	ra = smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, va, HW_READ);
	smmu_guest_cr3_write(fx.s, CR3_A, CR3_B);
	rb = smmu_load_root(fx.s, CR3_B, false);
	assert_int_not_equal(ra, rb);
	filled(CR3_B, false, va, HW_READ);

	smmu_guest_cr3_write(fx.s, CR3_B, CR3_A);
	assert_int_equal(smmu_load_root(fx.s, CR3_A, false), ra);
	assert_true(shadow(CR3_A, false, va, &m));      /* still there: no refill */
	assert_int_equal(m.mpa, mpa_of(0x186000));
	assert_true(shadow(CR3_B, false, va, &m));
	assert_int_equal(m.mpa, mpa_of(0x187000));
	assert_int_equal(stats().fills, 2);
	assert_int_equal(stats().root_cache_hits, 1);
	assert_int_equal(stats().root_cache_misses, 2);
	assert_int_equal(stats().flushes, 0);

	/* Only max_roots (4) spaces are kept: the least recently used goes. */
	for (uint64_t cr3 = 0xc0000; cr3 < 0xc4000; cr3 += 0x1000)
		smmu_load_root(fx.s, cr3, false);
	assert_int_equal(stats().flushes, 2);
	assert_false(shadow(CR3_B, false, va, NULL));
	assert_false(shadow(CR3_A, false, va, NULL));
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_B, false, 0, UINT64_MAX, collect, &(struct found) { 0 }),
			 -ENOENT);
}

/* Page T, mapped writable at va_map, becomes a page table for va_use. */
struct wp_setup {
	uint64_t va_map, va_use, t, pte;
};

static struct wp_setup write_protect_setup(void)
{
	struct wp_setup w = { .va_map = 0x0000000001000000ULL, .va_use = 0x0000000001200000ULL, .t = 0x0f0000 };

	map(CR3_A, w.va_map, w.t, 1, P | W | U, P | W | U | D);
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, w.va_map, HW_WRITE);
	assert_true(shadow_flags(CR3_A, false, w.va_map) & W);
	assert_false(smmu_take_tlb_flush(fx.s));

	/* The guest points a PDE at T and maps a page through it. */
	gset(entry_gpa(table_of(CR3_A, w.va_use, 2), w.va_use, 2), w.t | P | W | U);
	w.pte = entry_gpa(w.t, w.va_use, 1);
	gset(w.pte, 0x188000 | P | W | U);
	filled(CR3_A, false, w.va_use, HW_READ);
	return w;
}

static void check_write_protect_and_resync(void)
{
	struct smmu_mapping m;
	struct smmu_fault f;
	struct wp_setup w;
	uint64_t v;

	w = write_protect_setup();
	/* Shadowing T took W away from its existing mapping: flush the TLB. */
	assert_false(shadow_flags(CR3_A, false, w.va_map) & W);
	assert_true(smmu_take_tlb_flush(fx.s));
	assert_false(smmu_take_tlb_flush(fx.s));

	/* A write to T faults as a page-table write, even at CR0.WP = 0. */
	f = fault(CR3_A, false, w.va_map + (w.pte & 0xfff), HW_WRITE | E_P, false, true);
	assert_int_equal(f.kind, SMMU_FAULT_PT_WRITE);
	assert_int_equal(f.gpa, w.pte);
	assert_int_equal(stats().write_protect_faults, 1);
	/* Reads of T are fine and stay read-only. */
	filled(CR3_A, false, w.va_map, HW_READ);
	assert_false(shadow_flags(CR3_A, false, w.va_map) & W);

	/* The engine performs the write: the guest PTE now points elsewhere. */
	assert_true(shadow(CR3_A, false, w.va_use, &m));
	assert_int_equal(m.mpa, mpa_of(0x188000));
	v = 0x189000 | P | W | U;
	assert_int_equal(smmu_pt_write(fx.s, w.pte, &v, 8), 0);
	assert_int_equal(gget(w.pte), v);
	assert_false(shadow(CR3_A, false, w.va_use, NULL));
	/* The old translation may live on until the guest flushes, as in its own TLB. */
	assert_false(smmu_take_tlb_flush(fx.s));
	smmu_tlb_flush(fx.s);
	assert_true(smmu_take_tlb_flush(fx.s));
	filled(CR3_A, false, w.va_use, HW_READ);
	assert_true(shadow(CR3_A, false, w.va_use, &m));
	assert_int_equal(m.mpa, mpa_of(0x189000));
	assert_int_equal(stats().resyncs, 1);

	/* A write of part of an entry re-syncs too; writes elsewhere keep it. */
	v = 0;
	assert_int_equal(smmu_pt_write(fx.s, w.pte + 8, &v, 8), 0);
	assert_true(shadow(CR3_A, false, w.va_use, NULL));
	assert_int_equal(smmu_pt_write(fx.s, w.pte + 4, &v, 2), 0);
	assert_false(shadow(CR3_A, false, w.va_use, NULL));
	/* Writes to pages that are not page tables are plain writes. */
	v = 0x1234;
	assert_int_equal(smmu_pt_write(fx.s, 0x190008, &v, 8), 0);
	assert_int_equal(gget(0x190008), 0x1234);
	assert_int_equal(smmu_pt_write(fx.s, 0x190ffc, &v, 8), -EINVAL);
	assert_int_equal(smmu_pt_write(fx.s, GUEST_PAGES * 4096, &v, 8), -EFAULT);

	/* Changing an upper level drops the whole structure below it. */
	gset(w.pte, 0x188000 | P | W | U);
	filled(CR3_A, false, w.va_use, HW_READ);
	v = 0;
	assert_int_equal(smmu_pt_write(fx.s, entry_gpa(table_of(CR3_A, w.va_use, 2), w.va_use, 2), &v, 8), 0);
	assert_false(shadow(CR3_A, false, w.va_use, NULL));
	guest_fault(CR3_A, false, w.va_use, HW_READ, true, true, 0);
	/* T is no longer a page table anywhere: a write to it now fills, writable. */
	filled(CR3_A, false, w.va_map, HW_WRITE);
	assert_true(shadow_flags(CR3_A, false, w.va_map) & W);
}

static void test_write_protect_and_resync(void **state)
{
	setup(SMMU_CACHED);
	check_write_protect_and_resync();
}

static void test_unshadow_after_repeated_writes(void **state)
{
	struct wp_setup w;
	uint64_t v = 0;

	setup(SMMU_CACHED);
	w = write_protect_setup();
	/* Writes with a use as page table in between: T stays protected. */
	for (int i = 0; i < 7; i++)
		assert_int_equal(smmu_pt_write(fx.s, w.pte + 8, &v, 8), 0);
	smmu_invlpg(fx.s, CR3_A, w.va_use);
	filled(CR3_A, false, w.va_use, HW_READ);
	for (int i = 0; i < 7; i++)
		assert_int_equal(smmu_pt_write(fx.s, w.pte + 8, &v, 8), 0);
	assert_int_equal(stats().unshadowed, 0);
	assert_int_equal(fault(CR3_A, false, w.va_map, HW_WRITE, true, true).kind, SMMU_FAULT_PT_WRITE);

	/* The eighth in a row: T is given up, its shadows with it. */
	assert_int_equal(smmu_pt_write(fx.s, w.pte + 8, &v, 8), 0);
	assert_int_equal(stats().unshadowed, 1);
	assert_false(shadow(CR3_A, false, w.va_use, NULL));
	filled(CR3_A, false, w.va_map, HW_WRITE | E_P);
	assert_true(shadow_flags(CR3_A, false, w.va_map) & W);
	/* Used as a page table again: protected again. */
	filled(CR3_A, false, w.va_use, HW_READ);
	assert_false(shadow_flags(CR3_A, false, w.va_map) & W);
}

/* Updates the guest declares (Xen PV's mmu_update) re-sync like plain
 * writes but never make vmmd give the table up: Linux sets up to 16
 * entries of one table in a row when it maps a file's pages around a fault. */
static void test_declared_updates_keep_shadowing(void **state)
{
	struct smmu_mapping m;
	struct wp_setup w;

	setup(SMMU_CACHED);
	w = write_protect_setup();
	for (int i = 0; i < 16; i++)
		assert_int_equal(smmu_pt_update(fx.s, w.pte + 8, (uint64_t) i << 12, true, true), 0);
	assert_int_equal(gget(w.pte + 8), (uint64_t) (16 - 1) << 12);
	assert_int_equal(stats().unshadowed, 0);
	assert_int_equal(fault(CR3_A, false, w.va_map, HW_WRITE, true, true).kind, SMMU_FAULT_PT_WRITE);
	/* The entry it maps follows the update, as with smmu_pt_write. */
	assert_int_equal(smmu_pt_update(fx.s, w.pte, 0x189000 | P | W | U, true, true), 0);
	assert_false(shadow(CR3_A, false, w.va_use, NULL));
	smmu_tlb_flush(fx.s);
	filled(CR3_A, false, w.va_use, HW_READ);
	assert_true(shadow(CR3_A, false, w.va_use, &m));
	assert_int_equal(m.mpa, mpa_of(0x189000));
	/* Plain writes still give it up after eight in a row. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(smmu_pt_write(fx.s, w.pte + 8, &(uint64_t) { 0 }, 8), 0);
	assert_int_equal(stats().unshadowed, 1);
}

/* A declared update goes straight into the leaf shadows of its table, as
 * the fill it saves would build it; what a fill would refuse stays out. */
static void test_declared_updates_fill(void **state)
{
	uint64_t va = 0x0000000001000000ULL, va2 = va + 0x1000, frame = 0x18a000;
	uint64_t pte, pte2, kpte, kva = 0xffff800000400000ULL;
	struct smmu_mapping m;
	struct smmu_stats st;

	setup(SMMU_CACHED);
	pte = map(CR3_A, va, frame, 1, P | W | U, P | W | U | A | D);
	pte2 = pte + 8;
	smmu_load_root(fx.s, CR3_A, true);
	filled(CR3_A, true, va, HW_WRITE);   /* the table is shadowed now (user root) */
	st = stats();

	/* A new entry: in the shadow at once, writable (A and D set), no fill. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, 0x18b000 | P | W | U | A | D, true, true), 0);
	assert_true(shadow(CR3_A, true, va2, &m));
	assert_int_equal(m.mpa, mpa_of(0x18b000));
	assert_true(m.flags & W);
	assert_int_equal(m.guest_pte_gpa, pte2);
	assert_int_equal(stats().updates_applied, st.updates_applied + 1);
	assert_int_equal(stats().fills, st.fills);
	/* Replacing a present one: the new frame, read-only without D. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, 0x18c000 | P | W | U | A, true, true), 0);
	assert_true(shadow(CR3_A, true, va2, &m));
	assert_int_equal(m.mpa, mpa_of(0x18c000));
	assert_false(m.flags & W);
	/* Without A the guest has not seen it used: left to a fill. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, 0x18b000 | P | W | U | D, true, true), 0);
	assert_false(shadow(CR3_A, true, va2, NULL));
	/* Not present, or cleared: nothing. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, 0x18b000 | A, true, true), 0);
	assert_false(shadow(CR3_A, true, va2, NULL));

	/* Hostile entries get no shadow (a fault, decoded or the guest's, follows). */
	/* A frame beyond guest RAM (MMIO must fault and be decoded), far beyond it. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, (GUEST_PAGES * 4096) | P | W | U | A | D, true, true), 0);
	assert_false(shadow(CR3_A, true, va2, NULL));
	assert_int_equal(smmu_pt_update(fx.s, pte2, (1ULL << 51) | 0x18b000 | P | U | A, true, true), 0);
	assert_false(shadow(CR3_A, true, va2, NULL));
	/* NX while EFER.NXE is clear: a reserved bit. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, 0x18b000 | P | U | A | NX, true, false), 0);
	assert_false(shadow(CR3_A, true, va2, NULL));
	/* A supervisor page in the user root. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, 0x18b000 | P | W | A | D, true, true), 0);
	assert_false(shadow(CR3_A, true, va2, NULL));
	/* A writable mapping of a page table vmmd shadows (the table itself, the
	 * PML4): mapped, but read-only, so every write still traps. */
	assert_int_equal(smmu_pt_update(fx.s, pte2, (pte & ~0xfffULL) | P | W | U | A | D, true, true), 0);
	assert_true(shadow(CR3_A, true, va2, &m));
	assert_false(m.flags & W);
	assert_int_equal(fault(CR3_A, true, va2, HW_WRITE | E_P, true, true).kind, SMMU_FAULT_PT_WRITE);
	assert_int_equal(smmu_pt_update(fx.s, pte2, CR3_A | P | W | U | A | D, true, true), 0);
	assert_true(shadow(CR3_A, true, va2, &m));
	assert_false(m.flags & W);
	/* The path's rights count, not only the entry's: a read-only PDE. */
	assert_int_equal(smmu_pt_update(fx.s, entry_gpa(table_of(CR3_A, va, 2), va, 2),
					 (table_of(CR3_A, va, 1)) | P | U | A, true, true), 0);
	filled(CR3_A, true, va, HW_READ);
	assert_int_equal(smmu_pt_update(fx.s, pte2, 0x18b000 | P | W | U | A | D, true, true), 0);
	assert_true(shadow(CR3_A, true, va2, &m));
	assert_false(m.flags & W);
	/* Misaligned: refused. */
	assert_int_equal(smmu_pt_update(fx.s, pte2 + 4, 0, true, true), -EINVAL);

	/* Kernel root, CR0.WP clear: the kernel may write read-only pages, as in a fill. */
	kpte = map(CR3_A, kva, frame, 1, P | W, P | A);
	smmu_load_root(fx.s, CR3_A, false);
	assert_int_equal(fault(CR3_A, false, kva, HW_READ, false, true).kind, SMMU_FAULT_FILLED);
	assert_int_equal(smmu_pt_update(fx.s, kpte + 8, 0x18d000 | P | A | D, false, true), 0);
	assert_true(shadow_flags(CR3_A, false, kva + 0x1000) & W);
	assert_int_equal(smmu_pt_update(fx.s, kpte + 8, 0x18d000 | P | A | D, true, true), 0);
	assert_false(shadow_flags(CR3_A, false, kva + 0x1000) & W);

	/* VTLB: no table is write-protected, so nothing vouches for the path:
	 * updates only drop. */
	teardown(NULL);
	setup(SMMU_VTLB);
	pte = map(CR3_A, va, frame, 1, P | W | U, P | W | U | A | D);
	smmu_load_root(fx.s, CR3_A, true);
	filled(CR3_A, true, va, HW_READ);
	assert_int_equal(smmu_pt_update(fx.s, pte + 8, 0x18b000 | P | W | U | A | D, true, true), 0);
	assert_false(shadow(CR3_A, true, va2, NULL));
	assert_int_equal(stats().updates_applied, 0);
}

static void test_unshadow_stale_root(void **state)
{
	uint64_t va = 0x0000000001000000ULL, v = 0x1234;

	/* Space B's PML4 page is reused by the guest as data while A runs. */
	setup(SMMU_CACHED);
	map(CR3_B, va, 0x18a000, 1, P | W | U, P | W | U);
	smmu_load_root(fx.s, CR3_B, false);
	filled(CR3_B, false, va, HW_READ);
	map(CR3_A, va, CR3_B, 1, P | W | U, P | W | U | D);
	smmu_load_root(fx.s, CR3_A, false);
	assert_int_equal(fault(CR3_A, false, va, HW_WRITE, true, true).kind, SMMU_FAULT_PT_WRITE);
	/* The first write goes: a PML4 of a space not loaded, written. */
	assert_int_equal(smmu_pt_write(fx.s, CR3_B + 0x800, &v, 8), 0);
	assert_int_equal(stats().unshadowed, 1);
	assert_int_equal(stats().write_protect_faults, 1);
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_B, false, 0, UINT64_MAX, collect, &(struct found) { 0 }),
			 -ENOENT);
	filled(CR3_A, false, va, HW_WRITE);
	assert_true(shadow_flags(CR3_A, false, va) & W);

	/* The current space's own PML4 is never given up. */
	map(CR3_A, va + 0x1000, CR3_A, 1, P | W | U, P | W | U | D);
	for (int i = 0; i < 9; i++)
		assert_int_equal(smmu_pt_write(fx.s, CR3_A + 0x800 + 8 * i, &v, 8), 0);
	assert_int_equal(fault(CR3_A, false, va + 0x1000, HW_WRITE, true, true).kind, SMMU_FAULT_PT_WRITE);
	assert_true(shadow(CR3_A, false, va, NULL));
}

/* An instruction the engine does not emulate writes T: smmu_unprotect lets it run natively. */
static void test_unprotect(void **state)
{
	uint32_t groups[MAX_POOL];
	struct wp_setup w;

	setup(SMMU_CACHED);
	w = write_protect_setup();
	assert_int_equal(fault(CR3_A, false, w.va_map, HW_WRITE | E_P, true, true).kind, SMMU_FAULT_PT_WRITE);
	assert_int_equal(smmu_unprotect(fx.s, w.pte), 0);
	assert_false(shadow(CR3_A, false, w.va_use, NULL));    /* the shadows built from T are gone ... */
	smmu_tlb_flush(fx.s);                                   /* ... and KVM forgets them at the flush */
	assert_true(smmu_take_zaps(fx.s, groups, MAX_POOL) > 0);
	filled(CR3_A, false, w.va_map, HW_WRITE | E_P);         /* the write runs natively */
	assert_true(shadow_flags(CR3_A, false, w.va_map) & W);
	/* Used as a page table again: protected again. */
	filled(CR3_A, false, w.va_use, HW_READ);
	assert_false(shadow_flags(CR3_A, false, w.va_map) & W);
	/* A page that is no table: nothing to do. Outside RAM: refused. */
	assert_int_equal(smmu_unprotect(fx.s, 0x190000), 0);
	assert_int_equal(smmu_unprotect(fx.s, GUEST_PAGES * 4096), -EINVAL);
	/* The loaded root's own PML4 stays protected. */
	assert_int_equal(smmu_unprotect(fx.s, CR3_A + 0x10), -EBUSY);
}

/* Hosts that let a guest return to user mode without a trap: user pages are
 * not executable in the kernel root until the kernel itself fetches from
 * them; supervisor pages and the user root are as the guest says. */
static void test_user_nx_in_kernel_root(void **state)
{
	uint64_t sup = 0x0000000000400000ULL, usr = 0x0000000000401000ULL;

	for (int on = 0; on < 2; on++) {
		user_nx_in_kernel_root = on;
		setup(SMMU_VTLB);
		map(CR3_A, sup, 0x181000, 1, P | W | U, P | W | D);
		map(CR3_A, usr, 0x182000, 1, P | W | U, P | W | U | D);
		smmu_load_root(fx.s, CR3_A, false);
		filled(CR3_A, false, sup, HW_FETCH);
		filled(CR3_A, false, usr, HW_READ);
		assert_false(shadow_flags(CR3_A, false, sup) & NX);
		assert_int_equal((shadow_flags(CR3_A, false, usr) & NX) != 0, on);
		/* A fetch the engine found to be the kernel's own makes it executable. */
		filled(CR3_A, false, usr, HW_FETCH | E_P);
		assert_false(shadow_flags(CR3_A, false, usr) & NX);
		smmu_load_root(fx.s, CR3_A, true);
		filled(CR3_A, true, usr, HW_FETCH);
		assert_false(shadow_flags(CR3_A, true, usr) & NX);
		teardown(NULL);
	}
}

static void test_invlpg(void **state)
{
	uint64_t va = 0x0000000002000000ULL, big = 0x0000000002200000ULL;

	setup(SMMU_VTLB);
	map(CR3_A, va, 0x18a000, 1, P | W | U, P | W | U);
	map(CR3_A, va + 0x1000, 0x18b000, 1, P | W | U, P | W | U);
	map(CR3_A, big, 0x200000, 2, P | W | U, P | W | U);
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, va, HW_READ);
	filled(CR3_A, false, va + 0x1000, HW_READ);
	filled(CR3_A, false, big, HW_READ);
	filled(CR3_A, false, big + 0x7000, HW_READ);
	smmu_load_root(fx.s, CR3_A, true);
	filled(CR3_A, true, va, HW_READ);
	filled(CR3_A, true, va + 0x1000, HW_READ);

	/* One entry, in both roots; the neighbour stays. */
	smmu_invlpg(fx.s, CR3_A, va);
	assert_false(shadow(CR3_A, false, va, NULL));
	assert_false(shadow(CR3_A, true, va, NULL));
	assert_true(shadow(CR3_A, false, va + 0x1000, NULL));
	assert_true(shadow(CR3_A, true, va + 0x1000, NULL));
	assert_int_equal(stats().invlpg, 1);
	assert_true(smmu_take_tlb_flush(fx.s));

	/* A large page goes as a whole: its pieces share one guest entry. */
	smmu_invlpg(fx.s, CR3_A, big + 0x1000);
	assert_false(shadow(CR3_A, false, big, NULL));
	assert_false(shadow(CR3_A, false, big + 0x7000, NULL));
	assert_true(shadow(CR3_A, false, va + 0x1000, NULL));

	/* A changed upper level drops what hangs below it. */
	gset(entry_gpa(table_of(CR3_A, va, 2), va, 2), 0);
	smmu_invlpg(fx.s, CR3_A, va);
	assert_false(shadow(CR3_A, false, va + 0x1000, NULL));
	/* Unknown space or address: nothing to do. */
	smmu_invlpg(fx.s, 0x77000, va);
	smmu_invlpg(fx.s, CR3_A, 0x0000900000000000ULL);
}

/* The pool page holding root's leaf for va (-1: none), read from the pool itself. */
static int leaf_page(uint64_t root_mpa, uint64_t va)
{
	uint64_t mpa = root_mpa;

	for (int level = 4; level >= 2; level--) {
		uint64_t e = ((uint64_t *) machine_ptr(&fx.mm, mpa, 4096))[idx(va, level)];
		if (!(e & P))
			return -1;
		mpa = e & ADDR;
	}
	return (int) (mpa / 4096 - POOL_MFN);
}

static unsigned take_zaps(uint32_t *groups)
{
	return smmu_take_zaps(fx.s, groups, MAX_POOL);
}

/* The pool page at `level` on va's path in root_mpa (4: the root). */
static int path_page(uint64_t root_mpa, uint64_t va, int level)
{
	uint64_t mpa = root_mpa;

	for (int l = 4; l > level; l--) {
		uint64_t e = ((uint64_t *) machine_ptr(&fx.mm, mpa, 4096))[idx(va, l)];
		if (!(e & P))
			return -1;
		mpa = e & ADDR;
	}
	return (int) (mpa / 4096 - POOL_MFN);
}

static bool zapped(const uint32_t *g, unsigned n, int page)
{
	for (unsigned k = 0; k < n; k++)
		if (g[k] == (uint32_t) page)
			return true;
	return false;
}

static void test_deferred_zaps(void **state)
{
	uint64_t va = 0x0000000003000000ULL, data = 0x0000000003400000ULL, root, v;
	uint32_t g[MAX_POOL];
	struct smmu_fault f;
	int page;

	setup_with(SMMU_CACHED, MAX_POOL, 4, 0, 1);
	assert_int_equal(smmu_zap_groups(fx.s), MAX_POOL);
	assert_int_equal(smmu_zap_group_pages(fx.s), 1);
	uint64_t pte = map(CR3_A, va, 0x18a000, 1, P | W | U, P | W | U | D);
	map(CR3_A, data, 0x18c000, 1, P | W | U, P | W | U | D);
	root = smmu_load_root(fx.s, CR3_A, false);
	/* First use: the root's group is due (for KVM: its slot is registered). */
	assert_int_equal(take_zaps(g), 1);
	assert_int_equal(g[0], 0);
	filled(CR3_A, false, va, HW_WRITE);
	filled(CR3_A, false, data, HW_WRITE);
	assert_int_equal(take_zaps(g), 4);          /* the new PDPT, PD and two PTs */
	assert_int_equal(take_zaps(g), 0);
	page = leaf_page(root, va);
	assert_true(page > 0);

	smmu_load_root(fx.s, CR3_A, true);
	assert_int_equal(take_zaps(g), 1);          /* the user root's page */
	root = smmu_load_root(fx.s, CR3_A, false);

	/* The guest changes a PTE: the removal waits for its flush, also across
	 * a kernel/user switch, which is no flush. */
	v = 0x18b000 | P | W | U;
	assert_int_equal(smmu_pt_write(fx.s, pte, &v, 8), 0);
	assert_false(shadow(CR3_A, false, va, NULL));
	assert_int_equal(take_zaps(g), 0);
	assert_false(smmu_take_tlb_flush(fx.s));
	smmu_load_root(fx.s, CR3_A, true);
	assert_int_equal(take_zaps(g), 0);
	/* Its flush: the page that lost the entry is due. (The real TLB was
	 * flushed by the root switch already.) */
	smmu_tlb_flush(fx.s);
	assert_int_equal(take_zaps(g), 1);
	assert_int_equal(g[0], (uint32_t) page);
	assert_false(smmu_take_tlb_flush(fx.s));
	root = smmu_load_root(fx.s, CR3_A, false);
	assert_int_equal(stats().tlb_flushes, 1);
	/* Refilling adds an entry: nothing to forget. */
	filled(CR3_A, false, va, HW_READ);
	assert_int_equal(take_zaps(g), 0);

	/* A writable mapping of a page that becomes a table goes at once. */
	map(CR3_A, data + 0x1000, 0x18d000, 1, P | W | U, P | W | U | D);
	filled(CR3_A, false, data + 0x1000, HW_WRITE);
	assert_int_equal(take_zaps(g), 0);
	gset(entry_gpa(table_of(CR3_A, va, 2), va + 0x200000, 2), 0x18d000 | P | W | U);
	gset(0x18d000, 0x18e000 | P | W | U);
	filled(CR3_A, false, va + 0x200000, HW_READ);   /* shadows 0x18d000 as a table */
	assert_false(shadow_flags(CR3_A, false, data + 0x1000) & W);
	assert_true(take_zaps(g) >= 2);            /* the new PT, and data's leaf page */
	assert_true(smmu_take_tlb_flush(fx.s));
	f = fault(CR3_A, false, data + 0x1000, HW_WRITE | E_P, true, true);
	assert_int_equal(f.kind, SMMU_FAULT_PT_WRITE);

	/* A writable mapping dropped in a deferred way, then its frame becomes a
	 * table: every deferred zap is due before the protection counts. */
	map(CR3_A, data + 0x2000, 0x18f000, 1, P | W | U, P | W | U | D);
	filled(CR3_A, false, data + 0x2000, HW_WRITE);
	take_zaps(g);
	v = 0;
	assert_int_equal(smmu_pt_write(fx.s, entry_gpa(table_of(CR3_A, data, 1), data + 0x2000, 1), &v, 8), 0);
	assert_int_equal(take_zaps(g), 0);
	gset(entry_gpa(table_of(CR3_A, va, 2), va + 0x400000, 2), 0x18f000 | P | W | U);
	gset(0x18f000, 0x18e000 | P | W | U);
	filled(CR3_A, false, va + 0x400000, HW_READ);
	assert_true(take_zaps(g) >= 2);
	assert_int_equal(stats().zaps_forced, 1);

	/* A table given up after a flood of writes to entries vmmd never
	 * shadowed: what pointed to it is zapped at the flush. */
	root = smmu_load_root(fx.s, CR3_A, false);
	take_zaps(g);
	page = path_page(root, va, 2);
	assert_true(page > 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(smmu_pt_write(fx.s, table_of(CR3_A, va, 1) + 8 * (300 + i), &v, 8), 0);
	assert_false(shadow(CR3_A, false, va, NULL));
	assert_int_equal(take_zaps(g), 0);
	smmu_tlb_flush(fx.s);
	assert_true(zapped(g, take_zaps(g), page));
}

static void test_zap_groups(void **state)
{
	uint64_t cr3 = 0xc0000;
	uint32_t g[MAX_POOL];

	/* Groups of 4 pages: a group is due as a whole, and zapping it cleans
	 * its stale free pages, which allocation then prefers. */
	setup_with(SMMU_VTLB, 16, 0, 0, 4);
	assert_int_equal(smmu_zap_groups(fx.s), 4);
	map(CR3_A, 0x1000000, 0x180000, 1, P | W | U, P | W | U);
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, 0x1000000, HW_READ);   /* pages 0-3: group 0 */
	assert_int_equal(take_zaps(g), 1);
	assert_int_equal(g[0], 0);
	assert_int_equal(stats().pool_used, 4);
	/* A CR3 write in vtlb frees pages 1-3 (stale) and empties root 0: all due at the flush. */
	smmu_guest_cr3_write(fx.s, CR3_A, cr3);
	map(cr3, 0x1000000, 0x180000, 1, P | W | U, P | W | U);
	assert_int_equal(take_zaps(g), 1);
	assert_int_equal(g[0], 0);
	/* Refilling reuses the now clean pages 1-3: nothing more to forget. */
	smmu_load_root(fx.s, cr3, false);
	filled(cr3, false, 0x1000000, HW_READ);
	assert_int_equal(take_zaps(g), 0);
	assert_int_equal(stats().zap_groups, 2);
	/* One group for the whole pool: every zap is of everything. */
	teardown(NULL);
	setup_with(SMMU_VTLB, 16, 0, 0, 0);
	assert_int_equal(smmu_zap_groups(fx.s), 1);
	assert_int_equal(smmu_zap_group_pages(fx.s), 16);
}

static void test_prefetch(void **state)
{
	uint64_t va = 0x0000000004000000ULL, big = 0x0000000004400000ULL, t;
	struct smmu_mapping m;

	setup_full(SMMU_CACHED, MAX_POOL, 4, 0, 1, 8);
	/* va's block of 8: va+0 (the miss), +1 A D, +2 A (no D), +3 no A,
	 * +4 supervisor A, +5 MMIO A, +6 not present, +7 A NX; the next block
	 * (+8) is not touched. */
	map(CR3_A, va, 0x180000, 1, P | W | U, P | W | U);
	t = table_of(CR3_A, va, 1);
	gset(entry_gpa(t, va + 0x1000, 1), 0x181000 | P | W | U | A | D);
	gset(entry_gpa(t, va + 0x2000, 1), 0x182000 | P | W | U | A);
	gset(entry_gpa(t, va + 0x3000, 1), 0x183000 | P | W | U);
	gset(entry_gpa(t, va + 0x4000, 1), 0x184000 | P | W | A | D);
	gset(entry_gpa(t, va + 0x5000, 1), 0xfe000000ULL | P | W | U | A);
	gset(entry_gpa(t, va + 0x7000, 1), 0x187000 | P | U | A | NX);
	gset(entry_gpa(t, va + 0x8000, 1), 0x188000 | P | W | U | A | D);
	smmu_load_root(fx.s, CR3_A, true);            /* the user root first */
	filled(CR3_A, true, va + 0x3000 - 0x3000, HW_READ);
	assert_int_equal(stats().fills, 1);
	assert_int_equal(stats().prefetched, 3);       /* +1, +2, +7 */
	assert_true(shadow(CR3_A, true, va + 0x1000, &m));
	assert_int_equal(m.mpa, mpa_of(0x181000));
	assert_true(m.flags & W);
	assert_int_equal(m.guest_pte_gpa, entry_gpa(t, va + 0x1000, 1));
	assert_false(shadow_flags(CR3_A, true, va + 0x2000) & W);   /* W waits for D */
	assert_true(shadow_flags(CR3_A, true, va + 0x7000) & NX);
	assert_false(shadow(CR3_A, true, va + 0x3000, NULL));       /* no A: the guest would see it set */
	assert_false(gget(entry_gpa(t, va + 0x3000, 1)) & A);
	assert_false(shadow(CR3_A, true, va + 0x4000, NULL));       /* a kernel page in the user root */
	assert_false(shadow(CR3_A, true, va + 0x5000, NULL));       /* MMIO faults and is decoded */
	assert_false(shadow(CR3_A, true, va + 0x8000, NULL));       /* another block */
	/* The kernel root takes the supervisor page too. */
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, va, HW_READ);
	assert_true(shadow(CR3_A, false, va + 0x4000, NULL));
	assert_int_equal(stats().prefetched, 7);

	/* A guest 2 MiB page: the pieces of the block share its entry. */
	map(CR3_A, big, 0x200000, 2, P | W | U, P | W | U | D);
	filled(CR3_A, false, big + 0x9000, HW_WRITE);
	for (uint64_t k = 8; k < 16; k++) {
		assert_true(shadow(CR3_A, false, big + k * 0x1000, &m));
		assert_int_equal(m.mpa, mpa_of(0x200000 + k * 0x1000));
		assert_true(m.flags & W);
	}
	assert_false(shadow(CR3_A, false, big + 0x10000, NULL));
	assert_int_equal(stats().fills, 3);
	assert_int_equal(stats().prefetched, 14);

	/* Where user pages are not executable in kernel roots, prefetched ones
	 * are not either, until the kernel fetches from them itself. */
	teardown(NULL);
	user_nx_in_kernel_root = true;
	setup_full(SMMU_CACHED, MAX_POOL, 4, 0, 1, 8);
	map(CR3_A, va, 0x180000, 1, P | W | U, P | W | U | A);
	map(CR3_A, va + 0x1000, 0x181000, 1, P | W | U, P | W | U | A);
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, va, HW_READ);
	assert_true(shadow_flags(CR3_A, false, va + 0x1000) & NX);
	filled(CR3_A, false, va + 0x1000, HW_FETCH | E_P);
	assert_false(shadow_flags(CR3_A, false, va + 0x1000) & NX);
}

static void test_kernel_half_shared(void **state)
{
	uint64_t va1 = 0xffff800000100000ULL, va2 = 0xffff800000301000ULL, l4 = 8 * 256, pte, v;
	struct smmu_stats before;
	struct smmu_mapping m;

	setup(SMMU_CACHED);
	/* A kernel half (PML4 slot 256) both spaces map with the same entry. */
	map(CR3_A, va1, 0x180000, 1, P | W | U, P | W | U | D);
	map(CR3_A, va1 + 0x1000, 0x185000, 1, P | W | U, P | W | U);
	map(CR3_A, va1 + 0x2000, 0x186000, 1, P | W | U, P | W | U);
	pte = map(CR3_A, va2, 0x181000, 1, P | W | U, P | W);
	map(CR3_A, 0x1000000, 0x182000, 1, P | W | U, P | W | U);
	gset(CR3_B + l4, gget(CR3_A + l4));
	map(CR3_B, 0x1000000, 0x183000, 1, P | W | U, P | W | U);
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, va1, HW_READ);
	filled(CR3_A, false, va2, HW_READ);

	/* B's first fault in the kernel half links A's shadow of it: one new
	 * page (B's root), and what A filled needs no fill in B. */
	smmu_load_root(fx.s, CR3_B, false);
	before = stats();
	filled(CR3_B, false, va1 + 0x1000, HW_READ);
	assert_int_equal(stats().shared, 1);
	assert_int_equal(stats().pool_used, before.pool_used);
	assert_true(shadow(CR3_B, false, va2, &m));
	assert_int_equal(m.mpa, mpa_of(0x181000));
	assert_true(shadow(CR3_A, false, va1 + 0x1000, NULL));     /* and back */
	/* Each space's own half is its own. */
	filled(CR3_B, false, 0x1000000, HW_READ);
	assert_false(shadow(CR3_A, false, 0x1000000, NULL));

	/* User roots share among themselves, never with kernel roots: the
	 * supervisor page va2 stays out of them. */
	smmu_load_root(fx.s, CR3_A, true);
	filled(CR3_A, true, va1, HW_READ);
	assert_int_equal(stats().shared, 1);
	assert_false(shadow(CR3_A, true, va2, NULL));
	smmu_load_root(fx.s, CR3_B, true);
	filled(CR3_B, true, va1 + 0x2000, HW_READ);
	assert_int_equal(stats().shared, 2);
	assert_true(shadow(CR3_B, true, va1, NULL));
	assert_false(shadow(CR3_B, true, va2, NULL));

	/* A write to the shared table re-syncs it for every root. */
	smmu_load_root(fx.s, CR3_B, false);
	v = 0x184000 | P | W;
	assert_int_equal(smmu_pt_write(fx.s, pte, &v, 8), 0);
	assert_false(shadow(CR3_A, false, va2, NULL));
	assert_false(shadow(CR3_B, false, va2, NULL));

	/* A space whose entry differs (no W) gets its own shadow. */
	gset(0xc0000 + l4, gget(CR3_A + l4) & ~W);
	smmu_load_root(fx.s, 0xc0000, false);
	filled(0xc0000, false, va1, HW_READ);
	assert_int_equal(stats().shared, 2);
	assert_false(shadow_flags(0xc0000, false, va1) & W);

	/* Dropping A (evicted, or its PML4 rewritten) keeps the half B links. */
	v = 0;
	assert_int_equal(smmu_pt_write(fx.s, CR3_A + l4, &v, 8), 0);
	assert_false(shadow(CR3_A, false, va1, NULL));
	assert_true(shadow(CR3_B, false, va1, NULL));
}

static void test_pool_recycling(void **state)
{
	struct smmu_stats st;

	/* 16 pages, 4 cached spaces: each fill in a new PML4 slot takes 3 pages. */
	setup_with(SMMU_CACHED, 16, 4, 0, 1);
	for (unsigned sp = 0; sp < 6; sp++) {
		uint64_t cr3 = 0xc0000 + sp * 0x1000;   /* clear of the table allocator */
		smmu_load_root(fx.s, cr3, sp & 1);
		for (unsigned k = 0; k < 4; k++) {
			uint64_t va = (uint64_t) (k + 1) << 39;
			map(cr3, va, 0x190000 + k * 0x1000, 1, P | W | U, P | W | U);
			filled(cr3, sp & 1, va, HW_READ);
			assert_true(shadow(cr3, sp & 1, va, NULL));
			st = stats();
			assert_true(st.pool_used <= st.pool_pages);
		}
	}
	st = stats();
	assert_int_equal(st.fills, 24);
	assert_int_equal(st.pool_pages, 16);
	assert_true(st.pool_recycled > 0);
	assert_true(st.flushes > 0);

	/* A single space bigger than the pool: everything but the current root
	 * path goes, and fills still succeed. */
	teardown(NULL);
	setup_with(SMMU_VTLB, 16, 0, 0, 1);
	smmu_load_root(fx.s, CR3_A, false);
	smmu_load_root(fx.s, CR3_A, true);
	for (unsigned k = 0; k < 40; k++) {
		uint64_t va = (uint64_t) (k + 1) << 39;
		bool user = k % 3 == 0;
		map(CR3_A, va, 0x190000, 1, P | W | U, P | W | U);
		filled(CR3_A, user, va, HW_READ);
		assert_true(shadow(CR3_A, user, va, NULL));
		assert_true(stats().pool_used <= 16);
	}
	assert_true(stats().pool_recycled > 0);
	assert_int_equal(stats().fills, 40);
}

static void test_scattered_physmap(void **state)
{
	uint64_t va = 0x0000000003000000ULL, big = 0x0000000003200000ULL;
	unsigned moved = 0;
	struct smmu_mapping m;

	setup_with(SMMU_CACHED, MAX_POOL, 4, 0x5eed, 1);
	check_fill_4k();          /* guest tables found through the physmap */
	for (unsigned k = 0; k < 8; k++) {
		map(CR3_A, va + k * 0x1000, 0x1a0000 + k * 0x3000, 1, P | W | U, P | W | U);
		filled(CR3_A, false, va + k * 0x1000, HW_READ);
		assert_true(shadow(CR3_A, false, va + k * 0x1000, &m));
		assert_int_equal(m.mpa, mpa_of(0x1a0000 + k * 0x3000));
		moved += m.mpa != 0x1a0000 + k * 0x3000;
	}
	map(CR3_A, big, 0x200000, 2, P | W | U, P | W | U);
	for (unsigned k = 0; k < 8; k++) {
		filled(CR3_A, false, big + k * 0x41000, HW_READ);
		assert_true(shadow(CR3_A, false, big + k * 0x41000, &m));
		assert_int_equal(m.mpa, mpa_of(0x200000 + k * 0x41000));
		moved += m.mpa != 0x200000 + k * 0x41000;
	}
	assert_true(moved >= 12);
	/* The write-protect reverse map works in machine frames too. */
	teardown(NULL);
	setup_with(SMMU_CACHED, MAX_POOL, 4, 0x5eed, 1);
	check_write_protect_and_resync();
}

static int check_monitor_slot(void *userdata, uint64_t cr3, bool user, uint64_t root_mpa)
{
	unsigned *n = userdata;

	assert_int_equal(root_entry(root_mpa, fx_monitor_slot ? fx_monitor_slot : SHADOW_MONITOR_PML4_SLOT), MON_PML4E);
	(*n)++;
	return 0;
}

static void check_monitor_slot_at(unsigned slot)
{
	uint64_t mon = 0xffff000000000000ULL | (uint64_t) slot << 39 | 0x5000, v = 0x3000 | P;
	unsigned n = 0;

	fx_monitor_slot = slot == SHADOW_MONITOR_PML4_SLOT ? 0 : slot;
	setup(SMMU_CACHED);
	for (uint64_t cr3 = CR3_A; cr3 <= CR3_B; cr3 += 0x1000) {
		smmu_load_root(fx.s, cr3, false);
		smmu_load_root(fx.s, cr3, true);
	}
	assert_int_equal(smmu_foreach_root(fx.s, check_monitor_slot, &n), 0);
	assert_int_equal(n, 4);

	/* The guest maps something in the monitor's slot: it gets nothing there. */
	map(CR3_A, mon, 0x18c000, 1, P | W | U, P | W | U | D);
	guest_fault(CR3_A, false, mon, HW_READ | E_P, true, true, 0);
	guest_fault(CR3_A, true, mon, HW_WRITE | E_P, true, true, E_W | E_U);
	assert_int_equal(gget(entry_gpa(CR3_A, mon, 4)) & A, 0);
	/* Flushes and writes to the guest's PML4 entry for that slot leave it. */
	smmu_flush_all(fx.s);
	assert_int_equal(smmu_pt_write(fx.s, entry_gpa(CR3_B, mon, 4), &v, 8), 0);
	n = 0;
	assert_int_equal(smmu_foreach_root(fx.s, check_monitor_slot, &n), 0);
	assert_int_equal(n, 2);         /* the current space's roots stay */
	fx_monitor_slot = 0;
}

static void test_monitor_slot(void **state)
{
	check_monitor_slot_at(SHADOW_MONITOR_PML4_SLOT);
}

/* Xen PV guests (Linux's espfix owns 510) have the monitor in 509, and 510
 * is then an ordinary guest slot. */
static void test_monitor_slot_509(void **state)
{
	uint64_t espfix = 0xffffff0000000000ULL + 0x7000;

	check_monitor_slot_at(509);
	teardown(NULL);
	fx_monitor_slot = 509;
	setup(SMMU_CACHED);
	map(CR3_A, espfix, 0x18c000, 1, P | W, P | W | D);
	smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, espfix, HW_WRITE);
	fx_monitor_slot = 0;
}

/* With a monitor window, kernel roots get the window's entry, user roots not. */
static int check_window_entry(void *userdata, uint64_t cr3, bool user, uint64_t root_mpa)
{
	assert_int_equal(root_entry(root_mpa, SHADOW_MONITOR_PML4_SLOT), user ? MON_PML4E : MON_PML4E | 0x1000);
	(*(unsigned *) userdata)++;
	return 0;
}

static void test_monitor_window_kernel_only(void **state)
{
	struct smmu_config cfg = {
		.strategy = SMMU_CACHED, .pool_mpa = POOL_MFN * 4096, .pool_pages = MAX_POOL,
		.monitor_pml4e = MON_PML4E, .monitor_pml4e_kernel = MON_PML4E | 0x1000,
	};
	unsigned n = 0;

	setup(SMMU_CACHED);
	smmu_free(fx.s);
	assert_int_equal(smmu_new(&fx.mm, &fx.pm, &cfg, &fx.s), 0);
	smmu_load_root(fx.s, CR3_A, false);
	smmu_load_root(fx.s, CR3_A, true);
	assert_int_equal(smmu_foreach_root(fx.s, check_window_entry, &n), 0);
	assert_int_equal(n, 2);
}

static void test_monitor_slot_refused(void **state)
{
	struct smmu_config cfg = { .pool_mpa = POOL_MFN * 4096, .pool_pages = 16, .monitor_slot = 255 };
	struct smmu *s = NULL;

	memset(&fx, 0, sizeof(fx));
	fx.mm.size = MACHINE_PAGES * 4096;
	fx.mm.host = calloc(1, fx.mm.size);
	assert_int_equal(physmap_init(&fx.pm, GUEST_PAGES, MACHINE_PAGES, 0), 0);
	assert_int_equal(smmu_new(&fx.mm, &fx.pm, &cfg, &s), -EINVAL);   /* a user-half slot */
	cfg.monitor_slot = 512;
	assert_int_equal(smmu_new(&fx.mm, &fx.pm, &cfg, &s), -EINVAL);
}

static void test_flush_all(void **state)
{
	uint64_t va = 0x0000000004000000ULL, root;

	setup(SMMU_CACHED);
	map(CR3_A, va, 0x18d000, 1, P | W | U, P | W | U);
	map(CR3_B, va, 0x18d000, 1, P | W | U, P | W | U);
	smmu_load_root(fx.s, CR3_B, false);
	filled(CR3_B, false, va, HW_READ);
	root = smmu_load_root(fx.s, CR3_A, false);
	filled(CR3_A, false, va, HW_READ);
	smmu_flush_all(fx.s);
	assert_true(smmu_take_tlb_flush(fx.s));
	assert_false(shadow(CR3_A, false, va, NULL));
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_B, false, 0, UINT64_MAX, collect, &(struct found) { 0 }),
			 -ENOENT);
	assert_int_equal(stats().pool_used, 1);          /* the current root, kept in place */
	assert_int_equal(smmu_load_root(fx.s, CR3_A, false), root);
}

struct root_list {
	unsigned n;
	uint64_t cr3[8];
	bool user[8];
	uint64_t mpa[8];
};

static int list_root(void *userdata, uint64_t cr3, bool user, uint64_t root_mpa)
{
	struct root_list *l = userdata;

	l->cr3[l->n] = cr3;
	l->user[l->n] = user;
	l->mpa[l->n] = root_mpa;
	return ++l->n == 8 ? -ECANCELED : 0;
}

static int stop_after_one(void *userdata, const struct smmu_mapping *m)
{
	(*(unsigned *) userdata)++;
	return -EINTR;
}

static void test_inspection(void **state)
{
	uint64_t va = 0xffff800000100000ULL, leaf;
	struct root_list l = { 0 };
	struct found f = { 0 };
	unsigned calls = 0;
	uint64_t kroot, uroot;

	setup(SMMU_CACHED);
	leaf = map(CR3_A, va, 0x18e000, 1, P | W | U, P | W | U | D);
	map(CR3_A, va + 0x1000, 0x18f000, 1, P | W | U, P | U | NX);
	map(CR3_A, 0x5000, 0x190000, 1, P | W | U, P | W | U);
	kroot = smmu_load_root(fx.s, CR3_A | 0x18, false);     /* PCD/PWT ignored */
	filled(CR3_A, false, va + 0x1000, HW_READ);
	filled(CR3_A, false, va, HW_WRITE);
	filled(CR3_A, false, 0x5000, HW_READ);
	uroot = smmu_load_root(fx.s, CR3_A, true);
	filled(CR3_A, true, va, HW_READ);

	assert_int_equal(smmu_foreach_root(fx.s, list_root, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.cr3[0], CR3_A);
	assert_false(l.user[0]);
	assert_int_equal(l.mpa[0], kroot);
	assert_true(l.user[1]);
	assert_int_equal(l.mpa[1], uroot);
	assert_true(kroot >= POOL_MFN * 4096 && kroot < (POOL_MFN + MAX_POOL) * 4096);

	/* In address order, with the guest PTE each came from. */
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_A, false, 0, UINT64_MAX, collect, &f), 0);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.m[0].va, 0x5000);
	assert_int_equal(f.m[1].va, va);
	assert_int_equal(f.m[1].mpa, mpa_of(0x18e000));
	assert_int_equal(f.m[1].flags & (P | W | U | NX), P | W | U);
	assert_int_equal(f.m[1].guest_pte, 0x18e000 | P | W | U | A | D);
	assert_int_equal(f.m[1].guest_pte_gpa, leaf);
	assert_int_equal(f.m[2].va, va + 0x1000);
	assert_int_equal(f.m[2].flags & (P | W | U | NX), P | U | NX);
	assert_int_equal(f.m[2].guest_pte, 0x18f000 | P | U | NX | A);

	/* A range, the other root, an early stop, no such root. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_A, false, va + 1, UINT64_MAX, collect, &f), 0);
	assert_int_equal(f.n, 2);
	memset(&f, 0, sizeof(f));
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_A, true, 0, UINT64_MAX, collect, &f), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.m[0].va, va);
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_A, false, 0, UINT64_MAX, stop_after_one, &calls), -EINTR);
	assert_int_equal(calls, 1);
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_B, false, 0, UINT64_MAX, collect, &f), -ENOENT);
	assert_int_equal(smmu_foreach_mapping(fx.s, CR3_A, false, 2, 1, collect, &f), -EINVAL);
	assert_int_equal(stats().root_loads, 2);
}

/* --- random operations against invariants ------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

#define NR_SPACES 3
#define NR_VAS    40
static const uint64_t space_cr3[NR_SPACES] = { CR3_A, CR3_B, 0xc0000 };

static uint64_t random_data_pte(void)
{
	static const uint64_t flag_sets[] = {
		P | W | U, P | W | U | D, P | U, P | W, P | W | D, P | U | NX, P | W | U | D | NX, 0,
	};
	uint64_t frame = rnd(6) == 0 ? 0x1000 * (1 + rnd(fx.next_table / 0x1000 - 1))   /* a table page */
			 : rnd(16) == 0 ? 0xfe000000ULL                                 /* MMIO */
			 : 0x100000 + 0x1000 * rnd(0x100);
	return frame | flag_sets[rnd(8)];
}

struct check_ctx {
	uint64_t cr3;
	bool user;
	bool cached;
	uint64_t tables[256];       /* guest pages some leaf's guest PTE lives in */
	unsigned nr_tables;
	uint64_t writable[256];     /* guest pages some leaf maps writable */
	unsigned nr_writable;
	unsigned leaves;
};

static void add_table(struct check_ctx *c, uint64_t table)
{
	for (unsigned i = 0; i < c->nr_tables; i++)
		if (c->tables[i] == table)
			return;
	assert_true(c->nr_tables < 256);
	c->tables[c->nr_tables++] = table;
}

static unsigned random_step;        /* for the failure message */

static int check_leaf(void *userdata, const struct smmu_mapping *m)
{
	struct check_ctx *c = userdata;
	unsigned acc = c->user ? SHADOW_ACC_USER : 0;
	uint64_t gpa = physmap_mpa_to_gpa(&fx.pm, m->mpa);
	struct gw_result w;

	c->leaves++;
	assert_int_not_equal(gpa, UINT64_MAX);          /* only guest RAM is ever mapped */
	/* Every shadow leaf is a translation the guest's tables give, now. */
	assert_int_equal(smmu_guest_walk(fx.s, c->cr3, m->va, acc, true, true, false, &w), 0);
	assert_int_equal(w.phys & ~0xfffULL, gpa);
	assert_int_equal(gw_step_addr(&w.steps[w.n_steps - 1]), m->guest_pte_gpa);
	assert_true(m->flags & U);
	/* A/D stay exact: nothing is shadowed the guest has not seen accessed. */
	assert_true(m->guest_pte & A);
	if (m->flags & W) {
		assert_int_equal(smmu_guest_walk(fx.s, c->cr3, m->va, acc | SHADOW_ACC_WRITE, true, true,
						 false, &w), 0);
		assert_true(w.steps[w.n_steps - 1].entry & D);
		if (c->nr_writable < 256)
			c->writable[c->nr_writable++] = gpa;
	}
	if (!(m->flags & NX))
		assert_int_equal(smmu_guest_walk(fx.s, c->cr3, m->va, acc | SHADOW_ACC_FETCH, true, true,
						 false, &w), 0);
	/* Every guest table on the leaf's path is shadowed (CACHED: write-protected). */
	for (uint64_t table = c->cr3, level = 4; level >= 1; level--) {
		add_table(c, table);
		if (table == (m->guest_pte_gpa & ~0xfffULL))
			break;
		table = gget(entry_gpa(table, m->va, (int) level)) & ADDR;
	}
	return 0;
}

static int check_root(void *userdata, uint64_t cr3, bool user, uint64_t root_mpa)
{
	struct check_ctx *c = userdata;

	assert_int_equal(root_entry(root_mpa, SHADOW_MONITOR_PML4_SLOT), MON_PML4E);
	c->cr3 = cr3;
	c->user = user;
	return smmu_foreach_mapping(fx.s, cr3, user, 0, UINT64_MAX, check_leaf, c);
}

static void check_invariants(bool cached, struct check_ctx *ret)
{
	struct check_ctx c = { .cached = cached };
	struct smmu_stats st = stats();

	assert_true(st.pool_used <= st.pool_pages);
	assert_int_equal(smmu_foreach_root(fx.s, check_root, &c), 0);
	/* CACHED: no guest page table that a shadow depends on is writable. */
	if (cached)
		for (unsigned i = 0; i < c.nr_writable; i++)
			for (unsigned k = 0; k < c.nr_tables; k++)
				assert_int_not_equal(c.writable[i], c.tables[k]);
	if (ret)
		*ret = c;
}

/*
 * A host that shadows the pool, as KVM without EPT/NPT does (and, for the
 * current root, the CPU's TLB on any host): it keeps every pool entry it
 * ever walked, and forgets only what it is told to. A zap group from
 * smmu_take_zaps drops the cached entries of its pages and every cached
 * entry that points to them (KVM unlinks a zapped shadow page from its
 * parents); the TLB also forgets everything on a load of another root and
 * on smmu_take_tlb_flush. What it may translate is bounded by what the
 * shadow MMU itself mapped since the guest's last flush point: a stale
 * translation is fine until the guest flushes, a made-up one never is.
 */
#define HOST_SLOTS   (MAX_POOL * 512)
#define CHECK_VAS    (NR_VAS + 31)     /* and 31 of the 2 MiB page's 4 KiB pieces */
#define HISTORY      64

static struct {
	uint64_t entry[HOST_SLOTS];      /* cached pool entries, by pool page * 512 + index */
	bool cached[HOST_SLOTS];
	uint64_t tlb_root;               /* the root the TLB's translations came from */
	uint64_t tlb[CHECK_VAS];         /* cached leaf, 0 = none */
	unsigned zapped_groups;
	/* [space][user][va]: translations the shadow MMU had since the last flush point */
	uint64_t seen[NR_SPACES][2][CHECK_VAS][HISTORY];
	unsigned nr_seen[NR_SPACES][2][CHECK_VAS];
} host;

static uint64_t check_va(unsigned sp, unsigned k, const uint64_t vas[][NR_VAS])
{
	return k < NR_VAS ? vas[sp][k] : vas[sp][1] + (uint64_t) (k - NR_VAS + 1) * 17 * 0x1000;
}

static unsigned pool_slot(uint64_t mpa, unsigned i)
{
	uint64_t page = mpa / 4096 - POOL_MFN;

	assert_true(page < MAX_POOL);
	return (unsigned) page * 512 + i;
}

/* The leaf for va under root_mpa, through the host's cache (host) or the
 * pool as it is now (!host); 0 when not present. Only what a translation
 * depends on is kept: frame, W, NX. */
static uint64_t translate(uint64_t root_mpa, uint64_t va, bool use_host)
{
	uint64_t mpa = root_mpa, e = 0;

	for (int level = 4; level >= 1; level--) {
		unsigned slot = pool_slot(mpa, idx(va, level));

		if (use_host && host.cached[slot]) {
			e = host.entry[slot];
		} else {
			e = ((uint64_t *) machine_ptr(&fx.mm, mpa & ADDR, 4096))[idx(va, level)];
			if (use_host) {
				host.entry[slot] = e;
				host.cached[slot] = true;
			}
		}
		if (!(e & P))
			return 0;
		mpa = e & ADDR;
	}
	return e & (ADDR | W | NX | P);
}

static void host_forget_page(uint64_t page)
{
	uint64_t mpa = (POOL_MFN + page) * 4096;

	for (unsigned i = 0; i < 512; i++)
		host.cached[page * 512 + i] = false;
	for (unsigned k = 0; k < HOST_SLOTS; k++)
		if (host.cached[k] && (host.entry[k] & P) && (host.entry[k] & ADDR) == mpa)
			host.cached[k] = false;
}

/* What the worker does before every entry: forget the due groups, flush the TLB if told. */
static void host_before_entry(uint64_t cur_root)
{
	uint32_t groups[MAX_POOL];
	unsigned n = smmu_take_zaps(fx.s, groups, MAX_POOL), per = smmu_zap_group_pages(fx.s);

	for (unsigned k = 0; k < n; k++)
		for (uint64_t p = (uint64_t) groups[k] * per; p < (uint64_t) (groups[k] + 1) * per && p < MAX_POOL; p++)
			host_forget_page(p);
	host.zapped_groups += n;
	if (n || smmu_take_tlb_flush(fx.s) || host.tlb_root != cur_root)
		memset(host.tlb, 0, sizeof(host.tlb));
	host.tlb_root = cur_root;
}

static void host_flush_point(void)
{
	memset(host.nr_seen, 0, sizeof(host.nr_seen));
}

static bool host_seen(unsigned sp, bool user, unsigned k, uint64_t t)
{
	for (unsigned i = 0; i < host.nr_seen[sp][user][k]; i++)
		if (host.seen[sp][user][k][i] == t)
			return true;
	return false;
}

/* A cached translation the shadow MMU gave since the last flush point, or
 * one with fewer rights to the same frame (a fault on it makes the host
 * walk the pool again, as KVM does). */
static bool host_allowed(unsigned sp, bool user, unsigned k, uint64_t x)
{
	for (unsigned i = 0; i < host.nr_seen[sp][user][k]; i++) {
		uint64_t t = host.seen[sp][user][k][i];
		if ((t & ADDR) == (x & ADDR) && (!(x & W) || (t & W)) && ((x & NX) || !(t & NX)))
			return true;
	}
	return false;
}

/* One root, as the host sees it: remember what the shadow MMU maps there
 * now, then check that the host's cached translations are ones the shadow
 * MMU gave since the guest's last flush point and (cached) none is a
 * writable mapping of a shadowed guest table. */
struct host_ctx {
	const uint64_t (*vas)[NR_VAS];
	const uint64_t *tables;
	unsigned nr_tables;
	uint64_t cur_root;
};

static void host_check_one(unsigned sp, bool user, uint64_t va, unsigned k, uint64_t x, const struct host_ctx *h)
{
	if (!x)
		return;
	if (!host_allowed(sp, user, k, x))
		fprintf(stderr, "step %u: the host translates %#lx (space %u, %s root) to %#lx, not shadowed since "
			"the last flush\n", random_step, (unsigned long) va, sp, user ? "user" : "kernel", (unsigned long) x);
	assert_true(host_allowed(sp, user, k, x));
	for (unsigned i = 0; (x & W) && i < h->nr_tables; i++)
		assert_int_not_equal(physmap_mpa_to_gpa(&fx.pm, x & ADDR) & ~0xfffULL, h->tables[i]);
}

static int host_check_root(void *userdata, uint64_t cr3, bool user, uint64_t root_mpa)
{
	const struct host_ctx *h = userdata;
	unsigned sp = 0;

	while (space_cr3[sp] != cr3)
		assert_true(++sp < NR_SPACES);
	for (unsigned k = 0; k < CHECK_VAS; k++) {
		uint64_t va = check_va(sp, k, h->vas), now = translate(root_mpa, va, false);

		if (now && !host_seen(sp, user, k, now)) {
			assert_true(host.nr_seen[sp][user][k] < HISTORY);
			host.seen[sp][user][k][host.nr_seen[sp][user][k]++] = now;
		}
		host_check_one(sp, user, va, k, translate(root_mpa, va, true), h);
		/* The TLB holds translations of the loaded root only. */
		if (root_mpa == h->cur_root) {
			if (!host.tlb[k])
				host.tlb[k] = translate(root_mpa, va, true);
			host_check_one(sp, user, va, k, host.tlb[k], h);
		}
	}
	return 0;
}

static void host_check(uint64_t cur_root, const uint64_t vas[][NR_VAS], const uint64_t *tables, unsigned nr_tables)
{
	struct host_ctx h = { .vas = vas, .tables = tables, .nr_tables = nr_tables, .cur_root = cur_root };

	host_before_entry(cur_root);
	assert_int_equal(smmu_foreach_root(fx.s, host_check_root, &h), 0);
}

static void run_random(enum smmu_strategy strategy, unsigned pool_pages, uint64_t seed, unsigned zap_group,
		       unsigned prefetch)
{
	uint64_t vas[NR_SPACES][NR_VAS], leaf[NR_SPACES][NR_VAS], root;
	uint64_t upper[NR_SPACES][NR_VAS][2], upper_gpa[NR_SPACES][NR_VAS][2];   /* [.][.][L - 2]: PDE, PDPTE */
	unsigned cur = 0, filled_n = 0, pt_writes = 0, upper_edits = 0;
	bool user = false, cached = strategy == SMMU_CACHED;
	struct check_ctx c;

	setup_full(strategy, pool_pages, 2, seed, zap_group, prefetch);
	memset(&host, 0, sizeof(host));
	rng_state = seed | 1;
	for (unsigned sp = 0; sp < NR_SPACES; sp++) {
		/* Slot 256 is a kernel half: every space's PML4 entry points to
		 * space 0's tables (shared shadows, CACHED). */
		if (sp > 0)
			gset(space_cr3[sp] + 8 * 256, gget(space_cr3[0] + 8 * 256));
		for (unsigned k = 0; k < NR_VAS; k++) {
			/* Spread over PML4 slots 0/1/256 and a few PD pages; one 2 MiB page. */
			uint64_t base = k % 3 == 0 ? 0 : k % 3 == 1 ? 1ULL << 39 : 0xffff800000000000ULL;
			vas[sp][k] = base + (k % 4) * 0x200000 + (k / 4) * 0x1000;
			if (sp > 0 && k % 3 == 2) {
				leaf[sp][k] = leaf[0][k];
			} else if (k == 1) {
				vas[sp][k] = base + 0x40000000;
				leaf[sp][k] = map(space_cr3[sp], vas[sp][k], 0x200000, 2, P | W | U, P | W | U);
			} else {
				leaf[sp][k] = map(space_cr3[sp], vas[sp][k], 0, 1, P | W | U, 0);
				gset(leaf[sp][k], random_data_pte());
			}
		}
	}
	/* The table entries above each 4 KiB leaf, as built: upper-level edits
	 * pick among them (another table, other rights, the original). */
	for (unsigned sp = 0; sp < NR_SPACES; sp++)
		for (unsigned k = 0; k < NR_VAS; k++)
			for (int level = 2; level <= 3; level++) {
				if (k == 1 && level == 2)
					continue;   /* the 2 MiB page's PDE is its leaf */
				upper_gpa[sp][k][level - 2] = entry_gpa(table_of(space_cr3[sp], vas[sp][k], level),
									 vas[sp][k], level);
				upper[sp][k][level - 2] = gget(upper_gpa[sp][k][level - 2]);
			}
	root = smmu_load_root(fx.s, space_cr3[cur], user);

	for (unsigned step = 0; step < 4000; step++) {
		unsigned what = (unsigned) rnd(20), k = (unsigned) rnd(NR_VAS);
		uint64_t cr3 = space_cr3[cur], va = vas[cur][k] + (k == 1 ? rnd(512) * 0x1000 : 0) + 8 * rnd(512);

		random_step = step;

		if (what < 12) {                    /* the CPU faults */
			unsigned kind = (unsigned) rnd(3);
			uint32_t hw = E_U | (kind == 1 ? E_W : 0) | (kind == 2 ? E_ID : 0);
			unsigned acc = (user ? SHADOW_ACC_USER : 0) | (kind == 1 ? SHADOW_ACC_WRITE : 0) |
				       (kind == 2 ? SHADOW_ACC_FETCH : 0);
			struct gw_result w;
			int r = smmu_guest_walk(fx.s, cr3, va, acc, true, true, false, &w);
			struct smmu_fault f = fault(cr3, user, va, hw, true, true);
			struct smmu_mapping m;

			if (r < 0) {
				assert_int_equal(f.kind, SMMU_FAULT_GUEST);
				assert_int_equal(f.guest_error, w.error);
			} else if (w.phys >= GUEST_PAGES * 4096) {
				assert_int_equal(f.kind, SMMU_FAULT_MMIO);
				assert_int_equal(f.gpa, w.phys);
			} else if (f.kind == SMMU_FAULT_PT_WRITE) {
				uint64_t v = random_data_pte();
				assert_true(cached && kind == 1);
				assert_int_equal(f.gpa, w.phys);
				assert_int_equal(smmu_pt_write(fx.s, f.gpa & ~7ULL, &v, 8), 0);
				pt_writes++;
			} else {
				/* Filled: retrying the access does not fault again. */
				assert_int_equal(f.kind, SMMU_FAULT_FILLED);
				assert_true(shadow(cr3, user, va, &m));
				assert_int_equal(m.mpa, mpa_of(w.phys & ~0xfffULL));
				if (kind == 1)
					assert_true(m.flags & W);
				if (kind == 2)
					assert_false(m.flags & NX);
				filled_n++;
			}
		} else if (what == 12 && rnd(2) && k != 1) { /* the guest edits a PDE or PDPTE */
			int l = (int) rnd(2);
			unsigned other = (unsigned) rnd(NR_VAS);
			uint64_t g = upper_gpa[cur][k][l], v = upper[cur][k][l];

			/* Another table (cached only: with two entries pointing to one
			 * table, a vtlb guest that edits a PTE and invlpgs one address
			 * may keep the other's stale translation, as on hardware), or
			 * other rights, or the original. */
			if (cached && (other != 1 || l == 1) && rnd(3) == 0)
				v = upper[cur][other][l];
			else if (rnd(2))
				v ^= rnd(2) ? W : rnd(2) ? U : NX;
			if (cached && rnd(2)) {
				assert_int_equal(smmu_pt_update(fx.s, g, v, true, true), 0);
			} else if (cached) {
				assert_int_equal(smmu_pt_write(fx.s, g, &v, 8), 0);
			} else {
				gset(g, v);
				smmu_invlpg(fx.s, cr3, vas[cur][k]);
				host_flush_point();
			}
			upper_edits++;
		} else if (what < 16) {             /* the guest edits a PTE */
			uint64_t v = k == 1 ? (0x200000 | PS | (random_data_pte() & (P | W | U | D | NX)))
					    : random_data_pte();
			if (cached && rnd(2)) {
				/* Declared (Xen PV's mmu_update), often with A set:
				 * written into the shadows where a fill would be. */
				v |= rnd(3) ? A : 0;
				assert_int_equal(smmu_pt_update(fx.s, leaf[cur][k], v, true, true), 0);
			} else if (cached) {
				/* Without a flush: the old translation may live on. */
				assert_int_equal(smmu_pt_write(fx.s, leaf[cur][k], &v, 8), 0);
			} else {
				gset(leaf[cur][k], v);
				smmu_invlpg(fx.s, cr3, vas[cur][k]);
				host_flush_point();
			}
		} else if (what < 18) {             /* kernel <-> user */
			user = !user;
			root = smmu_load_root(fx.s, cr3, user);
		} else if (what < 19) {             /* another address space */
			unsigned next = (unsigned) rnd(NR_SPACES);
			smmu_guest_cr3_write(fx.s, cr3, space_cr3[next]);
			host_flush_point();
			cur = next;
			root = smmu_load_root(fx.s, space_cr3[cur], user);
		} else if (rnd(2)) {
			smmu_invlpg(fx.s, cr3, va);
			host_flush_point();
		} else {
			smmu_tlb_flush(fx.s);
			host_flush_point();
		}
		check_invariants(cached, &c);
		host_check(root, vas, c.tables, cached ? c.nr_tables : 0);
	}
	/* Deferred zaps happened; prefetch filled neighbours where asked to. */
	assert_true(host.zapped_groups > 0);
	assert_true(prefetch > 1 ? stats().prefetched > 50 : stats().prefetched == 0);
	assert_true(cached ? stats().shared > 0 : stats().shared == 0);
	assert_true(upper_edits > 50);
	assert_true(filled_n > 500);
	if (cached)
		assert_true(pt_writes > 0);
	assert_true(cached ? stats().updates_applied > 20 : stats().updates_applied == 0);
	teardown(NULL);
}

static void test_random_operations(void **state)
{
	/* One zap group per page (targeted), a few, and the whole pool; with
	 * and without prefetch. */
	run_random(SMMU_VTLB, MAX_POOL, 0, 1, 1);
	run_random(SMMU_CACHED, MAX_POOL, 0, 1, 1);
	run_random(SMMU_VTLB, 16, 0x77, 4, 8);
	run_random(SMMU_CACHED, 16, 0x77, 1, 16);
	run_random(SMMU_CACHED, 24, 0x1234, 0, 1);
	run_random(SMMU_CACHED, MAX_POOL, 0x4321, 3, 8);
	run_random(SMMU_VTLB, MAX_POOL, 0x999, 1, 3);
}

static void test_new_errors(void **state)
{
	struct machine_memory mm = { .size = MACHINE_PAGES * 4096 };
	struct physmap pm;
	struct smmu_config cfg = { .pool_mpa = POOL_MFN * 4096, .pool_pages = 16 };
	struct smmu *s = NULL;

	mm.host = calloc(1, mm.size);
	assert_non_null(mm.host);
	assert_int_equal(physmap_init(&pm, GUEST_PAGES, MACHINE_PAGES, 0), 0);
	cfg.pool_pages = 15;
	assert_int_equal(smmu_new(&mm, &pm, &cfg, &s), -EINVAL);
	cfg.pool_pages = MAX_POOL + 1;
	assert_int_equal(smmu_new(&mm, &pm, &cfg, &s), -ERANGE);
	cfg.pool_pages = 16;
	cfg.pool_mpa = (GUEST_PAGES - 1) * 4096;      /* overlaps guest memory */
	assert_int_equal(smmu_new(&mm, &pm, &cfg, &s), -EINVAL);
	cfg.pool_mpa = POOL_MFN * 4096 + 8;
	assert_int_equal(smmu_new(&mm, &pm, &cfg, &s), -EINVAL);
	assert_null(s);
	cfg.pool_mpa = POOL_MFN * 4096;
	assert_int_equal(smmu_new(&mm, &pm, &cfg, &s), 0);
	smmu_free(s);
	smmu_free(NULL);
	physmap_free(&pm);
	free(mm.host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fill_4k, teardown),
		cmocka_unit_test_teardown(test_fill_2m, teardown),
		cmocka_unit_test_teardown(test_fill_1g, teardown),
		cmocka_unit_test_teardown(test_kernel_and_user_roots, teardown),
		cmocka_unit_test_teardown(test_nx, teardown),
		cmocka_unit_test_teardown(test_mmio, teardown),
		cmocka_unit_test_teardown(test_guest_error_codes, teardown),
		cmocka_unit_test_teardown(test_reserved_bits_follow_cpuid, teardown),
		cmocka_unit_test_teardown(test_vtlb_flush_on_cr3_write, teardown),
		cmocka_unit_test_teardown(test_cached_keeps_roots, teardown),
		cmocka_unit_test_teardown(test_write_protect_and_resync, teardown),
		cmocka_unit_test_teardown(test_unshadow_after_repeated_writes, teardown),
		cmocka_unit_test_teardown(test_declared_updates_keep_shadowing, teardown),
		cmocka_unit_test_teardown(test_declared_updates_fill, teardown),
		cmocka_unit_test_teardown(test_unshadow_stale_root, teardown),
		cmocka_unit_test_teardown(test_unprotect, teardown),
		cmocka_unit_test(test_user_nx_in_kernel_root),
		cmocka_unit_test_teardown(test_invlpg, teardown),
		cmocka_unit_test_teardown(test_deferred_zaps, teardown),
		cmocka_unit_test_teardown(test_zap_groups, teardown),
		cmocka_unit_test_teardown(test_prefetch, teardown),
		cmocka_unit_test_teardown(test_kernel_half_shared, teardown),
		cmocka_unit_test_teardown(test_pool_recycling, teardown),
		cmocka_unit_test_teardown(test_scattered_physmap, teardown),
		cmocka_unit_test_teardown(test_monitor_slot, teardown),
		cmocka_unit_test_teardown(test_monitor_slot_509, teardown),
		cmocka_unit_test_teardown(test_monitor_slot_refused, teardown),
		cmocka_unit_test_teardown(test_monitor_window_kernel_only, teardown),
		cmocka_unit_test_teardown(test_flush_all, teardown),
		cmocka_unit_test_teardown(test_inspection, teardown),
		cmocka_unit_test(test_random_operations),
		cmocka_unit_test(test_new_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
