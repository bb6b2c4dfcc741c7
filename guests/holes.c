// SPDX-License-Identifier: MIT
/*
 * holes: the seed's "non-virtualizable instructions" made visible. Each line
 * prints what an instruction that behaves differently in kernel and user
 * mode tells the guest: sgdt/sidt/str/smsw (closed in shadow mode by UMIP,
 * which makes them trap), cpuid (closed by CPUID faulting), pushf's IF
 * (closed by keeping the real IF equal to the virtual one), and popf's IF,
 * which no VMM can close: at CPL3 with IOPL 0 the CPU ignores the IF bit
 * popf loads, without a fault, so a deprivileged kernel that restores IF
 * with popf silently keeps the old one (the seed's "popf pushf is hard").
 * On a host where vmmd can close the others, the output is the same in hw
 * and shadow mode but for the two popf lines; where it cannot, the
 * difference shows exactly which hole leaks.
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

static int pushf_if(void)
{
	return (int) ((flags() >> 9) & 1);
}

/* popf of the current flags with IF set to `to`; then what pushf reads. */
static void popf_if(int to)
{
	uint64_t f = (flags() & ~(1ull << 9)) | ((uint64_t) to << 9);
	int was = pushf_if();
	__asm__ volatile("pushq %0; popfq" : : "r"(f) : "cc", "memory");
	printf("holes: popf IF=%d (IF was %d) -> pushf IF=%d\n", to, was, pushf_if());
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
	printf("holes: pushf IF=%d (interrupts are off at boot)\n", pushf_if());
	__asm__ volatile("sti");
	printf("holes: pushf IF=%d after sti\n", pushf_if());
	popf_if(0);
	__asm__ volatile("cli");
	popf_if(1);
	__asm__ volatile("cli");
	vmm_exit(0);
}
