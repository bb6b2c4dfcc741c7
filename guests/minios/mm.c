// SPDX-License-Identifier: MIT
/*
 * minios: the physical page allocator. Pages are 4 KiB, from the end of the
 * kernel image to the end of guest memory. A bump pointer hands out pages
 * never used before, a free list (linked through the first word of each
 * free page) the ones given back: boot costs nothing per page, and every
 * operation is O(1). The kernel half maps all of guest memory at its
 * physical address, so a page's address is also a kernel pointer to it.
 *
 * Zeroing uses `rep stosq` and copying `rep movsq`: 512 iterations per
 * page, each emulated one by one where KVM emulates CPL0 code.
 */
#include "minios.h"

static uint64_t bump, end_of_memory, free_list, nfree;

void mm_init(uint64_t start, uint64_t end)
{
	bump = start;
	end_of_memory = end & ~(uint64_t) (PAGE_SIZE - 1);
	nfree = (end_of_memory - bump) / PAGE_SIZE;
}

uint64_t page_alloc_raw(void)
{
	uint64_t pa;

	if (free_list) {
		pa = free_list;
		free_list = *(uint64_t *) phys(pa);
	} else if (bump < end_of_memory) {
		pa = bump;
		bump += PAGE_SIZE;
	} else {
		return 0;
	}
	nfree--;
	return pa;
}

uint64_t page_alloc(void)
{
	uint64_t pa = page_alloc_raw();
	void *d = phys(pa);
	uint64_t n = PAGE_SIZE / 8;

	if (pa)
		__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
	return pa;
}

void page_free(uint64_t pa)
{
	*(uint64_t *) phys(pa) = free_list;
	free_list = pa;
	nfree++;
}

uint64_t mm_free_pages(void)
{
	return nfree;
}

/* Copy n bytes (n a multiple of 8 where it matters: whole pages) to a page. */
void page_copy(uint64_t dst, const void *src, size_t n)
{
	void *d = phys(dst);
	size_t q = n / 8, r = n % 8;

	__asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(q) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(r) : : "memory");
}
