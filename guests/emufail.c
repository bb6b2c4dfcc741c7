// SPDX-License-Identifier: MIT
/*
 * emufail: the instructions KVM's emulator gives up on at CPL0 where it
 * emulates guest kernel code (DESIGN.md host quirks), for vmmd's fallback
 * (vmmd/worker/emulation_fallback.c, tests/e2e/test_emulation.py):
 *   int3       its #BP handler must see the RIP after the int3
 *   stac/clac  RFLAGS.AC set, then cleared
 *   popcnt     (with "fail=1") what vmmd does not emulate: the VM crashes
 *              with the RIP and bytes; on VT-x/AMD-V it just runs
 * Exits through debug-exit with 0 when everything behaved.
 */
#include "guest.h"
#include "cpu_tables.h"

#define RFLAGS_AC (1ull << 18)

volatile uint64_t bp_rip, bp_count;
extern const char bp_stub[], after_int3[];

/* #BP is a trap: the frame's RIP is the instruction after the int3. */
__asm__(".text\n"
	".globl bp_stub\n"
	"bp_stub:\n"
	"\tpushq %rax\n"
	"\tmovq 8(%rsp), %rax\n"
	"\tmovq %rax, bp_rip(%rip)\n"
	"\tincq bp_count(%rip)\n"
	"\tpopq %rax\n"
	"\tiretq\n");

static struct idt_gate idt[256] __attribute__((aligned(16)));

void guest_main(const struct guest_boot *b)
{
	int bad = 0;

	idt_set_gate(idt, 3, bp_stub, 0);
	idt_load(idt, sizeof(idt));

	__asm__ volatile("int3\n\t.globl after_int3\nafter_int3:" ::: "memory");
	if (bp_count == 1 && bp_rip == (uint64_t) (uintptr_t) after_int3) {
		printf("emufail: int3 -> #BP handler saw the next rip\n");
	} else {
		printf("emufail: int3 -> #BP count %llu rip 0x%llx, want 1 and 0x%llx\n",
		       (unsigned long long) bp_count, (unsigned long long) bp_rip,
		       (unsigned long long) (uintptr_t) after_int3);
		bad = 1;
	}

	__asm__ volatile("stac" ::: "cc");
	uint64_t set = read_rflags() & RFLAGS_AC;
	__asm__ volatile("clac" ::: "cc");
	uint64_t clear = read_rflags() & RFLAGS_AC;
	printf("emufail: stac -> AC %s, clac -> AC %s\n", set ? "set" : "CLEAR", clear ? "SET" : "clear");
	bad |= !set || clear;

	if (cmdline_int("fail", 0)) {
		uint64_t v = 0xf0f0, n;
		printf("emufail: popcnt next\n");
		__asm__ volatile("popcnt %1, %0" : "=r"(n) : "r"(v));
		printf("emufail: popcnt ran natively: %llu\n", (unsigned long long) n);
	}
	vmm_exit(bad);
}
