/* SPDX-License-Identifier: MIT */
/*
 * The PV kernel's CPU tables, as hypercalls (XENPV.md 3.1): its virtual
 * trap table (set_trap_table), entry points (callback_op, set_callbacks),
 * the stack a bounce from user mode lands on (stack_switch), segment bases
 * (set_segment_base: Linux PV never runs swapgs or wrmsr for them after
 * boot), the GDT frames and descriptor updates, FPU TS and debug registers.
 * All of it is recorded in the vCPU; the real CPU keeps running at CPL3 on
 * the monitor's own tables.
 */
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"
#include "x86/cpu.h"
#include "x86/guest_walk.h"

#define TRAP_LIST_MAX 1024      /* entries read per set_trap_table (256 vectors, duplicates allowed) */
#define GDT_MAX_ENTRIES 8192    /* 16 frames */
#define DR6_DEFAULT 0xffff0ff0ULL
#define DR7_DEFAULT 0x400ULL

long xpv_hc_set_trap_table(struct xpv_vcpu *v, const uint64_t a[5])
{
	uint64_t list = a[0];

	if (!list) {
		memset(v->trap, 0, sizeof(v->trap));
		return 0;
	}
	for (unsigned i = 0; i < TRAP_LIST_MAX; i++) {
		struct xen_trap_info ti;
		if (xpv_copy_from_guest(v, list + i * sizeof(ti), &ti, sizeof(ti)) < 0)
			return -EFAULT;
		if (ti.address == 0)
			return 0;
		if (!x86_canonical(ti.address))
			return -EINVAL;
		v->trap[ti.vector] = (struct xpv_trap) { .flags = ti.flags, .cs = ti.cs, .address = ti.address };
	}
	return -E2BIG;
}

long xpv_hc_set_gdt(struct xpv_vcpu *v, const uint64_t a[5])
{
	uint64_t list = a[0], entries = a[1];
	unsigned n = (unsigned) ((entries + 511) / 512);
	uint64_t frames[16];

	if (entries > GDT_MAX_ENTRIES)
		return -EINVAL;
	if (n && xpv_copy_from_guest(v, list, frames, n * sizeof(frames[0])) < 0)
		return -EFAULT;
	for (unsigned i = 0; i < n; i++)
		if (frames[i] >= v->dom->nr_pages)
			return -EINVAL;
	memset(v->gdt_frames, 0, sizeof(v->gdt_frames));
	memcpy(v->gdt_frames, frames, n * sizeof(frames[0]));
	v->gdt_ents = (unsigned) entries;
	return 0;
}

long xpv_hc_stack_switch(struct xpv_vcpu *v, const uint64_t a[5])
{
	v->kernel_ss = a[0] | 3;
	v->kernel_sp = a[1];
	return 0;
}

static long set_callback(struct xpv_vcpu *v, unsigned type, uint16_t flags, uint64_t address)
{
	if (type >= XEN_CALLBACKTYPE_MAX || type == 3 || type == 6)
		return -EINVAL;
	if (address && !x86_canonical(address))
		return -EINVAL;
	v->callback[type] = (struct xpv_callback) { .flags = flags, .address = address };
	return 0;
}

long xpv_hc_set_callbacks(struct xpv_vcpu *v, const uint64_t a[5])
{
	long r = set_callback(v, XEN_CALLBACKTYPE_event, 0, a[0]);
	if (r == 0)
		r = set_callback(v, XEN_CALLBACKTYPE_failsafe, XEN_CALLBACKF_mask_events, a[1]);
	if (r == 0)
		r = set_callback(v, XEN_CALLBACKTYPE_syscall, 0, a[2]);
	return r;
}

long xpv_hc_callback_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0];
	struct xen_callback_register cb;

	xpv_count_subop(v, XEN_HC_callback_op, cmd, cmd <= XEN_CALLBACKOP_unregister);
	switch (cmd) {
	case XEN_CALLBACKOP_register:
		if (xpv_copy_from_guest(v, a[1], &cb, sizeof(cb)) < 0)
			return -EFAULT;
		return set_callback(v, cb.type, cb.flags, cb.address);
	case XEN_CALLBACKOP_unregister: {
		uint16_t type;
		if (xpv_copy_from_guest(v, a[1], &type, sizeof(type)) < 0)
			return -EFAULT;
		return set_callback(v, type, 0, 0);
	}
	default:
		return -ENOSYS;
	}
}

long xpv_hc_fpu_taskswitch(struct xpv_vcpu *v, const uint64_t a[5])
{
	/* 6.1's eager FPU never sets TS; recorded, not enforced. */
	v->fpu_ts = a[0] != 0;
	return 0;
}

long xpv_hc_set_debugreg(struct xpv_vcpu *v, const uint64_t a[5])
{
	if (a[0] > 7 || a[0] == 4 || a[0] == 5)
		return -EINVAL;
	v->debugreg[a[0]] = a[1];   /* accepted, not armed: vmmd offers no hardware breakpoints */
	return 0;
}

long xpv_hc_get_debugreg(struct xpv_vcpu *v, const uint64_t a[5])
{
	if (a[0] > 7 || a[0] == 4 || a[0] == 5)
		return -EINVAL;
	if (a[0] == 6)
		return (long) (v->debugreg[6] ? v->debugreg[6] : DR6_DEFAULT);
	if (a[0] == 7)
		return (long) (v->debugreg[7] ? v->debugreg[7] : DR7_DEFAULT);
	return (long) v->debugreg[a[0]];
}

/* A GDT or LDT descriptor (TLS entries on every context switch): 8 bytes at
 * a machine (guest-physical) address inside guest RAM. The page is the
 * guest's, mapped read-only by it; the write goes through the shadow MMU. */
long xpv_hc_update_descriptor(struct xpv_vcpu *v, const uint64_t a[5])
{
	uint64_t gpa = a[0], desc = a[1];
	struct shadow_vm *svm = v->dom->svm;

	if ((gpa & 7) || gpa / XPV_PAGE >= v->dom->nr_pages)
		return -EINVAL;
	pthread_mutex_lock(&svm->lock);
	int r = smmu_pt_write(svm->smmu, gpa, &desc, sizeof(desc));
	pthread_mutex_unlock(&svm->lock);
	return r < 0 ? -EINVAL : 0;
}

/* The base of GDT selector sel (for GS_USER_SEL), 0 for null and flat ones. */
static uint64_t descriptor_base(struct xpv_vcpu *v, uint16_t sel)
{
	unsigned index = sel >> 3;

	if ((sel & ~3u) == 0 || (sel & 4) || index >= v->gdt_ents)
		return 0;
	const uint8_t *d = xpv_gpa_ptr(v->dom, v->gdt_frames[index / 512] * XPV_PAGE + (index % 512) * 8, 8);
	if (!d)
		return 0;
	return (uint64_t) d[2] | (uint64_t) d[3] << 8 | (uint64_t) d[4] << 16 | (uint64_t) d[7] << 24;
}

long xpv_hc_set_segment_base(struct xpv_vcpu *v, const uint64_t a[5])
{
	struct shadow_pcb *p = &v->sv->cpu.pcb;
	unsigned which = (unsigned) a[0];
	uint64_t base = a[1];

	xpv_count_subop(v, XEN_HC_set_segment_base, which, which <= XEN_SEGBASE_GS_USER_SEL);
	if (which != XEN_SEGBASE_GS_USER_SEL && !x86_canonical(base))
		return -EINVAL;
	/* In kernel mode (hypercalls come only from there) gs_base is the
	 * kernel's and kernel_gs_base the user's (see bounce.c's toggle). */
	switch (which) {
	case XEN_SEGBASE_FS:
		p->fs_base = base;
		return 0;
	case XEN_SEGBASE_GS_USER:
		p->kernel_gs_base = base;
		return 0;
	case XEN_SEGBASE_GS_KERNEL:
		p->gs_base = base;
		return 0;
	case XEN_SEGBASE_GS_USER_SEL: {
		uint16_t sel = (uint16_t) base;
		if (sel > 3)
			sel |= 3;
		v->gs_sel_user = sel;
		p->kernel_gs_base = descriptor_base(v, sel);
		return 0;
	}
	default:
		return -EINVAL;
	}
}
