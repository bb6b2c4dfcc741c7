// SPDX-License-Identifier: MIT
/*
 * mmio: touches vmmd's info page (abi/bootinfo.h VMM_INFO_*) through
 * the boot identity map. In hw mode each access is a KVM MMIO exit; in
 * shadow mode the page is never mapped in the shadow tables, so each access
 * page-faults and vmmd decodes and dispatches it (the seed's "two types of
 * page faults"). The output is the same either way.
 */
#include "guest.h"
#include "abi/bootinfo.h"

static volatile uint32_t *reg(unsigned offset)
{
	return (volatile uint32_t *)(uintptr_t)(VMM_INFO_MMIO_BASE + offset);
}

void guest_main(const struct guest_boot *b)
{
	(void)b;
	uint32_t magic = *reg(VMM_INFO_MAGIC);
	uint32_t version = *reg(VMM_INFO_VERSION);
	printf("mmio: magic %x (%s), version %u\n", magic,
	       magic == VMM_INFO_MAGIC_VALUE ? "VMMD" : "wrong", version);
	*reg(VMM_INFO_SCRATCH) = 0x1234abcd;
	printf("mmio: scratch after writing 0x1234abcd: %x\n", *reg(VMM_INFO_SCRATCH));
	*reg(VMM_INFO_SCRATCH) = 7;
	printf("mmio: scratch after writing 7: %x\n", *reg(VMM_INFO_SCRATCH));
	printf("mmio: accesses so far: %u\n", *reg(VMM_INFO_ACCESSES));
	vmm_exit(magic == VMM_INFO_MAGIC_VALUE ? 0 : 1);
}
