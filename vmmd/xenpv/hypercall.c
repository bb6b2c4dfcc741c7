/* SPDX-License-Identifier: MIT */
/*
 * Hypercalls. Linux 6.1 has no hypercall page: it executes `syscall` from
 * its kernel (xen_hypercall_pv: push rcx; push r11; syscall; pop; pop; ret),
 * number in RAX, arguments in RDI, RSI, RDX, R10, R8, result in RAX. On a
 * host where `syscall` stays at CPL3 that is the #PF at LSTAR the engine
 * already recognises; the same instruction from the guest's user mode is
 * its own system call and goes to the kernel's syscall callback.
 *
 * One table by number; every call and every sub-op is counted, and the
 * first use of one vmmd does not know is remembered (stats.get) and
 * reported to the worker's log. Unknown ones return -ENOSYS, which is what
 * Linux expects of optional interfaces (XENPV.md 3).
 */
#include <stdio.h>
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"

static long hc_multicall(struct xpv_vcpu *v, const uint64_t a[5]);

struct hc_entry {
	const char *name;
	xpv_hc_fn fn;
	bool multicall;    /* allowed inside a multicall */
};

static const struct hc_entry hc_table[XEN_HC_MAX] = {
	[XEN_HC_set_trap_table] = { "set_trap_table", xpv_hc_set_trap_table, true },
	[XEN_HC_mmu_update] = { "mmu_update", xpv_hc_mmu_update, true },
	[XEN_HC_set_gdt] = { "set_gdt", xpv_hc_set_gdt, true },
	[XEN_HC_stack_switch] = { "stack_switch", xpv_hc_stack_switch, true },
	[XEN_HC_set_callbacks] = { "set_callbacks", xpv_hc_set_callbacks, true },
	[XEN_HC_fpu_taskswitch] = { "fpu_taskswitch", xpv_hc_fpu_taskswitch, true },
	[XEN_HC_sched_op_compat] = { "sched_op_compat", NULL, false },
	[XEN_HC_platform_op] = { "platform_op", NULL, false },
	[XEN_HC_set_debugreg] = { "set_debugreg", xpv_hc_set_debugreg, true },
	[XEN_HC_get_debugreg] = { "get_debugreg", xpv_hc_get_debugreg, true },
	[XEN_HC_update_descriptor] = { "update_descriptor", xpv_hc_update_descriptor, true },
	[XEN_HC_memory_op] = { "memory_op", xpv_hc_memory_op, true },
	[XEN_HC_multicall] = { "multicall", hc_multicall, false },
	[XEN_HC_update_va_mapping] = { "update_va_mapping", xpv_hc_update_va_mapping, true },
	[XEN_HC_set_timer_op] = { "set_timer_op", xpv_hc_set_timer_op, true },
	[XEN_HC_event_channel_op_compat] = { "event_channel_op_compat", NULL, false },
	[XEN_HC_xen_version] = { "xen_version", xpv_hc_xen_version, true },
	[XEN_HC_console_io] = { "console_io", xpv_hc_console_io, true },
	[XEN_HC_physdev_op_compat] = { "physdev_op_compat", NULL, false },
	[XEN_HC_grant_table_op] = { "grant_table_op", xpv_hc_grant_table_op, true },
	[XEN_HC_vm_assist] = { "vm_assist", xpv_hc_vm_assist, true },
	[XEN_HC_update_va_mapping_otherdomain] = { "update_va_mapping_otherdomain", NULL, false },
	[XEN_HC_iret] = { "iret", xpv_hc_iret, false },
	[XEN_HC_vcpu_op] = { "vcpu_op", xpv_hc_vcpu_op, true },
	[XEN_HC_set_segment_base] = { "set_segment_base", xpv_hc_set_segment_base, true },
	[XEN_HC_mmuext_op] = { "mmuext_op", xpv_hc_mmuext_op, true },
	[XEN_HC_xsm_op] = { "xsm_op", NULL, false },
	[XEN_HC_nmi_op] = { "nmi_op", NULL, false },
	[XEN_HC_sched_op] = { "sched_op", xpv_hc_sched_op, true },
	[XEN_HC_callback_op] = { "callback_op", xpv_hc_callback_op, true },
	[XEN_HC_xenoprof_op] = { "xenoprof_op", NULL, false },
	[XEN_HC_event_channel_op] = { "event_channel_op", xpv_hc_event_channel_op, true },
	[XEN_HC_physdev_op] = { "physdev_op", xpv_hc_physdev_op, true },
	[XEN_HC_hvm_op] = { "hvm_op", NULL, false },
	[XEN_HC_sysctl] = { "sysctl", NULL, false },
	[XEN_HC_domctl] = { "domctl", NULL, false },
	[XEN_HC_kexec_op] = { "kexec_op", NULL, false },
	[XEN_HC_tmem_op] = { "tmem_op", NULL, false },
	[XEN_HC_xenpmu_op] = { "xenpmu_op", NULL, false },
	[XEN_HC_dm_op] = { "dm_op", NULL, false },
};

const char *xpv_hypercall_name(unsigned hc)
{
	return hc < XEN_HC_MAX && hc_table[hc].name ? hc_table[hc].name : NULL;
}

/* --- counting ---------------------------------------------------------------------------- */

static void remember_unknown(struct xpv_vcpu *v, unsigned hc, unsigned subop)
{
	struct xpv_domain *d = v->dom;
	bool first = false;
	char what[64];

	pthread_mutex_lock(&d->lock);
	unsigned i;
	for (i = 0; i < d->stats.n_unknown; i++)
		if (d->stats.unknown[i].hc == hc && d->stats.unknown[i].subop == subop)
			break;
	if (i < d->stats.n_unknown) {
		d->stats.unknown[i].count++;
	} else if (i < XPV_UNKNOWN_MAX) {
		d->stats.unknown[i] = (struct xpv_unknown) { .hc = hc, .subop = subop, .count = 1 };
		d->stats.n_unknown++;
		first = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (!first || !d->sink.unknown)
		return;
	const char *name = xpv_hypercall_name(hc);
	if (subop == UINT32_MAX)
		snprintf(what, sizeof(what), "%s (%u)", name ? name : "hypercall", hc);
	else
		snprintf(what, sizeof(what), "%s/%u", name ? name : "hypercall", subop);
	d->sink.unknown(d->sink.ctx, what);
}

void xpv_count_subop(struct xpv_vcpu *v, unsigned hc, unsigned subop, bool known)
{
	if (hc >= XEN_HC_MAX)
		return;
	__atomic_fetch_add(&v->dom->stats.subops[hc][subop < XPV_SUBOPS ? subop : XPV_SUBOPS - 1], 1,
			   __ATOMIC_RELAXED);
	if (!known)
		remember_unknown(v, hc, subop);
}

/* --- dispatch -------------------------------------------------------------------------------- */

long xpv_hypercall_run(struct xpv_vcpu *v, unsigned hc, const uint64_t a[5], bool in_multicall)
{
	struct xpv_domain *d = v->dom;

	__atomic_fetch_add(&d->stats.hypercalls[hc < XEN_HC_MAX ? hc : XEN_HC_MAX], 1, __ATOMIC_RELAXED);
	if (hc >= XEN_HC_MAX || !hc_table[hc].fn) {
		remember_unknown(v, hc < XEN_HC_MAX ? hc : XEN_HC_MAX, UINT32_MAX);
		return -ENOSYS;
	}
	if (in_multicall && !hc_table[hc].multicall)
		return -EINVAL;
	return hc_table[hc].fn(v, a);
}

/* Xen's do_multicall: each 64-byte entry is one call with args[0..4]; the
 * result goes back into the entry. Bounded per call; a bad list ends with
 * -EFAULT after the entries done so far, as Xen does. */
static long hc_multicall(struct xpv_vcpu *v, const uint64_t a[5])
{
	uint64_t list = a[0], n = a[1];

	if (n > XPV_MULTICALL_MAX)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		struct xen_multicall_entry e;
		uint64_t at = list + i * sizeof(e);
		if (xpv_copy_from_guest(v, at, &e, sizeof(e)) < 0)
			return -EFAULT;
		__atomic_fetch_add(&v->dom->stats.multicall_entries, 1, __ATOMIC_RELAXED);
		long r = xpv_hypercall_run(v, (unsigned) (e.op < UINT32_MAX ? e.op : UINT32_MAX), e.args, true);
		uint64_t result = (uint64_t) r;
		if (xpv_copy_to_guest(v, at + offsetof(struct xen_multicall_entry, result), &result, 8) < 0)
			return -EFAULT;
		if (v->after.end || v->after.halt)
			break;   /* shutdown or block inside a batch: stop there */
	}
	return 0;
}

/* The kernel's `syscall` is a hypercall; the user's is the guest's own system call. */
enum shadow_action xpv_on_syscall(struct shadow_vcpu *sv, const struct shadow_env *env)
{
	struct xpv_vcpu *v = xpv_of(sv);
	struct kvm_regs *r = &sv->cpu.regs;

	/* The CPU did rcx = next RIP, r11 = RFLAGS (and masked RFLAGS): undo. */
	r->rip = r->rcx;
	r->rflags = (r->r11 & ~X86_RFLAGS_IOPL) | X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	if (!v->kernel_mode)
		return xpv_syscall_callback(v);

	shadow_count_trap(sv->svm, STRAP_HYPERCALL);
	v->after = (struct xpv_after) { 0 };
	uint64_t a[5] = { r->rdi, r->rsi, r->rdx, r->r10, r->r8 };
	long ret = xpv_hypercall_run(v, (unsigned) (r->rax < UINT32_MAX ? r->rax : UINT32_MAX), a, false);
	if (v->after.end)
		return SHADOW_HOST_REFUSED;
	if (!v->after.no_result)
		r->rax = (uint64_t) ret;
	xpv_load_tables(v);
	if (v->after.halt)
		return SHADOW_HALT;
	return SHADOW_RESUME;
}

/* --- sub-op names (stats.get) ------------------------------------------------------------------ */

static const char *const memory_ops[] = {
	[XEN_XENMEM_increase_reservation] = "increase_reservation",
	[XEN_XENMEM_decrease_reservation] = "decrease_reservation",
	[XEN_XENMEM_maximum_ram_page] = "maximum_ram_page", [XEN_XENMEM_current_reservation] = "current_reservation",
	[XEN_XENMEM_maximum_reservation] = "maximum_reservation", [XEN_XENMEM_populate_physmap] = "populate_physmap",
	[XEN_XENMEM_add_to_physmap] = "add_to_physmap", [XEN_XENMEM_memory_map] = "memory_map",
	[XEN_XENMEM_exchange] = "exchange", [XEN_XENMEM_machphys_mapping] = "machphys_mapping",
	[XEN_XENMEM_acquire_resource] = "acquire_resource",
};
static const char *const vcpu_ops[] = {
	[XEN_VCPUOP_initialise] = "initialise", [XEN_VCPUOP_up] = "up", [XEN_VCPUOP_down] = "down",
	[XEN_VCPUOP_is_up] = "is_up", [XEN_VCPUOP_get_runstate_info] = "get_runstate_info",
	[XEN_VCPUOP_register_runstate_memory_area] = "register_runstate_memory_area",
	[XEN_VCPUOP_set_periodic_timer] = "set_periodic_timer", [XEN_VCPUOP_stop_periodic_timer] = "stop_periodic_timer",
	[XEN_VCPUOP_set_singleshot_timer] = "set_singleshot_timer",
	[XEN_VCPUOP_stop_singleshot_timer] = "stop_singleshot_timer",
	[XEN_VCPUOP_register_vcpu_info] = "register_vcpu_info", [XEN_VCPUOP_send_nmi] = "send_nmi",
	[XEN_VCPUOP_get_physid] = "get_physid",
	[XEN_VCPUOP_register_vcpu_time_memory_area] = "register_vcpu_time_memory_area",
};
static const char *const sched_ops[] = {
	[XEN_SCHEDOP_yield] = "yield", [XEN_SCHEDOP_block] = "block", [XEN_SCHEDOP_shutdown] = "shutdown",
	[XEN_SCHEDOP_poll] = "poll", [XEN_SCHEDOP_remote_shutdown] = "remote_shutdown",
	[XEN_SCHEDOP_shutdown_code] = "shutdown_code", [XEN_SCHEDOP_watchdog] = "watchdog",
};
static const char *const evtchn_ops[] = {
	[XEN_EVTCHNOP_bind_interdomain] = "bind_interdomain", [XEN_EVTCHNOP_bind_virq] = "bind_virq",
	[XEN_EVTCHNOP_bind_pirq] = "bind_pirq", [XEN_EVTCHNOP_close] = "close", [XEN_EVTCHNOP_send] = "send",
	[XEN_EVTCHNOP_status] = "status", [XEN_EVTCHNOP_alloc_unbound] = "alloc_unbound",
	[XEN_EVTCHNOP_bind_ipi] = "bind_ipi", [XEN_EVTCHNOP_bind_vcpu] = "bind_vcpu", [XEN_EVTCHNOP_unmask] = "unmask",
	[XEN_EVTCHNOP_reset] = "reset", [XEN_EVTCHNOP_init_control] = "init_control",
	[XEN_EVTCHNOP_expand_array] = "expand_array", [XEN_EVTCHNOP_set_priority] = "set_priority",
};
static const char *const version_ops[] = {
	[XEN_XENVER_version] = "version", [XEN_XENVER_extraversion] = "extraversion",
	[XEN_XENVER_compile_info] = "compile_info", [XEN_XENVER_capabilities] = "capabilities",
	[XEN_XENVER_changeset] = "changeset", [XEN_XENVER_platform_parameters] = "platform_parameters",
	[XEN_XENVER_get_features] = "get_features", [XEN_XENVER_pagesize] = "pagesize",
	[XEN_XENVER_guest_handle] = "guest_handle", [XEN_XENVER_commandline] = "commandline",
	[XEN_XENVER_build_id] = "build_id",
};
static const char *const mmuext_ops[] = {
	[XEN_MMUEXT_PIN_L1_TABLE] = "pin_l1", [XEN_MMUEXT_PIN_L2_TABLE] = "pin_l2",
	[XEN_MMUEXT_PIN_L3_TABLE] = "pin_l3", [XEN_MMUEXT_PIN_L4_TABLE] = "pin_l4", [XEN_MMUEXT_UNPIN_TABLE] = "unpin",
	[XEN_MMUEXT_NEW_BASEPTR] = "new_baseptr", [XEN_MMUEXT_TLB_FLUSH_LOCAL] = "tlb_flush_local",
	[XEN_MMUEXT_INVLPG_LOCAL] = "invlpg_local", [XEN_MMUEXT_TLB_FLUSH_MULTI] = "tlb_flush_multi",
	[XEN_MMUEXT_INVLPG_MULTI] = "invlpg_multi", [XEN_MMUEXT_TLB_FLUSH_ALL] = "tlb_flush_all",
	[XEN_MMUEXT_INVLPG_ALL] = "invlpg_all", [XEN_MMUEXT_FLUSH_CACHE] = "flush_cache",
	[XEN_MMUEXT_SET_LDT] = "set_ldt", [XEN_MMUEXT_NEW_USER_BASEPTR] = "new_user_baseptr",
	[XEN_MMUEXT_CLEAR_PAGE] = "clear_page", [XEN_MMUEXT_COPY_PAGE] = "copy_page",
	[XEN_MMUEXT_FLUSH_CACHE_GLOBAL] = "flush_cache_global", [XEN_MMUEXT_MARK_SUPER] = "mark_super",
	[XEN_MMUEXT_UNMARK_SUPER] = "unmark_super",
};
static const char *const mmu_update_ops[] = {
	[XEN_MMU_NORMAL_PT_UPDATE] = "normal", [XEN_MMU_MACHPHYS_UPDATE] = "machphys",
	[XEN_MMU_PT_UPDATE_PRESERVE_AD] = "preserve_ad", [XEN_MMU_PT_UPDATE_NO_TRANSLATE] = "no_translate",
};
static const char *const segbase_ops[] = {
	[XEN_SEGBASE_FS] = "fs", [XEN_SEGBASE_GS_USER] = "gs_user", [XEN_SEGBASE_GS_KERNEL] = "gs_kernel",
	[XEN_SEGBASE_GS_USER_SEL] = "gs_user_sel",
};
static const char *const physdev_ops[] = {
	[XEN_PHYSDEVOP_irq_status_query] = "irq_status_query", [XEN_PHYSDEVOP_set_iopl] = "set_iopl",
	[XEN_PHYSDEVOP_set_iobitmap] = "set_iobitmap", [XEN_PHYSDEVOP_pirq_eoi_gmfn_v2] = "pirq_eoi_gmfn_v2",
};
static const char *const console_ops[] = { [XEN_CONSOLEIO_write] = "write", [XEN_CONSOLEIO_read] = "read" };
static const char *const callback_ops[] = { [XEN_CALLBACKOP_register] = "register", [XEN_CALLBACKOP_unregister] = "unregister" };

#define NAMES(a) { a, sizeof(a) / sizeof(a[0]) }
static const struct { const char *const *names; unsigned n; } subop_names[XEN_HC_MAX] = {
	[XEN_HC_memory_op] = NAMES(memory_ops), [XEN_HC_vcpu_op] = NAMES(vcpu_ops),
	[XEN_HC_sched_op] = NAMES(sched_ops), [XEN_HC_event_channel_op] = NAMES(evtchn_ops),
	[XEN_HC_xen_version] = NAMES(version_ops), [XEN_HC_mmuext_op] = NAMES(mmuext_ops),
	[XEN_HC_mmu_update] = NAMES(mmu_update_ops), [XEN_HC_physdev_op] = NAMES(physdev_ops),
	[XEN_HC_console_io] = NAMES(console_ops), [XEN_HC_callback_op] = NAMES(callback_ops),
	[XEN_HC_set_segment_base] = NAMES(segbase_ops),
};

const char *xpv_subop_name(unsigned hc, unsigned subop)
{
	if (hc >= XEN_HC_MAX || !subop_names[hc].names || subop >= subop_names[hc].n)
		return NULL;
	return subop_names[hc].names[subop];
}
