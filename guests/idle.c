// SPDX-License-Identifier: MIT
/*
 * idle: the density guest of B5 (bench/b5_density.py). Installs an IDT in
 * which every interrupt vector (32-255) just returns and every exception
 * (0-31) ends the VM with exit code 3, prints "idle: ready", then
 * `sti; hlt` forever. It programs no device, so nothing wakes it: in hw
 * mode KVM halts the vCPU in the kernel, in shadow mode vmmd emulates the
 * hlt and its vCPU thread sleeps.
 *
 * Keeps vmmd's boot GDT (code selector 0x08) and page tables; no popf
 * (shadow-mode guest contract, guests/README.md).
 */
#include "guest.h"

#define GDT_CODE64 0x08         /* vmmd's boot GDT */
#define GATE_INTR  0x8e         /* present, DPL 0, 64-bit interrupt gate */

struct __packed idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t attr;
	uint16_t off1;
	uint32_t off2;
	uint32_t reserved;
};

struct __packed dtr {
	uint16_t limit;
	uint64_t base;
};

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
	struct dtr d = { sizeof(idt) - 1, (uint64_t) (uintptr_t) idt };
	unsigned v;

	for (v = 0; v < 256; v++) {
		uint64_t a = (uint64_t) (uintptr_t) (v < 32 ? idle_exc : idle_irq);

		idt[v] = (struct idt_gate) {
			.off0 = (uint16_t) a, .sel = GDT_CODE64, .attr = GATE_INTR,
			.off1 = (uint16_t) (a >> 16), .off2 = (uint32_t) (a >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(d) : "memory");
	printf("idle: ready\n");
	for (;;)
		__asm__ volatile("sti\n\thlt" : : : "memory");
}
