// SPDX-License-Identifier: MIT
/* Descriptor tables: see cpu_tables.h. */
#include "cpu_tables.h"

struct __packed dtr {
	uint16_t limit;
	uint64_t base;
};

void idt_set_stubs(struct idt_gate *idt, unsigned n, const char *stubs)
{
	unsigned v;

	for (v = 0; v < n; v++)
		idt_set_gate(idt, v, stubs + 16 * v, 0);
}

void idt_load(const struct idt_gate *idt, size_t size)
{
	struct dtr d = { (uint16_t) (size - 1), (uint64_t) (uintptr_t) idt };

	__asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

void gdt_load(uint64_t *gdt, size_t gdt_size, unsigned tss_sel, struct tss64 *tss, size_t tss_size,
	      uint64_t rflags)
{
	uint64_t base = (uint64_t) (uintptr_t) tss;
	struct dtr g = { (uint16_t) (gdt_size - 1), (uint64_t) (uintptr_t) gdt };

	tss->iomap_base = sizeof(struct tss64);
	gdt[tss_sel / 8] = (tss_size - 1) | (base & 0xffffff) << 16 | 0x89ull << 40 | ((base >> 24) & 0xff) << 56;
	gdt[tss_sel / 8 + 1] = base >> 32;
	/* iretq, not lretq or mov %ss: vmmd emulates it in shadow mode. */
	__asm__ volatile("lgdt %0\n\t"
			 "mov %%rsp, %%rax\n\t"
			 "pushq %1\n\t"
			 "pushq %%rax\n\t"
			 "pushq %2\n\t"
			 "pushq %3\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "iretq\n"
			 "1:\n\t"
			 "ltr %w4"
			 : : "m"(g), "i"(KERNEL_DS), "r"(rflags), "i"(KERNEL_CS), "r"(tss_sel) : "rax", "memory");
}
