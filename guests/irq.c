// SPDX-License-Identifier: MIT
/*
 * irq: receives interrupts and says which. Installs an IDT with one stub
 * per vector, remaps the 8259 PICs to vectors 0x20..0x2f (IRQ 0, the PIT,
 * stays masked), software-enables the local APIC with LINT0 = ExtINT (the
 * PIC) and LINT1 = NMI, then halts with interrupts on. One line per
 * interrupt:
 *
 *   irq: vector 0x25 (irq 5)     a PIC line (its ISR bit was set)
 *   irq: vector 0x40             anything else through the LAPIC (MSI, IPI)
 *   irq: nmi                     vector 2
 *   irq: exception N error E     then exit with code 3
 *
 * Kernel-mode code is emulated instruction by instruction on hosts without
 * VT-x, so the handlers stay short: no int3, no SSE.
 */
#include "cpu_tables.h"
#include "guest.h"

#define PIC1_CMD      0x20
#define PIC1_DATA     0x21
#define PIC2_CMD      0xa0
#define PIC2_DATA     0xa1
#define PIC_VECTOR    0x20
#define PIC_EOI       0x20
#define PIC_READ_ISR  0x0b

#define LAPIC_BASE    0xfee00000UL
#define LAPIC_EOI     0x0b0
#define LAPIC_SVR     0x0f0
#define LAPIC_LVT0    0x350
#define LAPIC_LVT1    0x360
#define LVT_EXTINT    0x700
#define LVT_NMI       0x400

/*
 * 256 stubs, 16 bytes apart (as idt_set_stubs() expects): push a 0 where
 * the CPU pushes no error code, push the vector, go to the common part,
 * which saves the caller-saved registers and calls irq_dispatch(vector,
 * error).
 */
__asm__(
	"	.text\n"
	"	.balign 16\n"
	"irq_stubs:\n"
	"	.set vec, 0\n"
	"	.rept 256\n"
	"	.balign 16\n"
	"	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)\n"
	"	.else\n"
	"	pushq $0\n"
	"	.endif\n"
	"	pushq $vec\n"
	"	jmp irq_common\n"
	"	.set vec, vec + 1\n"
	"	.endr\n"
	"irq_common:\n"
	"	pushq %rax\n"
	"	pushq %rcx\n"
	"	pushq %rdx\n"
	"	pushq %rsi\n"
	"	pushq %rdi\n"
	"	pushq %r8\n"
	"	pushq %r9\n"
	"	pushq %r10\n"
	"	pushq %r11\n"
	"	movq 72(%rsp), %rdi\n"
	"	movq 80(%rsp), %rsi\n"
	"	call irq_dispatch\n"
	"	popq %r11\n"
	"	popq %r10\n"
	"	popq %r9\n"
	"	popq %r8\n"
	"	popq %rdi\n"
	"	popq %rsi\n"
	"	popq %rdx\n"
	"	popq %rcx\n"
	"	popq %rax\n"
	"	addq $16, %rsp\n"
	"	iretq\n");

extern const char irq_stubs[];

static struct idt_gate idt[256] __attribute__((aligned(16)));

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}

/* The PIC line behind vector v, if that PIC has it in service; else -1. */
static int pic_line_in_service(uint64_t v)
{
	unsigned line = (unsigned)(v - PIC_VECTOR);
	uint16_t cmd = line < 8 ? PIC1_CMD : PIC2_CMD;

	if (v < PIC_VECTOR || v >= PIC_VECTOR + 16)
		return -1;
	outb(cmd, PIC_READ_ISR);
	return inb(cmd) & (1u << (line & 7)) ? (int)line : -1;
}

void irq_dispatch(uint64_t vector, uint64_t error);

__attribute__((used)) void irq_dispatch(uint64_t vector, uint64_t error)
{
	int line;

	if (vector == 2) {
		printf("irq: nmi\n");
		return;
	}
	if (vector < 32) {
		printf("irq: exception %llu error 0x%llx\n", (unsigned long long)vector,
		       (unsigned long long)error);
		vmm_exit(3);
	}
	if (vector == 0xff)             /* the LAPIC's spurious vector: no EOI */
		return;
	line = pic_line_in_service(vector);
	if (line >= 0) {
		printf("irq: vector 0x%llx (irq %d)\n", (unsigned long long)vector, line);
		if (line >= 8)
			outb(PIC2_CMD, PIC_EOI);
		outb(PIC1_CMD, PIC_EOI);
		return;
	}
	printf("irq: vector 0x%llx\n", (unsigned long long)vector);
	lapic_write(LAPIC_EOI, 0);
}

static void setup_pic(void)
{
	outb(PIC1_CMD, 0x11);           /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC_VECTOR);    /* ICW2: vector bases */
	outb(PIC2_DATA, PIC_VECTOR + 8);
	outb(PIC1_DATA, 0x04);          /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01);          /* ICW4: 8086 mode */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0x01);          /* masks: only IRQ 0 (the PIT) */
	outb(PIC2_DATA, 0x00);
}

void guest_main(const struct guest_boot *b)
{
	idt_set_stubs(idt, 256, irq_stubs);   /* gates to 0x08: vmmd's boot GDT, which this guest keeps */
	idt_load(idt, sizeof(idt));
	setup_pic();
	lapic_write(LAPIC_SVR, 0x1ff);  /* software-enable, spurious vector 0xff */
	lapic_write(LAPIC_LVT0, LVT_EXTINT);
	lapic_write(LAPIC_LVT1, LVT_NMI);
	printf("irq: ready\n");
	for (;;)
		__asm__ volatile("sti; hlt" : : : "memory");
}
