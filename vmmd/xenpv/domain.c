/* SPDX-License-Identifier: MIT */
/*
 * The PV domain and its vCPU: the state Xen keeps per domain and per vCPU
 * (XENPV.md 4.5: two page-table bases, the trap table, callbacks, kernel
 * stack, segment bases, where vcpu_info lives), the start-of-day virtual
 * CPU, the M2P in the monitor's window, and the hooks that make the shadow
 * engine run a PV kernel.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"

static const struct shadow_guest_ops xpv_ops = {
	.syscall = xpv_on_syscall,
	.privileged = xpv_privileged,
	.guest_page_fault = xpv_ptwr_fault,
	.exception = xpv_exception,
	.cpuid = xpv_cpuid,
};

/* --- guest memory ----------------------------------------------------------------------- */

void *xpv_gpa_ptr(struct xpv_domain *d, uint64_t gpa, size_t len)
{
	return physmap_guest_ptr(&d->svm->pm, &d->svm->mm, gpa, len);
}

static int copy_guest(struct xpv_vcpu *v, uint64_t va, void *buf, size_t len, bool write)
{
	struct shadow_env env;
	struct shadow_fault f;

	if (len == 0)
		return 0;
	if (va + len < va)
		return -EFAULT;
	shadow_vcpu_env(v->sv, &env);
	int r = write ? env.write_virt(env.ctx, va, buf, len, 0, &f) : env.read_virt(env.ctx, va, buf, len, 0, &f);
	return r < 0 ? -EFAULT : 0;
}

int xpv_copy_from_guest(struct xpv_vcpu *v, uint64_t va, void *buf, size_t len)
{
	return copy_guest(v, va, buf, len, false);
}

int xpv_copy_to_guest(struct xpv_vcpu *v, uint64_t va, const void *buf, size_t len)
{
	return copy_guest(v, va, (void *) buf, len, true);
}

struct xen_vcpu_info *xpv_vcpu_info(struct xpv_vcpu *v)
{
	return xpv_gpa_ptr(v->dom, v->vcpu_info_gpa, sizeof(struct xen_vcpu_info));
}

struct xen_shared_info *xpv_shared_info(struct xpv_domain *d)
{
	return xpv_gpa_ptr(d, d->shared_info_gpa, sizeof(struct xen_shared_info));
}

enum shadow_action xpv_fail(struct xpv_vcpu *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->fail, sizeof(v->fail), fmt, ap);
	va_end(ap);
	snprintf(v->sv->fail_message, sizeof(v->sv->fail_message), "%s", v->fail);
	v->after.end = true;
	return SHADOW_HOST_REFUSED;
}

/* --- the domain ------------------------------------------------------------------------------ */

unsigned xpv_window_pages(uint64_t guest_pages)
{
	return (unsigned) ((guest_pages * 8 + XPV_PAGE - 1) / XPV_PAGE);
}

/* The machine-to-physical table: identity for RAM, invalid for the
 * shared_info frame and the rest of its last page (XENPV.md 2.4). */
static int m2p_fill(struct xpv_domain *d)
{
	struct shadow_vm *svm = d->svm;
	uint64_t entries = d->nr_pages + 1;
	uint64_t *m2p = monitor_window_ptr(&svm->mon, &svm->mm);

	if (!m2p || (uint64_t) svm->mon.window_pages * (XPV_PAGE / 8) < entries)
		return -ERANGE;
	for (uint64_t i = 0; i < (uint64_t) svm->mon.window_pages * (XPV_PAGE / 8); i++)
		m2p[i] = i < d->nr_pages ? i : ~0ULL;
	d->m2p_va = monitor_window_va(&svm->mon);
	d->m2p_entries = entries;
	return 0;
}

int xpv_domain_init(struct xpv_domain *d, struct shadow_vm *svm, const struct xpv_domain_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->svm = svm;
	d->nr_pages = cfg->nr_pages;
	d->sink = cfg->sink;
	d->tsc_hz = cfg->tsc_hz;
	d->tsc_offset = cfg->tsc_offset;
	d->tsc_stable = cfg->tsc_stable;
	pthread_mutex_init(&d->lock, NULL);
	if (cfg->nr_pages < 1024 || svm->pm.guest_pages != cfg->nr_pages + 1 || svm->mon.slot != MON_SLOT_XENPV)
		return -EINVAL;
	d->shared_info_gpa = cfg->nr_pages * XPV_PAGE;
	d->pt_level = calloc(cfg->nr_pages + 1, 1);
	if (!d->pt_level)
		return -ENOMEM;
	int r = m2p_fill(d);
	if (r < 0)
		return r;
	struct xen_shared_info *si = xpv_shared_info(d);
	if (!si)
		return -ERANGE;
	memset(si, 0, XPV_PAGE);
	/* "Interrupts are guaranteed to be off initially" (xen_start_kernel). */
	for (unsigned i = 0; i < XEN_LEGACY_MAX_VCPUS; i++)
		si->vcpu_info[i].evtchn_upcall_mask = 1;
	si->arch.max_pfn = cfg->nr_pages;
	xpv_ports_init(d);
	xpv_time_init(d);
	return 0;
}

void xpv_domain_set_tsc(struct xpv_domain *d, uint64_t hz, int64_t offset, bool stable)
{
	d->tsc_hz = hz;
	d->tsc_offset = offset;
	d->tsc_stable = stable;
	xpv_time_init(d);
}

void xpv_domain_destroy(struct xpv_domain *d)
{
	free(d->pt_level);
	d->pt_level = NULL;
	pthread_mutex_destroy(&d->lock);
}

/* --- the vCPU ------------------------------------------------------------------------------------ */

void xpv_vcpu_init(struct xpv_vcpu *v, struct xpv_domain *d, struct shadow_vcpu *sv, unsigned id,
		   const struct xpv_entry *e)
{
	memset(v, 0, sizeof(*v));
	memset(sv, 0, sizeof(*sv));
	v->dom = d;
	v->sv = sv;
	v->id = id;
	sv->svm = d->svm;
	sv->index = id;
	sv->ops = &xpv_ops;
	sv->guest = v;

	struct shadow_cpu *c = &sv->cpu;
	c->regs.rip = e->rip;
	c->regs.rsp = e->rsp;
	c->regs.rsi = e->rsi;
	c->regs.rflags = X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	/* The kernel runs with paging on, WP set (its read-only page tables
	 * must fault) and NX; events, not IF, mask its interrupts. */
	c->pcb.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	c->pcb.cr4 = X86_CR4_PAE | (1ULL << 9) | (1ULL << 10);   /* OSFXSR, OSXMMEXCPT */
	c->pcb.efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	c->pcb.cr3 = e->cr3;
	c->pcb.cs = XEN_FLAT_KERNEL_CS64;
	c->pcb.ss = XEN_FLAT_KERNEL_SS64;
	c->pcb.vcpl = 0;
	c->pcb.vif = true;

	v->kernel_mode = true;
	v->kernel_cr3 = e->cr3;
	v->kernel_ss = XEN_FLAT_KERNEL_SS64;
	v->kernel_sp = e->rsp;
	v->vcpu_info_gpa = d->shared_info_gpa + (uint64_t) id * sizeof(struct xen_vcpu_info);
	if (id == 0)
		__atomic_store_n(&d->vcpu0_info_gpa, v->vcpu_info_gpa, __ATOMIC_RELEASE);
	xpv_time_publish(v);
	shadow_update_root(sv);
}

/* --- statistics ------------------------------------------------------------------------------------- */

void xpv_get_stats(struct xpv_domain *d, struct xpv_stats *ret)
{
	const uint64_t *src = (const uint64_t *) &d->stats.hypercalls[0];
	uint64_t *dst = (uint64_t *) &ret->hypercalls[0];
	size_t words = offsetof(struct xpv_stats, n_unknown) / sizeof(uint64_t);

	for (size_t i = 0; i < words; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	pthread_mutex_lock(&d->lock);
	ret->n_unknown = d->stats.n_unknown;
	memcpy(ret->unknown, d->stats.unknown, sizeof(ret->unknown));
	pthread_mutex_unlock(&d->lock);
	const uint64_t *src2 = &d->stats.upcalls;
	uint64_t *dst2 = &ret->upcalls;
	size_t words2 = (sizeof(struct xpv_stats) - offsetof(struct xpv_stats, upcalls)) / sizeof(uint64_t);
	for (size_t i = 0; i < words2; i++)
		dst2[i] = __atomic_load_n(&src2[i], __ATOMIC_RELAXED);
}
