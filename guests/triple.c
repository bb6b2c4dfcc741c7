// SPDX-License-Identifier: MIT
/*
 * triple: forces a triple fault (KVM_EXIT_SHUTDOWN). Loads an IDT with
 * limit 0 and executes ud2: #UD cannot be delivered -> #GP -> #DF ->
 * shutdown. Not int3: it fails to emulate at CPL0 on hosts without VT-x.
 */
#include "guest.h"

struct __packed idtr {
	uint16_t limit;
	uint64_t base;
};

void guest_main(const struct guest_boot *b)
{
	static const struct idtr empty = { 0, 0 };

	printf("triple: faulting now\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty) : "memory");
	printf("triple: still alive after ud2?\n");
	halt_forever();
}
