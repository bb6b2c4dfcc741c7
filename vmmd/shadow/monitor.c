/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "vmmd/shadow/monitor.h"
#include "vmmd/shadow/shadow_mmu.h"
#include "x86/cpu.h"

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

bool monitor_contains(const struct monitor *m, uint64_t va)
{
	return va >= monitor_va(m, 0) && va < monitor_va(m, MON_PAGES);
}

int monitor_stub_vector(const struct monitor *m, uint64_t rip)
{
	uint64_t base = monitor_va(m, MON_PAGE_STUBS);
	if (rip < base || rip >= base + MON_SYSCALL_STUB + MON_STUB_SIZE)
		return -1;
	/* At the exit rip is on the `out` or just past it: both are in the stub. */
	return (int) ((rip - base) / MON_STUB_SIZE);
}

void *monitor_ptr(const struct monitor *mon, struct machine_memory *mm, uint64_t va, uint64_t len)
{
	if (!monitor_contains(mon, va) || len > monitor_va(mon, MON_PAGES) - va)
		return NULL;
	return machine_ptr(mm, mon->mpa + (va - monitor_va(mon, 0)), len);
}

static void write_gdt(uint8_t *gdt, uint64_t tss_va)
{
	put64(gdt + MON_SEL_CODE0, X86_DESC_CODE64_RING0);   /* ring-0 64-bit code */
	put64(gdt + MON_SEL_DATA0, X86_DESC_DATA_RING0);   /* ring-0 data */
	/* 64-bit available TSS, with its I/O bitmap */
	uint64_t lo = MON_TSS_LIMIT | ((tss_va & 0xffffff) << 16) | ((0x80ULL | X86_DESC_TYPE_TSS64) << 40) | (((tss_va >> 24) & 0xff) << 56);
	put64(gdt + MON_SEL_TSS, lo);
	put64(gdt + MON_SEL_TSS + 8, tss_va >> 32);
}

static void write_idt(const struct monitor *m, uint8_t *idt)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t off = monitor_stub_va(m, v);
		uint8_t *g = idt + v * 16;
		/* interrupt gate, present, DPL 0, IST 0, selector = ring-0 code */
		uint64_t lo = (off & 0xffff) | ((uint64_t) MON_SEL_CODE0 << 16) | ((0x80ULL | X86_GATE_INTERRUPT) << 40) |
			      (((off >> 16) & 0xffff) << 48);
		put64(g, lo);
		put64(g + 8, off >> 32);
	}
}

static void write_stubs(uint8_t *stubs)
{
	/* out %al, $port ; then ud2 as a backstop that is never reached. */
	for (unsigned v = 0; v <= 256; v++) {
		uint8_t *s = stubs + v * MON_STUB_SIZE;
		s[0] = 0xe6;
		s[1] = VMM_MONITOR_PORT;
		s[2] = 0x0f;
		s[3] = 0x0b;
		memset(s + 4, 0xcc, MON_STUB_SIZE - 4);
	}
}

void *monitor_window_ptr(const struct monitor *m, struct machine_memory *mm)
{
	if (!m->window_pages)
		return NULL;
	return machine_ptr(mm, m->mpa + MON_PAGES * 4096ULL, (size_t) m->window_pages * 4096);
}

/* The window: its pages right after the monitor's, then the PTs that map
 * them read-only, user-accessible and not executable, under a PD of its own
 * hung at PDPT[1] of a second PDPT that kernel roots use. */
static void build_window(uint8_t *m, uint64_t mpa, unsigned pages)
{
	uint64_t data = mpa + MON_PAGES * 4096ULL, pts = data + pages * 4096ULL;
	uint8_t *pt_host = m + (pts - mpa), *pd_host = m + MON_PAGE_WINDOW_PD * 4096;
	unsigned n_pt = (pages + 511) / 512;

	for (unsigned i = 0; i < pages; i++)
		put64(pt_host + i * 8, (data + i * 4096ULL) | X86_PTE_P | X86_PTE_U | X86_PTE_NX);
	for (unsigned i = 0; i < n_pt; i++)
		put64(pd_host + i * 8, (pts + i * 4096ULL) | X86_PTE_P | X86_PTE_W | X86_PTE_U);
	uint8_t *pdpt_k = m + MON_PAGE_PDPT_KERNEL * 4096;
	memcpy(pdpt_k, m + MON_PAGE_PDPT * 4096, 8);   /* PDPT[0]: the monitor, supervisor-only */
	put64(pdpt_k + 8, (mpa + MON_PAGE_WINDOW_PD * 4096ULL) | X86_PTE_P | X86_PTE_W | X86_PTE_U);
}

int monitor_build(struct machine_memory *mm, uint64_t mpa, unsigned slot, unsigned window_pages,
		  struct monitor *ret)
{
	if (slot < 256 || slot > 511 || window_pages > MON_WINDOW_MAX_PAGES)
		return -EINVAL;
	uint64_t bytes = monitor_machine_pages(window_pages) * 4096;
	uint8_t *m = machine_ptr(mm, mpa, bytes);
	if (!m || (mpa & 0xfff))
		return -ERANGE;
	struct monitor mon = { .mpa = mpa, .slot = slot, .vbase = monitor_slot_vbase(slot), .window_pages = window_pages };
	memset(m, 0, bytes);
	write_gdt(m + MON_PAGE_GDT * 4096, monitor_va(&mon, MON_PAGE_TSS));
	write_idt(&mon, m + MON_PAGE_IDT * 4096);
	/* TSS: rsp0 at offset 4; the I/O bitmap: every port closed (1) but
	 * the hypercall port, ports past the limit closed by the CPU. */
	uint8_t *tss = m + MON_PAGE_TSS * 4096;
	put64(tss + 4, monitor_stack_top(&mon));
	tss[102] = MON_TSS_IOMAP;
	memset(tss + MON_TSS_IOMAP, 0xff, MON_TSS_LIMIT + 1 - MON_TSS_IOMAP);
	tss[MON_TSS_IOMAP + VMM_HYPERCALL_PORT / 8] &= (uint8_t) ~(1u << (VMM_HYPERCALL_PORT % 8));
	write_stubs(m + MON_PAGE_STUBS * 4096);

	/* slot -> PDPT[0] -> PD[0] -> PT[0..MON_PAGES) (supervisor-only) */
	uint64_t pdpt = mpa + MON_PAGE_PDPT * 4096, pd = mpa + MON_PAGE_PD * 4096, pt = mpa + MON_PAGE_PT * 4096;
	put64(m + MON_PAGE_PDPT * 4096, pd | X86_PTE_P | X86_PTE_W);
	put64(m + MON_PAGE_PD * 4096, pt | X86_PTE_P | X86_PTE_W);
	for (unsigned i = 0; i < MON_PAGES; i++) {
		uint64_t flags = X86_PTE_P | X86_PTE_W | X86_PTE_NX;
		if (i == MON_PAGE_STUBS)
			flags = X86_PTE_P;   /* code: read-only, executable */
		put64(m + MON_PAGE_PT * 4096 + i * 8, (mpa + i * 4096) | flags);
	}
	mon.pml4e = mon.pml4e_kernel = pdpt | X86_PTE_P | X86_PTE_W;
	if (window_pages) {
		build_window(m, mpa, window_pages);
		/* U=1 at the top so the window is reachable from CPL3; the
		 * monitor's PDPT entries keep U=0, which wins. */
		mon.pml4e = pdpt | X86_PTE_P | X86_PTE_W | X86_PTE_U;
		mon.pml4e_kernel = (mpa + MON_PAGE_PDPT_KERNEL * 4096ULL) | X86_PTE_P | X86_PTE_W | X86_PTE_U;
	}
	*ret = mon;
	return 0;
}
