/* SPDX-License-Identifier: MIT */
/*
 * Scheduling, power and the vCPU (XENPV.md 3.3, 3.4): SCHEDOP_block is
 * Linux's idle loop (xen_safe_halt), SCHEDOP_shutdown its power-off,
 * reboot and crash; vcpu_op moves vcpu_info into the kernel's per-CPU area
 * (Linux panics if it cannot), registers the runstate area (a BUG() on
 * failure) and arms the single-shot timer that drives VIRQ_TIMER, Linux's
 * clock event device. One vCPU: every other id is -ENOENT.
 */
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"

#define ETIME_ERR 62   /* Linux's ETIME */

static void timer_set(struct xpv_vcpu *v, uint64_t deadline)
{
	__atomic_store_n(&v->timer_deadline, deadline, __ATOMIC_RELEASE);
	/* A deadline already passed fires now: delivered on the way back. */
	if (deadline && deadline <= xpv_now_ns(v->dom))
		xpv_timer_fire(v);
	else if (v->dom->sink.timer_changed)
		v->dom->sink.timer_changed(v->dom->sink.ctx);
}

long xpv_hc_sched_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0];
	struct xpv_domain *d = v->dom;

	xpv_count_subop(v, XEN_HC_sched_op, cmd, cmd <= XEN_SCHEDOP_poll);
	switch (cmd) {
	case XEN_SCHEDOP_yield:
		return 0;
	case XEN_SCHEDOP_block: {
		/* Blocking enables event delivery (Xen's do_block); sleep unless one is pending. */
		struct xen_vcpu_info *vi = xpv_vcpu_info(v);
		if (vi)
			__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_RELEASE);
		__atomic_fetch_add(&d->stats.blocks, 1, __ATOMIC_RELAXED);
		if (!xpv_event_pending(v))
			v->after.halt = true;
		return 0;
	}
	case XEN_SCHEDOP_poll:
		/* Linux re-checks its ports after a poll: returning at once is a
		 * legal spurious wake-up (it is used for PV spinlocks, SMP only). */
		__atomic_fetch_add(&d->stats.polls, 1, __ATOMIC_RELAXED);
		return 0;
	case XEN_SCHEDOP_shutdown: {
		uint32_t reason;
		if (xpv_copy_from_guest(v, a[1], &reason, sizeof(reason)) < 0)
			return -EFAULT;
		if (reason == XEN_SHUTDOWN_suspend)
			return -ENOSYS;   /* no save/restore */
		xpv_console_flush(d);   /* what the guest said last */
		if (d->sink.shutdown)
			d->sink.shutdown(d->sink.ctx, reason);
		v->after.halt = true;   /* the vCPU stops; the VM's exit is recorded */
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

static long register_vcpu_info(struct xpv_vcpu *v, uint64_t arg)
{
	struct xpv_domain *d = v->dom;
	struct xen_vcpu_register_vcpu_info r;

	if (xpv_copy_from_guest(v, arg, &r, sizeof(r)) < 0)
		return -EFAULT;
	if (r.mfn >= d->nr_pages || r.offset > XPV_PAGE - sizeof(struct xen_vcpu_info))
		return -EINVAL;
	uint64_t gpa = r.mfn * XPV_PAGE + r.offset;
	struct xen_vcpu_info *old = xpv_vcpu_info(v), *new = xpv_gpa_ptr(d, gpa, sizeof(*new));
	if (!old || !new)
		return -EINVAL;
	/* Pending, mask, pending_sel, cr2 and time move with it. */
	if (new != old)
		memcpy(new, old, sizeof(*new));
	v->vcpu_info_gpa = gpa;
	if (v->id == 0)
		__atomic_store_n(&d->vcpu0_info_gpa, gpa, __ATOMIC_RELEASE);
	xpv_time_publish(v);
	return 0;
}

static long register_runstate(struct xpv_vcpu *v, uint64_t arg)
{
	struct xen_vcpu_runstate_info rs = { .state = XEN_RUNSTATE_running };
	uint64_t va;

	if (xpv_copy_from_guest(v, arg, &va, sizeof(va)) < 0)
		return -EFAULT;
	v->runstate_va = va;
	/* Xen writes the area best-effort and succeeds either way. Always
	 * running, never stolen from: steal time stays 0. */
	if (va)
		(void) xpv_copy_to_guest(v, va, &rs, sizeof(rs));
	return 0;
}

static long singleshot(struct xpv_vcpu *v, uint64_t arg)
{
	struct xen_vcpu_set_singleshot_timer t;

	if (xpv_copy_from_guest(v, arg, &t, sizeof(t)) < 0)
		return -EFAULT;
	if ((t.flags & XEN_VCPU_SSHOTTMR_future) && t.timeout_abs_ns < xpv_now_ns(v->dom))
		return -ETIME_ERR;
	timer_set(v, t.timeout_abs_ns ? t.timeout_abs_ns : 1);
	return 0;
}

long xpv_hc_vcpu_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0];
	uint64_t arg = a[2];

	xpv_count_subop(v, XEN_HC_vcpu_op, cmd, cmd < XEN_VCPUOP_MAX);
	if ((uint32_t) a[1] != v->id)
		return -ENOENT;   /* one vCPU */
	switch (cmd) {
	case XEN_VCPUOP_is_up:
		return 1;
	case XEN_VCPUOP_register_vcpu_info:
		return register_vcpu_info(v, arg);
	case XEN_VCPUOP_register_runstate_memory_area:
		return register_runstate(v, arg);
	case XEN_VCPUOP_stop_periodic_timer:
	case XEN_VCPUOP_set_periodic_timer:
		return 0;   /* success makes Linux pick the single-shot clock event */
	case XEN_VCPUOP_set_singleshot_timer:
		return singleshot(v, arg);
	case XEN_VCPUOP_stop_singleshot_timer:
		timer_set(v, 0);
		return 0;
	case XEN_VCPUOP_up:
	case XEN_VCPUOP_down:
	case XEN_VCPUOP_initialise:
		return -EINVAL;
	default:
		/* register_vcpu_time_memory_area: the vDSO falls back to system calls. */
		return -ENOSYS;
	}
}

long xpv_hc_set_timer_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	timer_set(v, a[0]);
	return 0;
}
