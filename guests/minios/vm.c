// SPDX-License-Identifier: MIT
/*
 * minios: page tables. Every process has its own PML4:
 *
 *   slot 0  the kernel half, shared: one PDPT and one PD for all processes,
 *           mapping guest-physical memory at its own address with 2 MiB
 *           supervisor-only pages (so the kernel reaches any page by its
 *           physical address, and user mode reaches none of them);
 *   slot 1  the user half, private (abi.h has the layout): the program
 *           image, the map region, the stack, device pages.
 *
 * A process's user-half tables and frames are listed in p->owned, one
 * page of physical addresses, so exit frees them without walking the
 * tables. Read-only program pages map the kernel image's embedded copy
 * directly (shared, not owned; image.c).
 *
 * PTE changes that remove or narrow a mapping are followed by invlpg (a
 * trap in shadow mode: the seed's "the OS tells the TLB, so the shadow can
 * follow"); new mappings need none, as nothing caches a not-present entry.
 */
#include "minios.h"

#define PML4_USER_SLOT 1

static uint64_t kernel_pdpt;

void vm_init(uint64_t mem)
{
	uint64_t pd = page_alloc(), i, *pdv;

	kernel_pdpt = page_alloc();
	if (!pd || !kernel_pdpt)
		panic("no memory for the kernel page tables");
	pdv = phys(pd);
	for (i = 0; i < align_up(mem, 1ull << 21) >> 21; i++)
		pdv[i] = i << 21 | PTE_P | PTE_W | PTE_PS;
	((uint64_t *) phys(kernel_pdpt))[0] = pd | PTE_P | PTE_W;
}

static int own(struct proc *p, uint64_t pa)
{
	if (p->nowned == MAX_OWNED)
		return -E_NOMEM;
	p->owned[p->nowned++] = pa;
	return 0;
}

static void disown(struct proc *p, uint64_t pa)
{
	unsigned i = p->nowned;

	while (i--) {           /* newest first: map/unmap pairs are O(1) */
		if (p->owned[i] == pa) {
			p->owned[i] = p->owned[--p->nowned];
			page_free(pa);
			return;
		}
	}
}

int vm_create(struct proc *p)
{
	uint64_t list;

	p->pml4 = page_alloc();
	list = page_alloc_raw();
	if (!p->pml4 || !list) {
		if (p->pml4)
			page_free(p->pml4);
		if (list)
			page_free(list);
		p->pml4 = 0;
		return -E_NOMEM;
	}
	p->owned = phys(list);
	p->nowned = 0;
	((uint64_t *) phys(p->pml4))[0] = kernel_pdpt | PTE_P | PTE_W;
	return 0;
}

/* The leaf entry for user address va, creating tables on the way when asked. */
static uint64_t *walk(struct proc *p, uint64_t va, bool create)
{
	uint64_t *t = phys(p->pml4);
	int shift;

	for (shift = 39; shift > 12; shift -= 9) {
		uint64_t *e = &t[(va >> shift) & 511];

		if (!(*e & PTE_P)) {
			uint64_t pa;

			if (!create || !(pa = page_alloc()))
				return NULL;
			if (own(p, pa) < 0) {
				page_free(pa);
				return NULL;
			}
			*e = pa | PTE_P | PTE_W | PTE_U;
		}
		t = phys(*e & PTE_ADDR);
	}
	return &t[(va >> 12) & 511];
}

int vm_map(struct proc *p, uint64_t va, uint64_t pa, uint64_t flags, bool owned)
{
	uint64_t *pte = walk(p, va, true);

	if (!pte)
		return -E_NOMEM;
	if (*pte & PTE_P)
		return -E_EXIST;
	if (owned && own(p, pa) < 0)
		return -E_NOMEM;
	*pte = pa | flags | PTE_P;
	return 0;
}

int vm_map_fresh(struct proc *p, uint64_t va, uint64_t flags)
{
	uint64_t pa = page_alloc();
	int r;

	if (!pa)
		return -E_NOMEM;
	r = vm_map(p, va, pa, flags, true);
	if (r < 0)
		page_free(pa);
	return r;
}

int vm_unmap(struct proc *p, uint64_t va)
{
	uint64_t *pte = walk(p, va, false), pa;

	if (!pte || !(*pte & PTE_P))
		return -E_INVAL;
	pa = *pte & PTE_ADDR;
	*pte = 0;
	invlpg(va);
	disown(p, pa);
	return 0;
}

static bool in_demand_region(uint64_t va)
{
	return (va >= USER_MAP_BASE && va < USER_MAP_END) || (va >= USER_STACK_LOW && va < USER_STACK_TOP);
}

bool vm_demand_fault(struct proc *p, uint64_t va)
{
	return in_demand_region(va) && vm_map_fresh(p, align_down(va, PAGE_SIZE), PTE_W | PTE_U) == 0;
}

/* Can the kernel touch [va, va + len) for this process? Demand pages are
 * mapped on the way, so the kernel itself never takes a user #PF. */
bool vm_user_ok(struct proc *p, uint64_t va, uint64_t len, bool write)
{
	uint64_t page;

	if (!len)
		return true;
	if (va < USER_BASE || va >= USER_END || len > USER_END - va)
		return false;
	for (page = align_down(va, PAGE_SIZE); page < va + len; page += PAGE_SIZE) {
		uint64_t *pte = walk(p, page, false);

		if (!pte || !(*pte & PTE_P)) {
			if (!vm_demand_fault(p, page))
				return false;
			continue;
		}
		if (!(*pte & PTE_U) || (write && !(*pte & PTE_W)))
			return false;
	}
	return true;
}

void vm_free_user(struct proc *p)
{
	unsigned i;

	((uint64_t *) phys(p->pml4))[PML4_USER_SLOT] = 0;
	for (i = 0; i < p->nowned; i++)
		page_free(p->owned[i]);
	p->nowned = 0;
}

void vm_free_pml4(struct proc *p)
{
	page_free(p->pml4);
	page_free((uint64_t) (uintptr_t) p->owned);
	p->pml4 = 0;
	p->owned = NULL;
}
