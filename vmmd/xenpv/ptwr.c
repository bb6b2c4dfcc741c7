/* SPDX-License-Identifier: MIT */
/*
 * The writable page-table assist (XENPV.md 6.4; Xen's pv/ro-page-fault.c).
 * A PV kernel maps its live page tables read-only and yet writes some PTEs
 * natively: ptep_get_and_clear (xchg), ptep_set_wrprotect (lock and),
 * ptep_test_and_clear_young (lock btr), the early xen_set_pte_init. Its ELF
 * note FEATURES says "!writable_page_tables": it requires the hypervisor to
 * emulate those writes. Such a write faults with W and P set at virtual
 * kernel level; when its target frame is one Linux uses as a page table
 * (hc_mmu.c's marks), the engine emulates the instruction on the RAM copy
 * through the shadow MMU, which drops the shadows built from that entry.
 *
 * Everything else is the guest's own #PF: copy-on-write through a user
 * address above all, which must never be "assisted". Only kernel-half
 * addresses qualify: Linux reaches its page tables through the direct map.
 */
#include "vmmd/xenpv/xenpv_priv.h"

#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define KERNEL_HALF 0xffff800000000000ULL

enum shadow_action xpv_ptwr_fault(struct shadow_vcpu *sv, const struct shadow_env *env, uint64_t va, uint32_t error)
{
	struct xpv_vcpu *v = xpv_of(sv);
	struct xpv_domain *d = v->dom;
	struct shadow_vm *svm = sv->svm;

	if (v->kernel_mode && (error & (PF_P | PF_W)) == (PF_P | PF_W) && va >= KERNEL_HALF) {
		struct gw_result w;
		int r = smmu_guest_walk(svm->smmu, sv->cpu.pcb.cr3, va, 0, true, true, false, &w);
		uint64_t gfn = w.phys / XPV_PAGE;
		if (r == 0 && gfn < d->nr_pages && d->pt_level[gfn]) {
			__atomic_fetch_add(&d->stats.ptwr, 1, __ATOMIC_RELAXED);
			return shadow_emulate_pt_write(sv, env, va, w.phys);
		}
	}
	return shadow_reflect_exception(sv, env, X86_PF, true, error, va);
}
