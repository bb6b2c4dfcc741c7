// SPDX-License-Identifier: MIT
/*
 * holes: the seed's "non-virtualizable instructions" made visible. Each line
 * prints what an instruction that behaves differently in kernel and user
 * mode tells the guest: sgdt/sidt/str/smsw (closed in shadow mode by UMIP,
 * which makes them trap), cpuid (closed by CPUID faulting), pushf's IF
 * (closed by keeping the real IF equal to the virtual one). On a host where
 * vmmd can close them all, the output is the same in hw and shadow mode;
 * where it cannot, the difference shows exactly which hole leaks.
 */
#include "guest.h"

struct __attribute__((packed)) dtr {
	uint16_t limit;
	uint64_t base;
};

static uint64_t flags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

void guest_main(const struct guest_boot *b)
{
	struct dtr gdt, idt;
	uint16_t tr, msw;
	uint32_t a = 0, bx, c = 0, d;

	(void)b;
	__asm__ volatile("sgdt %0" : "=m"(gdt));
	__asm__ volatile("sidt %0" : "=m"(idt));
	__asm__ volatile("str %0" : "=r"(tr));
	__asm__ volatile("smsw %0" : "=r"(msw));
	printf("holes: sgdt base=0x%llx limit=%u\n", (unsigned long long)gdt.base, gdt.limit);
	printf("holes: sidt base=0x%llx limit=%u\n", (unsigned long long)idt.base, idt.limit);
	printf("holes: str=0x%x smsw=0x%x\n", tr, msw);
	__asm__ volatile("cpuid" : "+a"(a), "=b"(bx), "+c"(c), "=d"(d));
	char vendor[13];
	for (int i = 0; i < 4; i++) {
		vendor[i] = (char)(bx >> (8 * i));
		vendor[4 + i] = (char)(d >> (8 * i));
		vendor[8 + i] = (char)(c >> (8 * i));
	}
	vendor[12] = '\0';
	printf("holes: cpuid vendor=%s\n", vendor);
	printf("holes: pushf IF=%d (interrupts are off at boot)\n", (int)((flags() >> 9) & 1));
	__asm__ volatile("sti");
	printf("holes: pushf IF=%d after sti\n", (int)((flags() >> 9) & 1));
	__asm__ volatile("cli");
	vmm_exit(0);
}
