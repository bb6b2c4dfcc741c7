/* SPDX-License-Identifier: MIT */
/*
 * The guest's x86-64 4-level page walk as the CPU does it, over guest
 * tables placed in machine memory through the physmap, with the SDM's
 * permission rules, error codes and accessed/dirty updates.
 *
 * Choices where hardware leaves room or vmmd simplifies:
 *  - a table (or CR3) outside guest RAM reads as a not-present entry, so the
 *    guest gets an ordinary not-present #PF rather than a machine check;
 *  - reserved bits checked: PS in a PML4E, NX while EFER.NXE = 0, and the
 *    low address bits of 2 MiB / 1 GiB pages (13..20 / 13..29, bit 12 is PAT);
 *    address bits above MAXPHYADDR are not (a gpa beyond RAM is MMIO anyway);
 *  - CR4.SMEP/SMAP/PKE are not emulated (vmmd does not offer them);
 *  - A (every level) and D (leaf, writes) are set only when the whole access
 *    succeeds, each with one atomic OR on the entry, as a locked RMW would.
 */
#include <errno.h>

#include "vmmd/shadow/shadow_mmu_priv.h"

static bool reserved(uint64_t e, int level, bool nxe)
{
	if ((e & X86_PTE_NX) && !nxe)
		return true;
	if (level == 4 && (e & X86_PTE_PS))
		return true;
	if ((level == 3 || level == 2) && (e & X86_PTE_PS)) {
		uint64_t low = ((1ULL << (12 + 9 * (level - 1))) - 1) & ~0x1fffULL;
		if (e & low)
			return true;
	}
	return false;
}

int smmu_walk_path(const struct machine_memory *mm, const struct physmap *pm, uint64_t guest_cr3,
		   uint64_t va, unsigned access, bool guest_wp, bool nxe, bool set_ad,
		   struct gpath *ret, uint32_t *ret_error)
{
	bool write = access & SHADOW_ACC_WRITE, user = access & SHADOW_ACC_USER;
	bool fetch = access & SHADOW_ACC_FETCH;
	uint32_t acc = (write ? X86_PF_WRITE : 0) | (user ? X86_PF_USER : 0) | (fetch && nxe ? X86_PF_INSTR : 0);
	uint64_t *ptr[5] = { 0 };
	struct gpath p = { 0 };
	bool user_ok = true, write_ok = true, nx = false;
	uint64_t table = guest_cr3 & X86_CR3_ADDR, e = 0, size;
	int level;

	if (!gw_canonical(va))
		return -EINVAL;

	for (level = 4; level >= 1; level--) {
		uint64_t egpa = table + 8 * smmu_index(va, level);

		ptr[level] = physmap_guest_ptr(pm, mm, egpa, sizeof(uint64_t));
		if (!ptr[level]) {
			*ret_error = acc;
			return -EFAULT;
		}
		e = __atomic_load_n(ptr[level], __ATOMIC_ACQUIRE);
		if (!(e & X86_PTE_P)) {
			*ret_error = acc;
			return -EFAULT;
		}
		if (reserved(e, level, nxe)) {
			*ret_error = acc | X86_PF_PROT | X86_PF_RSVD;
			return -EFAULT;
		}
		user_ok &= !!(e & X86_PTE_U);
		write_ok &= !!(e & X86_PTE_W);
		nx |= nxe && (e & X86_PTE_NX);
		p.table[level] = table;
		p.entry[level] = e;
		if (level == 1 || (e & X86_PTE_PS))
			break;
		table = e & X86_PTE_ADDR;
	}

	if ((user && !user_ok) || (write && !write_ok && (user || guest_wp)) || (fetch && nx)) {
		*ret_error = acc | X86_PF_PROT;
		return -EFAULT;
	}

	if (set_ad) {
		for (int l = 4; l >= level; l--) {
			uint64_t bits = X86_PTE_A | (l == level && write ? X86_PTE_D : 0);
			if ((p.entry[l] & bits) != bits)
				p.entry[l] = __atomic_or_fetch(ptr[l], bits, __ATOMIC_ACQ_REL);
		}
	}

	size = PAGE_SIZE_4K << (9 * (level - 1));
	p.leaf_level = level;
	p.w = (struct gwalk) {
		.gpa = (e & X86_PTE_ADDR & ~(size - 1)) | (va & (size - 1)),
		.pte = p.entry[level],
		.pte_gpa = p.table[level] + 8 * smmu_index(va, level),
		.page_size = size,
		.user = user_ok,
		.writable = write_ok,
		.nx = nx,
	};
	*ret = p;
	return 0;
}

int smmu_guest_walk(const struct machine_memory *mm, const struct physmap *pm, uint64_t guest_cr3,
		    uint64_t va, unsigned access, bool guest_wp, bool nxe, bool set_ad,
		    struct gwalk *ret, uint32_t *ret_error)
{
	struct gpath p;
	uint32_t err = 0;
	int r;

	r = smmu_walk_path(mm, pm, guest_cr3, va, access, guest_wp, nxe, set_ad, &p, &err);
	if (r == -EFAULT && ret_error)
		*ret_error = err;
	if (r < 0)
		return r;
	if (ret)
		*ret = p.w;
	return 0;
}
