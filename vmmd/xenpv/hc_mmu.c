/* SPDX-License-Identifier: MIT */
/*
 * The PV MMU (XENPV.md 3.1, 6): the guest's page tables hold machine frame
 * numbers, and with vmmd's identity p2m a machine frame is a guest-physical
 * frame, so the guest's tables are ordinary x86-64 tables in guest-physical
 * terms: exactly what the shadow MMU walks (design A). Every write the
 * guest asks for goes through smmu_pt_update, which updates the RAM copy
 * and puts the new entry into the shadows built from that table, under the
 * fill path's checks (or leaves it to a fill); flush requests reach the
 * real TLB through the engine.
 *
 * vmmd skips Xen's page-type validation (a guest can only harm itself: the
 * shadow MMU never maps anything outside its RAM). It keeps one hint per
 * frame: the level at which Linux uses it as a page table (pin, install
 * under a pinned table), cleared when Linux maps the frame writable again
 * (which Xen would refuse for a page table) or unpins it. The writable
 * page-table assist (ptwr.c) emulates native writes only to such frames.
 */
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"
#include "x86/cpu.h"
#include "x86/guest_walk.h"

#define MARK_BUDGET (1u << 20)   /* entries scanned per marking: a hostile tree costs the guest, not vmmd */

/* --- page-table frame marks ------------------------------------------------------------ */

static void mark(struct xpv_domain *d, uint64_t gfn, unsigned level, unsigned *budget)
{
	if (gfn >= d->nr_pages || level < 1 || level > 4 || d->pt_level[gfn] == level)
		return;
	d->pt_level[gfn] = (uint8_t) level;
	if (level == 1)
		return;
	const uint64_t *t = xpv_gpa_ptr(d, gfn * XPV_PAGE, XPV_PAGE);
	if (!t)
		return;
	for (unsigned i = 0; i < 512 && *budget; i++, (*budget)--) {
		uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);
		if ((e & X86_PTE_P) && !(e & X86_PTE_PS))
			mark(d, (e & X86_PTE_ADDR) / XPV_PAGE, level - 1, budget);
	}
}

void xpv_pt_mark(struct xpv_domain *d, uint64_t gfn, unsigned level)
{
	unsigned budget = MARK_BUDGET;
	mark(d, gfn, level, &budget);
}

void xpv_pt_unmark(struct xpv_domain *d, uint64_t gfn)
{
	if (gfn < d->nr_pages)
		d->pt_level[gfn] = 0;
}

/* --- writing entries ---------------------------------------------------------------------- */

int xpv_pte_write(struct xpv_vcpu *v, uint64_t gpa, uint64_t val)
{
	struct xpv_domain *d = v->dom;
	struct shadow_vm *svm = d->svm;
	uint64_t gfn = gpa / XPV_PAGE;

	/* Tables live in the guest's RAM; entries are 8-byte aligned. */
	if ((gpa & 7) || gfn >= d->nr_pages)
		return -EINVAL;
	/* A present entry names a frame of the guest's, or shared_info's. */
	if ((val & X86_PTE_P) && (val & X86_PTE_ADDR) / XPV_PAGE > d->nr_pages)
		return -EINVAL;
	const struct shadow_pcb *pcb = &v->sv->cpu.pcb;
	pthread_mutex_lock(&svm->lock);
	int r = smmu_pt_update(svm->smmu, gpa, val, pcb->cr0 & X86_CR0_WP, pcb->efer & X86_EFER_NXE);
	pthread_mutex_unlock(&svm->lock);
	if (r < 0)
		return -EINVAL;

	unsigned level = d->pt_level[gfn];
	uint64_t child = (val & X86_PTE_ADDR) / XPV_PAGE;
	if (!(val & X86_PTE_P))
		return 0;
	if (level >= 2 && !(val & X86_PTE_PS))
		xpv_pt_mark(d, child, level - 1);
	else if (level == 1 && (val & X86_PTE_W))
		xpv_pt_unmark(d, child);   /* mapped writable: Xen would refuse it for a page table */
	return 0;
}

/* --- mmu_update -------------------------------------------------------------------------------- */

static long write_done(struct xpv_vcpu *v, uint64_t done_va, uint64_t n)
{
	if (done_va && xpv_copy_to_guest(v, done_va, &n, sizeof(uint32_t)) < 0)
		return -EFAULT;
	return 0;
}

long xpv_hc_mmu_update(struct xpv_vcpu *v, const uint64_t a[5])
{
	uint64_t list = a[0], n = (uint32_t) a[1], done = a[2];
	long r = 0;
	uint64_t i;

	if ((uint16_t) a[3] != XEN_DOMID_SELF)
		return -ESRCH;
	if (n > XPV_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct xen_mmu_update u;
		if (xpv_copy_from_guest(v, list + i * sizeof(u), &u, sizeof(u)) < 0) {
			r = -EFAULT;
			break;
		}
		unsigned type = u.ptr & 3;
		uint64_t gpa = u.ptr & ~3ULL;
		xpv_count_subop(v, XEN_HC_mmu_update, type, type != XEN_MMU_PT_UPDATE_NO_TRANSLATE);
		switch (type) {
		case XEN_MMU_NORMAL_PT_UPDATE:
			r = xpv_pte_write(v, gpa, u.val);
			break;
		case XEN_MMU_PT_UPDATE_PRESERVE_AD: {
			const uint64_t *cur = xpv_gpa_ptr(v->dom, gpa & ~7ULL, 8);
			if (!cur) {
				r = -EINVAL;
				break;
			}
			uint64_t old = __atomic_load_n(cur, __ATOMIC_ACQUIRE);
			r = xpv_pte_write(v, gpa, u.val | (old & (X86_PTE_A | X86_PTE_D)));
			break;
		}
		case XEN_MMU_MACHPHYS_UPDATE:
			break;   /* the M2P is the identity and vmmd's: nothing to record */
		default:
			r = -EINVAL;
		}
		if (r < 0)
			break;
	}
	long w = write_done(v, done, i);
	return r < 0 ? r : w;
}

/* --- update_va_mapping ----------------------------------------------------------------------------- */

static int read_entry(void *opaque, uint64_t paddr, uint64_t *ret)
{
	const uint64_t *p = xpv_gpa_ptr(opaque, paddr, 8);
	if (!p)
		return -EFAULT;
	*ret = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	return 0;
}

/* Where the L1 entry for va lives in the current kernel tables (it need
 * not be present): its guest-physical address, or -EINVAL when an upper
 * level is missing or maps a large page. */
static int l1_entry_gpa(struct xpv_vcpu *v, uint64_t va, uint64_t *ret)
{
	struct gw_memory mem = { .read = read_entry, .opaque = v->dom };
	struct gw_result res;

	if (!x86_canonical(va))
		return -EINVAL;
	gw_translate(&mem, v->kernel_cr3, va, NULL, &res);
	if (res.n_steps != GW_LEVELS || res.steps[GW_LEVELS - 1].level != 1)
		return -EINVAL;
	if (res.fault != GW_OK && res.fault != GW_NOT_PRESENT)
		return -EINVAL;
	if (res.fault == GW_NOT_PRESENT && res.fault_level != 1)
		return -EINVAL;
	*ret = res.steps[3].table + 8ULL * res.steps[3].index;
	return 0;
}

static void flush_for(struct xpv_vcpu *v, uint64_t va, uint64_t flags)
{
	struct shadow_env env;

	switch (flags & XEN_UVMF_FLUSHTYPE_MASK) {
	case XEN_UVMF_INVLPG:
		shadow_vcpu_env(v->sv, &env);
		env.invlpg(env.ctx, va);
		break;
	case XEN_UVMF_TLB_FLUSH:
		shadow_guest_tlb_flush(v->sv);
		break;
	default:
		break;
	}
}

long xpv_hc_update_va_mapping(struct xpv_vcpu *v, const uint64_t a[5])
{
	uint64_t va = a[0], val = a[1], flags = a[2], gpa;

	if (l1_entry_gpa(v, va, &gpa) < 0)
		return -EINVAL;
	int r = xpv_pte_write(v, gpa, val);
	if (r < 0)
		return r;
	flush_for(v, va, flags);
	return 0;
}

/* --- mmuext_op ---------------------------------------------------------------------------------------- */

void xpv_load_tables(struct xpv_vcpu *v)
{
	struct shadow_pcb *p = &v->sv->cpu.pcb;
	uint64_t want = v->kernel_mode ? v->kernel_cr3 : v->user_cr3;

	p->vcpl = v->kernel_mode ? 0 : 3;
	if (p->cr3 != want) {
		p->cr3 = want;
		v->sv->root_stale = true;
	}
	shadow_update_root(v->sv);
}

static long new_baseptr(struct xpv_vcpu *v, uint64_t mfn, bool user)
{
	if (mfn >= v->dom->nr_pages || (!user && mfn == 0))
		return -EINVAL;
	if (user) {
		v->user_cr3 = mfn * XPV_PAGE;
		return 0;
	}
	uint64_t cr3 = mfn * XPV_PAGE;
	if (cr3 != v->kernel_cr3 && v->kernel_mode) {
		struct shadow_env env;
		shadow_vcpu_env(v->sv, &env);
		env.cr3_write(env.ctx, cr3);   /* a guest page-table switch (counted, vtlb forgets) */
	} else if (v->kernel_mode) {
		/* Xen reloads CR3 for the same table too (new_guest_cr3): a TLB
		 * flush Linux relies on when switch_mm leaves lazy TLB mode, so
		 * the removals vmmd deferred are due now. */
		shadow_guest_tlb_flush(v->sv);
	}
	v->kernel_cr3 = cr3;
	xpv_load_tables(v);
	return 0;
}

/*
 * Linux unpins a process's tables when the process goes (xen_exit_mmap,
 * before it tears them down with plain writes: they are writable again)
 * and a page table when it frees it. The shadows built from the frame are
 * dropped now: left, each of those writes would trap as a write to a
 * shadowed table until eight in a row gave the page up, and an unpinned
 * PML4 would keep its address space cached. Dropping shadows is always
 * safe (they refill on demand), so a guest that lies costs only itself;
 * the loaded root stays (smmu_unprotect's -EBUSY).
 */
static void unpin_shadows(struct shadow_vm *svm, uint64_t gfn)
{
	pthread_mutex_lock(&svm->lock);
	(void) smmu_unprotect(svm->smmu, gfn * XPV_PAGE);
	pthread_mutex_unlock(&svm->lock);
}

static long mmuext_one(struct xpv_vcpu *v, const struct xen_mmuext_op *op)
{
	struct xpv_domain *d = v->dom;
	struct shadow_env env;

	xpv_count_subop(v, XEN_HC_mmuext_op, op->cmd,
			op->cmd < XEN_MMUEXT_MAX && op->cmd != 14 && op->cmd != XEN_MMUEXT_CLEAR_PAGE &&
			op->cmd != XEN_MMUEXT_COPY_PAGE && op->cmd != XEN_MMUEXT_MARK_SUPER &&
			op->cmd != XEN_MMUEXT_UNMARK_SUPER);
	switch (op->cmd) {
	case XEN_MMUEXT_PIN_L1_TABLE:
	case XEN_MMUEXT_PIN_L2_TABLE:
	case XEN_MMUEXT_PIN_L3_TABLE:
	case XEN_MMUEXT_PIN_L4_TABLE:
		if (op->arg1 >= d->nr_pages)
			return -EINVAL;
		xpv_pt_mark(d, op->arg1, op->cmd - XEN_MMUEXT_PIN_L1_TABLE + 1);
		return 0;
	case XEN_MMUEXT_UNPIN_TABLE:
		if (op->arg1 >= d->nr_pages)
			return -EINVAL;
		xpv_pt_unmark(d, op->arg1);
		unpin_shadows(d->svm, op->arg1);
		return 0;
	case XEN_MMUEXT_NEW_BASEPTR:
		return new_baseptr(v, op->arg1, false);
	case XEN_MMUEXT_NEW_USER_BASEPTR:
		return new_baseptr(v, op->arg1, true);
	case XEN_MMUEXT_TLB_FLUSH_LOCAL:
	case XEN_MMUEXT_TLB_FLUSH_MULTI:
	case XEN_MMUEXT_TLB_FLUSH_ALL:
		shadow_guest_tlb_flush(v->sv);   /* one vCPU: every flush is local */
		return 0;
	case XEN_MMUEXT_INVLPG_LOCAL:
	case XEN_MMUEXT_INVLPG_MULTI:
	case XEN_MMUEXT_INVLPG_ALL:
		if (!x86_canonical(op->arg1))
			return -EINVAL;
		shadow_vcpu_env(v->sv, &env);
		env.invlpg(env.ctx, op->arg1);
		return 0;
	case XEN_MMUEXT_FLUSH_CACHE:
	case XEN_MMUEXT_FLUSH_CACHE_GLOBAL:
		return 0;
	case XEN_MMUEXT_SET_LDT:
		/* Recorded for inspection; 64-bit Linux user space has no LDT use vmmd supports. */
		if (op->arg2 > 8192 || (op->arg2 && !x86_canonical(op->arg1)))
			return -EINVAL;
		v->ldt_base = op->arg1;
		v->ldt_ents = (unsigned) op->arg2;
		return 0;
	default:
		return -ENOSYS;
	}
}

long xpv_hc_mmuext_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	uint64_t list = a[0], n = (uint32_t) a[1], done = a[2];
	long r = 0;
	uint64_t i;

	if ((uint16_t) a[3] != XEN_DOMID_SELF)
		return -ESRCH;
	if (n > XPV_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct xen_mmuext_op op;
		if (xpv_copy_from_guest(v, list + i * sizeof(op), &op, sizeof(op)) < 0) {
			r = -EFAULT;
			break;
		}
		r = mmuext_one(v, &op);
		if (r < 0)
			break;
	}
	long w = write_done(v, done, i);
	return r < 0 ? r : w;
}
