// SPDX-License-Identifier: MIT
/*
 * directpaging: the guest of the direct-paging spike (XENPV.md 9.1 #3,
 * design (C); bench B15, docs/PERFORMANCE.md). It runs under every shadow
 * strategy; under "direct" its own page tables become the real CR3 once it
 * loads them, and KVM (without EPT/NPT) shadows them itself.
 *
 * Its tables map everything U=1, as a Xen PV kernel's are after Xen's
 * adjust_guest_l1e (its kernel runs at real CPL3): 0-1 GiB identity with
 * 2 MiB pages, and a window at 0x8000000000 (PML4 slot 1) with 4 KiB pages
 * onto guest-physical 32 MiB and up (the VM needs 64 MiB). The window's
 * page tables lie in the image, so the identity map is a writable alias of
 * them. Then, timed with rdtsc:
 *
 *   first   the first touch of n window pages (cycles per page): a vmmd
 *           fill each in shadow mode, a fault inside the host with "direct"
 *   native  touching them again (cycles per page)
 *   alias   `rounds` times: repoint window page 0's PTE through the alias
 *           (a CPL3 write to a page-table page), read the page, invlpg
 *           (vmmd then makes the host re-sync), read it again; the second
 *           read must show the new frame (exit 1 otherwise); the first read
 *           shows whether the host picked the write up without a flush
 *
 * and prints
 *
 *   directpaging: first=F native=V n=N
 *   directpaging: alias rounds=R new-frame-at-once=A after-invlpg=B
 *   directpaging: done
 *
 * Command line: n=N pages (default 1024, at most 4096), rounds=R (default 64).
 */
#include "bench_loop.h"
#include "cpu.h"
#include "guest.h"

#define PTE_P      0x001ULL
#define PTE_W      0x002ULL
#define PTE_U      0x004ULL
#define PTE_PS     0x080ULL

#define WINDOW     0x8000000000ULL
#define FRAMES     0x2000000ULL       /* guest-physical 32 MiB */
#define MAX_PAGES  4096
#define TABLES     (MAX_PAGES / 512)
#define FRAME_A    (FRAMES - 0x1000)
#define FRAME_B    (FRAMES - 0x2000)

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt_lo[512] __attribute__((aligned(4096)));
static uint64_t pd_lo[512] __attribute__((aligned(4096)));
static uint64_t pdpt_w[512] __attribute__((aligned(4096)));
static uint64_t pd_w[512] __attribute__((aligned(4096)));
static uint64_t pt_w[TABLES + 1][512] __attribute__((aligned(4096)));

static volatile uint64_t sink;

static uint64_t pa(const void *p)
{
	return (uint64_t) (uintptr_t) p;   /* the image runs on an identity map */
}

static void build_tables(void)
{
	pml4[0] = pa(pdpt_lo) | PTE_P | PTE_W | PTE_U;
	pdpt_lo[0] = pa(pd_lo) | PTE_P | PTE_W | PTE_U;
	for (uint64_t i = 0; i < 512; i++)
		pd_lo[i] = (i << 21) | PTE_P | PTE_W | PTE_U | PTE_PS;
	pml4[1] = pa(pdpt_w) | PTE_P | PTE_W | PTE_U;
	pdpt_w[0] = pa(pd_w) | PTE_P | PTE_W | PTE_U;
	/* Table 0: the remap page alone; tables 1.. the touched pages. */
	for (unsigned t = 0; t <= TABLES; t++)
		pd_w[t] = pa(pt_w[t]) | PTE_P | PTE_W | PTE_U;
	pt_w[0][0] = FRAME_A | PTE_P | PTE_W | PTE_U;
	for (unsigned i = 0; i < MAX_PAGES; i++)
		pt_w[1 + i / 512][i % 512] = (FRAMES + (uint64_t) i * 0x1000) | PTE_P | PTE_W | PTE_U;
	write_cr3(pa(pml4));
}

static uint64_t touch(uint64_t n)
{
	uint64_t s = 0;

	for (uint64_t i = 0; i < n; i++)
		s += *(volatile uint8_t *) (WINDOW + 0x200000 + i * 4096);
	return s;
}

void guest_main(const struct guest_boot *b)
{
	long n = cmdline_int("n", 1024), rounds = cmdline_int("rounds", 64), at_once = 0, after = 0;
	volatile uint64_t *page = (volatile uint64_t *) WINDOW;
	uint64_t t0, t1, t2;

	if (b->memory_bytes < FRAMES + MAX_PAGES * 4096ULL) {
		printf("directpaging: needs 64 MiB of memory\n");
		vmm_exit(1);
	}
	if (n < 1 || n > MAX_PAGES)
		n = MAX_PAGES;
	build_tables();
	t0 = bench_rdtsc();
	sink = touch((uint64_t) n);
	t1 = bench_rdtsc();
	sink = touch((uint64_t) n);
	t2 = bench_rdtsc();
	printf("directpaging: first=%lu native=%lu n=%ld\n", (unsigned long) ((t1 - t0) / n),
	       (unsigned long) ((t2 - t1) / n), n);

	*(volatile uint64_t *) FRAME_A = 0xa;
	*(volatile uint64_t *) FRAME_B = 0xb;
	for (long r = 0; r < rounds; r++) {
		uint64_t frame = r % 2 ? FRAME_A : FRAME_B, want = r % 2 ? 0xa : 0xb;

		(void) *page;                                  /* the old translation is in use */
		pt_w[0][0] = frame | PTE_P | PTE_W | PTE_U;    /* through the identity map: an alias */
		at_once += *page == want;
		invlpg(WINDOW);
		if (*page != want) {
			printf("directpaging: FAIL round %ld: after invlpg the page still shows its old frame\n", r);
			vmm_exit(1);
		}
		after++;
	}
	printf("directpaging: alias rounds=%ld new-frame-at-once=%ld after-invlpg=%ld\n", rounds, at_once, after);
	printf("directpaging: done\n");
	vmm_exit(0);
}
