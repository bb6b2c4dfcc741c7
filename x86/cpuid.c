/* SPDX-License-Identifier: MIT */
#include "x86/cpuid.h"

#define CPUID_EXT_FEATURES   0x80000001u
#define CPUID_EXT_ADDR_SIZES 0x80000008u
#define CPUID_PDPE1GB        (1u << 26)

void x86_cpuid_paging(const struct kvm_cpuid_entry2 *entries, unsigned n, struct gw_config *ret)
{
	*ret = (struct gw_config) { .phys_bits = 52 };
	for (unsigned i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *e = &entries[i];
		if (e->function == CPUID_EXT_FEATURES)
			ret->no_1g = !(e->edx & CPUID_PDPE1GB);
		else if (e->function == CPUID_EXT_ADDR_SIZES && (e->eax & 0xff) >= 32 && (e->eax & 0xff) <= 52)
			ret->phys_bits = e->eax & 0xff;
	}
}
