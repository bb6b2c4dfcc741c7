// SPDX-License-Identifier: MIT
/*
 * zapbench: what it costs when vmmd's shadow MMU removes an entry (bench
 * B15, bench/b15_zap.py), ported from ../shared/xenpv/zapbench.c, the
 * experiment behind XENPV.md's cost table.
 *
 * It maps a window at 0x8000000000 (PML4 slot 1) with its own 4 KiB page
 * tables, as Linux maps memory: the page `x` alone under one page table,
 * the n pages it touches under others (guest-physical 32 MiB and up: the
 * VM needs 64 MiB). For n = 0, 16, 64, 256, 1024, 4096 (up to max=N) it
 * times, with rdtsc, in cycles:
 *
 *   first   touching the n pages the first time, per page (shadow fills)
 *   native  touching them again, per round (no trap)
 *   trap    a `cli` (one trap that removes nothing) and the n pages, per round
 *   zap     `invlpg x` (a trap that removes x's shadow entry: a zap at this
 *           flush point), a read of x (a refill) and the n pages, per round
 *
 * and prints one line per n:
 *
 *   zapbench: n=N first=F native=V trap=T zap=Z
 *
 * With the pool zapped whole each zap round also refaults the n pages
 * inside the host; with targeted zaps only x's page table goes.
 *
 * Then it checks that a zap is never missed: `check` rounds (default 64)
 * each point x's PTE at the other of two frames holding different words,
 * invlpg x, and read x, which must show the new frame's word (a host that
 * kept the old translation would show the old one); it prints
 * "zapbench: remap check ok (N rounds)" or "zapbench: FAIL ..." (exit 1),
 * then "zapbench: done" and exits 0. Command line: reps=R (default 50),
 * max=N, check=N.
 */
#include "bench_loop.h"
#include "cpu.h"
#include "guest.h"

#define PTE_P      0x001ULL
#define PTE_W      0x002ULL
#define PTE_U      0x004ULL

#define WINDOW     0x8000000000ULL    /* PML4 slot 1 */
#define X_VA       WINDOW             /* alone under table 0 */
#define TOUCH_VA   (WINDOW + 0x200000)  /* tables 1..8 */
#define FRAMES     0x2000000ULL       /* guest-physical 32 MiB */
#define X_FRAME    (FRAMES - 0x1000)
#define Y_FRAME    (FRAMES - 0x2000)  /* x's other frame in the remap check */
#define MAX_PAGES  4096
#define TABLES     (1 + MAX_PAGES / 512)

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pt[TABLES][512] __attribute__((aligned(4096)));

static volatile uint64_t sink;

static uint64_t pa(const void *p)
{
	return (uint64_t) (uintptr_t) p;   /* the image runs on an identity map */
}

static void map_window(void)
{
	uint64_t cr3 = read_cr3();

	memcpy(pml4, (const void *) (uintptr_t) (cr3 & ~0xfffULL), sizeof(pml4));
	pml4[1] = pa(pdpt) | PTE_P | PTE_W | PTE_U;
	pdpt[0] = pa(pd) | PTE_P | PTE_W | PTE_U;
	for (unsigned t = 0; t < TABLES; t++)
		pd[t] = pa(pt[t]) | PTE_P | PTE_W | PTE_U;
	/* x: the frame just below the touched ones. */
	pt[0][0] = X_FRAME | PTE_P | PTE_W;
	pt[0][1] = Y_FRAME | PTE_P | PTE_W;   /* a neighbour: keeps x's table in use */
	for (unsigned i = 0; i < MAX_PAGES; i++)
		pt[1 + i / 512][i % 512] = (FRAMES + (uint64_t) i * 0x1000) | PTE_P | PTE_W;
	write_cr3(pa(pml4));
}

static void touch(uint64_t n)
{
	uint64_t s = 0;

	for (uint64_t i = 0; i < n; i++)
		s += *(volatile uint8_t *) (TOUCH_VA + i * 4096);
	sink = s;
}

static void remap_check(long rounds)
{
	volatile uint64_t *x = (volatile uint64_t *) X_VA, *neighbour = (volatile uint64_t *) (X_VA + 0x1000);

	*(volatile uint64_t *) X_FRAME = 0x5a5a0000;
	*(volatile uint64_t *) Y_FRAME = 0x5a5a0001;
	for (long r = 0; r < rounds; r++) {
		uint64_t frame = r % 2 ? X_FRAME : Y_FRAME, want = r % 2 ? 0x5a5a0000 : 0x5a5a0001, got;

		(void) *x;                     /* the old translation is cached now */
		(void) *neighbour;
		pt[0][0] = frame | PTE_P | PTE_W;
		invlpg(X_VA);
		got = *x;
		if (got != want) {
			printf("zapbench: FAIL remap round %ld: x reads 0x%lx, its new frame holds 0x%lx\n", r,
			       (unsigned long) got, (unsigned long) want);
			vmm_exit(1);
		}
	}
	printf("zapbench: remap check ok (%ld rounds)\n", rounds);
}

void guest_main(const struct guest_boot *b)
{
	static const uint64_t ns[] = { 0, 16, 64, 256, 1024, 4096 };
	long reps = cmdline_int("reps", 50), max = cmdline_int("max", MAX_PAGES);

	if (b->memory_bytes < FRAMES + MAX_PAGES * 4096ULL) {
		printf("zapbench: needs 64 MiB of memory\n");
		vmm_exit(1);
	}
	if (reps < 1)
		reps = 1;
	map_window();
	for (unsigned k = 0; k < sizeof(ns) / sizeof(ns[0]) && (long) ns[k] <= max; k++) {
		uint64_t n = ns[k], t0, t1, t2, t3, t4;

		t0 = bench_rdtsc();
		touch(n);                          /* first touch: shadow fills */
		t1 = bench_rdtsc();
		for (long r = 0; r < reps; r++)
			touch(n);                  /* native: no traps */
		t2 = bench_rdtsc();
		for (long r = 0; r < reps; r++) {
			__asm__ volatile("cli" ::: "memory");   /* one trap, nothing removed */
			touch(n);
		}
		t3 = bench_rdtsc();
		(void) *(volatile uint8_t *) X_VA;
		for (long r = 0; r < reps; r++) {
			invlpg(X_VA);              /* trap; removes x's shadow entry: a zap */
			(void) *(volatile uint8_t *) X_VA;   /* refill trap */
			touch(n);
		}
		t4 = bench_rdtsc();
		printf("zapbench: n=%lu first=%lu native=%lu trap=%lu zap=%lu\n", (unsigned long) n,
		       (unsigned long) (n ? (t1 - t0) / n : 0), (unsigned long) ((t2 - t1) / reps),
		       (unsigned long) ((t3 - t2) / reps), (unsigned long) ((t4 - t3) / reps));
	}
	remap_check(cmdline_int("check", 64));
	printf("zapbench: done\n");
	vmm_exit(0);
}
