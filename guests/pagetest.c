// SPDX-License-Identifier: MIT
/*
 * pagetest: builds its own page tables, so introspection can be checked
 * against what the guest itself knows. The new PML4 keeps vmmd's identity
 * map (entry 0) and adds the upper half (entry 256, 0xffff800000000000):
 *
 *   PAGETEST_4K  a 4 KiB page -> pattern_page, writable, NX, supervisor
 *   PAGETEST_2M  a 2 MiB page -> guest-physical 4 MiB, writable, user
 *   PAGETEST_1G  a 1 GiB page -> guest-physical 0, read-only
 *
 * It sets EFER.NXE, loads the new CR3, writes a pattern through
 * PAGETEST_4K, reads it back through the 1 GiB alias when the CPU has
 * 1 GiB pages (CPUID PDPE1GB; without them that entry is left in place,
 * a reserved-bit fault waiting for an access) and prints
 *
 *   pagetest: cr3=0x... 4k=0x... phys=0x... 2m=0x... 1g=0x... (1g pages: yes|no)
 *   pagetest: pattern 'vmmd pagetest 4k page' ok
 *
 * and spins (interrupts stay off: there is no IDT).
 */
#include "guest.h"

#define PTE_P   0x001ULL
#define PTE_W   0x002ULL
#define PTE_U   0x004ULL
#define PTE_PS  0x080ULL
#define PTE_NX  (1ULL << 63)

#define PAGETEST_4K 0xffff800000001000ULL
#define PAGETEST_2M 0xffff800000200000ULL
#define PAGETEST_1G 0xffff800040000000ULL
#define PHYS_2M     0x400000ULL

static const char pattern[] = "vmmd pagetest 4k page";

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt_hi[512] __attribute__((aligned(4096)));
static uint64_t pd_hi[512] __attribute__((aligned(4096)));
static uint64_t pt_hi[512] __attribute__((aligned(4096)));
static uint8_t pattern_page[4096] __attribute__((aligned(4096)));
volatile uint64_t pagetest_spins;

static uint64_t pa(const void *p)
{
	return (uint64_t)(uintptr_t)p;   /* the image runs on an identity map */
}

static unsigned idx(uint64_t v, int level)
{
	return (unsigned)((v >> (12 + 9 * (level - 1))) & 511);
}

static bool has_1g_pages(void)
{
	uint32_t a = 0x80000001u, bx, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(bx), "+c"(c), "=d"(d));
	return (d >> 26) & 1;
}

void guest_main(const struct guest_boot *b)
{
	const char *check;
	uint64_t cr3;

	uint32_t lo, hi;

	/* EFER.NXE, or bit 63 of an entry is a reserved bit (a #PF). */
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
	__asm__ volatile("wrmsr" : : "a"(lo | (1u << 11)), "d"(hi), "c"(0xc0000080u));
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	memcpy(pml4, (const void *)(uintptr_t)(cr3 & ~0xfffULL), sizeof(pml4));
	pml4[256] = pa(pdpt_hi) | PTE_P | PTE_W | PTE_U;
	pdpt_hi[idx(PAGETEST_4K, 3)] = pa(pd_hi) | PTE_P | PTE_W | PTE_U;
	pd_hi[idx(PAGETEST_4K, 2)] = pa(pt_hi) | PTE_P | PTE_W | PTE_U;
	pt_hi[idx(PAGETEST_4K, 1)] = pa(pattern_page) | PTE_P | PTE_W | PTE_NX;
	pd_hi[idx(PAGETEST_2M, 2)] = PHYS_2M | PTE_P | PTE_W | PTE_U | PTE_PS;
	pdpt_hi[idx(PAGETEST_1G, 3)] = 0 | PTE_P | PTE_PS;
	cr3 = pa(pml4);
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");

	memcpy((void *)(uintptr_t)PAGETEST_4K, pattern, sizeof(pattern));
	printf("pagetest: cr3=0x%llx 4k=0x%llx phys=0x%llx 2m=0x%llx 1g=0x%llx (1g pages: %s)\n",
	       (unsigned long long)cr3, (unsigned long long)PAGETEST_4K,
	       (unsigned long long)pa(pattern_page), (unsigned long long)PAGETEST_2M,
	       (unsigned long long)PAGETEST_1G, has_1g_pages() ? "yes" : "no");
	check = (const char *)(uintptr_t)(has_1g_pages() ? PAGETEST_1G + pa(pattern_page) : PAGETEST_4K);
	printf("pagetest: pattern '%s' %s\n", check, memcmp(check, pattern, sizeof(pattern)) ? "MISMATCH" : "ok");
	for (;;) {
		pagetest_spins++;
		cpu_relax();
	}
}
