/* SPDX-License-Identifier: MIT */
/*
 * The guest's page walk for the shadow MMU and the engine: x86/guest_walk's
 * gw_walk over guest tables placed in machine memory through the physmap.
 * Only the memory is the shadow side's:
 *  - a table (or CR3) outside guest RAM is refused by the reader, so the
 *    guest gets an ordinary not-present #PF rather than a machine check;
 *  - A and D are set with one atomic OR on the entry in guest RAM, as a
 *    locked read-modify-write would (another vCPU may run natively on it).
 * MAXPHYADDR and 1 GiB pages are the vCPU's CPUID (smmu_config), so the
 * reserved-bit rule is the one `vmmctl translate` and hw mode see.
 */
#include <errno.h>

#include "vmmd/shadow/shadow_mmu_priv.h"

static uint64_t *entry_ptr(const struct smmu *s, uint64_t gpa)
{
	if (gpa & 7)
		return NULL;
	return physmap_guest_ptr(s->pm, s->mm, gpa, sizeof(uint64_t));
}

static int read_entry(void *opaque, uint64_t gpa, uint64_t *ret)
{
	uint64_t *p = entry_ptr(opaque, gpa);
	if (!p)
		return -EFAULT;
	*ret = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	return 0;
}

static int set_entry_bits(void *opaque, uint64_t gpa, uint64_t bits, uint64_t *ret)
{
	uint64_t *p = entry_ptr(opaque, gpa);
	if (!p)
		return -EFAULT;
	*ret = __atomic_or_fetch(p, bits, __ATOMIC_ACQ_REL);
	return 0;
}

void smmu_guest_memory(const struct smmu *s, struct gw_memory *ret)
{
	*ret = (struct gw_memory) { .read = read_entry, .set_bits = set_entry_bits, .opaque = (void *) s };
}

void smmu_walk_config(const struct smmu *s, bool guest_wp, bool nxe, struct gw_config *ret)
{
	*ret = (struct gw_config) {
		.phys_bits = s->cfg.phys_bits ? s->cfg.phys_bits : 52, .no_1g = s->cfg.no_1g,
		.nxe = nxe, .wp = guest_wp,
	};
}

int smmu_guest_walk(const struct smmu *s, uint64_t guest_cr3, uint64_t va, unsigned access, bool guest_wp,
		    bool nxe, bool set_ad, struct gw_result *ret)
{
	struct gw_memory mem;
	struct gw_config cfg;

	smmu_guest_memory(s, &mem);
	smmu_walk_config(s, guest_wp, nxe, &cfg);
	return gw_walk(&mem, guest_cr3, va, access, &cfg, set_ad, ret);
}
