// SPDX-License-Identifier: MIT
/*
 * idle: the density guest of B5 (bench/b5_density.py). Installs an IDT in
 * which every interrupt vector (32-255) just returns and every exception
 * (0-31) ends the VM with exit code 3, prints "idle: ready", then
 * `sti; hlt` forever. It programs no device, so nothing wakes it: in hw
 * mode KVM halts the vCPU in the kernel, in shadow mode vmmd emulates the
 * hlt and its vCPU thread sleeps.
 *
 * With "touch=1" it first reads one byte of every 4 KiB page of its
 * memory (through vmmd's identity map), so that in shadow mode vmmd builds
 * a shadow mapping for each: a guest with many (mmu.shadow's paging,
 * tests/e2e/test_shadow.py). It prints "idle: touched N pages".
 *
 * Keeps vmmd's boot GDT (code selector 0x08) and page tables; no popf
 * (shadow-mode guest contract, guests/README.md).
 */
#include "cpu_tables.h"
#include "guest.h"

__noreturn void idle_exception(void);
extern const char idle_irq[], idle_exc[];

__asm__(
	"	.text\n"
	"idle_irq:\n"
	"	iretq\n"
	"idle_exc:\n"
	"	andq $-16, %rsp\n"
	"	call idle_exception\n");

static struct idt_gate idt[256] __attribute__((aligned(16)));

__noreturn void idle_exception(void)
{
	printf("idle: unexpected exception\n");
	vmm_exit(3);
}

void guest_main(const struct guest_boot *b)
{
	unsigned v;

	for (v = 0; v < 256; v++)
		idt_set_gate(idt, v, v < 32 ? idle_exc : idle_irq, 0);
	idt_load(idt, sizeof(idt));
	if (cmdline_int("touch", 0) == 1) {
		unsigned long pages = 0;

		for (uint64_t a = 4096; a + 4096 <= b->memory_bytes; a += 4096, pages++)
			(void) *(volatile const uint8_t *) (uintptr_t) a;
		printf("idle: touched %lu pages\n", pages);
	}
	printf("idle: ready\n");
	for (;;)
		__asm__ volatile("sti\n\thlt" : : : "memory");
}
