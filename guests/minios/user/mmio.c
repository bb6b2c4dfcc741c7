// SPDX-License-Identifier: MIT
/*
 * mmio: map a device page (memory-mapped I/O, the seed's "magic memory")
 * and access it. 0xd0000000 is above RAM and below 4 GiB, where no device
 * of vmmd's answers: a read returns all-ones, a write is dropped (vmmd's bus
 * counts both as misses: `vmmctl bus`). In hw mode each access exits from
 * KVM to vmmd (KVM_EXIT_MMIO); in shadow mode the page stays not-present in
 * the shadow tables and vmmd decodes the faulting instruction. The same
 * text either way.
 */
#include "ulib.h"

#define DEVICE_PA 0xd0000000ull

int main(const char *args)
{
	volatile uint32_t *dev = (volatile uint32_t *) USER_DEV_BASE;
	uint32_t v;
	long r;

	r = mapdev(USER_DEV_BASE, DEVICE_PA);
	if (r < 0) {
		printf("mmio: mapdev failed (error %ld)\n", -r);
		return 1;
	}
	printf("mmio: device page 0x%llx mapped at 0x%llx, uncached\n", DEVICE_PA, (unsigned long long) USER_DEV_BASE);
	v = dev[0];
	printf("mmio: read  [0x000] = 0x%08x (nothing decodes this address)\n", v);
	dev[1] = 0x12345678;
	v = dev[1];
	printf("mmio: wrote [0x004] = 0x12345678, read back 0x%08x\n", v);
	v = ((volatile uint8_t *) dev)[0xfff];
	printf("mmio: read  [0xfff] = 0x%02x (a byte access)\n", v);
	unmap(USER_DEV_BASE);
	r = mapdev(USER_DEV_BASE, 0x100000);
	printf("mmio: mapping RAM (0x100000) as a device: error %ld (refused)\n", -r);
	return 0;
}
