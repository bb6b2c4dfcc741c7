/* SPDX-License-Identifier: MIT */
/*
 * The writable page-table assist (XENPV.md 6.4; Xen's pv/ro-page-fault.c).
 * A PV kernel maps its live page tables read-only and yet writes some PTEs
 * natively: ptep_get_and_clear (xchg), ptep_set_wrprotect (lock and),
 * ptep_test_and_clear_young (lock btr), the early xen_set_pte_init. Its ELF
 * note FEATURES says "!writable_page_tables": it requires the hypervisor to
 * emulate those writes. Such a write faults with W and P set at virtual
 * kernel level; when its target frame is one Linux uses as a page table
 * (hc_mmu.c's marks), the shadow engine's data emulator (emulate_data.h)
 * carries the instruction out against a target whose writes are the PV
 * MMU's: each new entry is checked and written through xpv_pte_write,
 * which updates the shadows built from it and the page-table marks.
 *
 * Everything else is the guest's own #PF: copy-on-write through a user
 * address above all, which must never be "assisted". Only kernel-half
 * addresses qualify: Linux reaches its page tables through the direct map.
 * An instruction the emulator leaves alone cannot run natively either (the
 * guest's own mapping is read-only): it is the guest's #PF too.
 */
#include <string.h>

#include "vmmd/shadow/emulate_data.h"
#include "vmmd/xenpv/xenpv_priv.h"

#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define KERNEL_HALF 0xffff800000000000ULL

/* The target page's bytes: reads from RAM, writes as whole entries through the PV MMU. */
struct ptwr_ctx {
	struct xpv_vcpu *v;
	bool refused;        /* a write the PV MMU refused: the guest's #PF, as in Xen */
};

static int ptwr_access(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	struct ptwr_ctx *c = ctx;
	struct xpv_vcpu *v = c->v;
	uint64_t entry_gpa = gpa & ~7ULL, entry;

	if (!is_write) {
		const void *p = xpv_gpa_ptr(v->dom, gpa, size);
		if (!p)
			return -EFAULT;
		memcpy(data, p, size);
		return 0;
	}
	/* A write inside one 8-byte entry (lock andb on a PTE's low byte, say)
	 * becomes the whole new entry; one across two entries is refused. */
	const uint64_t *cur = (gpa & 7) + size <= 8 ? xpv_gpa_ptr(v->dom, entry_gpa, 8) : NULL;
	if (!cur) {
		c->refused = true;
		return -EINVAL;
	}
	entry = __atomic_load_n(cur, __ATOMIC_ACQUIRE);
	memcpy((uint8_t *) &entry + (gpa & 7), data, size);
	int r = xpv_pte_write(v, entry_gpa, entry);
	if (r)
		c->refused = true;
	return r;
}

enum shadow_action xpv_ptwr_fault(struct shadow_vcpu *sv, const struct shadow_env *env, uint64_t va, uint32_t error)
{
	struct xpv_vcpu *v = xpv_of(sv);
	struct xpv_domain *d = v->dom;

	if (v->kernel_mode && (error & (PF_P | PF_W)) == (PF_P | PF_W) && va >= KERNEL_HALF) {
		struct gw_result w;
		int r = smmu_guest_walk(sv->svm->smmu, sv->cpu.pcb.cr3, va, 0, true, true, false, &w);
		uint64_t gfn = w.phys / XPV_PAGE;
		if (r == 0 && gfn < d->nr_pages && d->pt_level[gfn]) {
			struct ptwr_ctx c = { .v = v };
			struct emu_data_target target = { .access = ptwr_access, .ctx = &c };
			struct emu_outcome out;
			struct kvm_regs saved = sv->cpu.regs;
			emu_data_access(&sv->cpu, env, va, w.phys, &target, &out);
			if (out.status == EMU_EXCEPTION)
				return shadow_reflect_exception(sv, env, out.vector, out.has_error, out.error, out.cr2);
			if (out.status == EMU_DONE && c.refused) {
				/* Xen's ptwr gives up on an entry it will not
				 * validate; the write faults as the guest wrote it. */
				sv->cpu.regs = saved;
				__atomic_fetch_add(&d->stats.ptwr_refused, 1, __ATOMIC_RELAXED);
			} else if (out.status == EMU_DONE) {
				shadow_count_trap(sv->svm, STRAP_PF_PT_WRITE);
				__atomic_fetch_add(&d->stats.ptwr, 1, __ATOMIC_RELAXED);
				return SHADOW_RESUME;
			}
		}
	}
	return shadow_reflect_exception(sv, env, X86_PF, true, error, va);
}
