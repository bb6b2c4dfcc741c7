/* SPDX-License-Identifier: MIT */
/*
 * Descriptor tables for guests that install their own (pt, minios,
 * trapbench, idle, irq): GDT descriptors and a 64-bit TSS, IDT gates from
 * a table of entry stubs, and loading both. The loads are instructions
 * vmmd emulates in shadow mode (guests/README.md, "Shadow-mode guest
 * contract"): lgdt, lidt, ltr, and CS/SS reloaded with iretq.
 *
 * Every GDT here, vmmd's boot GDT and the PVH stub's have 64-bit kernel
 * code at 0x08 (the selector of every gate) and the guests' own have kernel
 * data at 0x10.
 */
#ifndef GUEST_CPU_TABLES_H
#define GUEST_CPU_TABLES_H

#include "types.h"

#define KERNEL_CS   0x08
#define KERNEL_DS   0x10

/* Flat segment descriptors, base 0, limit 4 GiB. */
#define GDT_KERNEL_CODE64 0x00af9a000000ffffull
#define GDT_KERNEL_DATA   0x00cf92000000ffffull
#define GDT_USER_CODE32   0x00cffa000000ffffull     /* DPL 3 */
#define GDT_USER_DATA     0x00cff2000000ffffull     /* DPL 3 */
#define GDT_USER_CODE64   0x00affa000000ffffull     /* DPL 3 */

/* The 64-bit TSS. A caller that wants an I/O bitmap puts it right after. */
struct __packed tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, attr;
	uint16_t off1;
	uint32_t off2, reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "a 64-bit IDT gate");

/* A 64-bit interrupt gate (IF cleared on entry) to fn, callable from user
 * mode (int n) with dpl 3. */
static inline void idt_set_gate(struct idt_gate *idt, unsigned vector, const void *fn, unsigned dpl)
{
	uint64_t a = (uint64_t) (uintptr_t) fn;

	idt[vector] = (struct idt_gate) {
		.off0 = (uint16_t) a, .sel = KERNEL_CS, .attr = (uint8_t) (0x8e | dpl << 5),
		.off1 = (uint16_t) (a >> 16), .off2 = (uint32_t) (a >> 32),
	};
}

/* Vectors 0 to n - 1, DPL 0: vector v's stub is at stubs + 16 * v. */
void idt_set_stubs(struct idt_gate *idt, unsigned n, const char *stubs);

/* lidt: an IDT of size bytes. */
void idt_load(const struct idt_gate *idt, size_t size);

/*
 * Write tss's descriptor (tss_size bytes: the TSS and any I/O bitmap after
 * it) into gdt at tss_sel, set tss->iomap_base to the end of struct tss64
 * (no bitmap where tss_size is sizeof(struct tss64): user in/out faults),
 * then lgdt, reload CS = KERNEL_CS and SS = KERNEL_DS with iretq (RFLAGS
 * becomes rflags) and ltr. DS/ES keep their flat cached descriptors.
 */
void gdt_load(uint64_t *gdt, size_t gdt_size, unsigned tss_sel, struct tss64 *tss, size_t tss_size,
	      uint64_t rflags);

static inline uint64_t read_rflags(void)
{
	uint64_t v;

	__asm__ volatile("pushfq\n\tpopq %0" : "=r"(v));
	return v;
}

#endif
