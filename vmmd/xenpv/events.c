/* SPDX-License-Identifier: MIT */
/*
 * Event channels, 2-level ABI (XENPV.md 3.5; Xen's common/event_2l.c and
 * event_channel.c): a port is a bit in shared_info.evtchn_pending, masked
 * by evtchn_mask; raising one sets the port's bit, then (unless masked) its
 * word's bit in vcpu_info.evtchn_pending_sel and evtchn_upcall_pending.
 * The guest clears all of these itself, concurrently, so every access is an
 * atomic operation on the shared pages.
 *
 * Ports: 0 is never valid, XPV_CONSOLE_PORT is pre-bound to the console
 * ring; the guest binds VIRQs (the timer) and IPIs and allocates an unbound
 * port for its local xenstore (which nobody serves: store_evtchn = 0).
 * Upcall: when the vCPU is about to resume and an event is pending and not
 * masked, it enters the event callback with events masked.
 */
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"

void xpv_ports_init(struct xpv_domain *d)
{
	memset(d->ports, 0, sizeof(d->ports));
	d->ports[0].type = XPV_PORT_RESERVED;
	d->ports[XPV_CONSOLE_PORT].type = XPV_PORT_CONSOLE;
	for (unsigned i = 0; i < XEN_NR_VIRQS; i++)
		d->virq_port[i] = 0;
}

/* vCPU 0's vcpu_info (every port is bound to it: one vCPU). */
static struct xen_vcpu_info *vcpu0_info(struct xpv_domain *d)
{
	uint64_t gpa = __atomic_load_n(&d->vcpu0_info_gpa, __ATOMIC_ACQUIRE);
	return xpv_gpa_ptr(d, gpa, sizeof(struct xen_vcpu_info));
}

bool xpv_port_raise(struct xpv_domain *d, unsigned port)
{
	struct xen_shared_info *si = xpv_shared_info(d);
	struct xen_vcpu_info *vi = vcpu0_info(d);
	uint64_t bit = 1ULL << (port % 64), sel = 1ULL << (port / 64);

	if (!si || !vi || port == 0 || port >= XPV_PORTS)
		return false;
	if (__atomic_fetch_or(&si->evtchn_pending[port / 64], bit, __ATOMIC_ACQ_REL) & bit)
		return false;
	if (__atomic_load_n(&si->evtchn_mask[port / 64], __ATOMIC_ACQUIRE) & bit)
		return false;
	if (__atomic_fetch_or(&vi->evtchn_pending_sel, sel, __ATOMIC_ACQ_REL) & sel)
		return false;
	__atomic_store_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_RELEASE);
	return true;
}

void xpv_raise_virq(struct xpv_domain *d, unsigned virq)
{
	if (virq >= XEN_NR_VIRQS)
		return;
	unsigned port = __atomic_load_n(&d->virq_port[virq], __ATOMIC_ACQUIRE);
	if (!port)
		return;   /* not bound (yet): Xen drops it too */
	__atomic_fetch_add(&d->stats.raised_virq[virq], 1, __ATOMIC_RELAXED);
	xpv_port_raise(d, port);
}

void xpv_port_send(struct xpv_vcpu *v, unsigned port)
{
	struct xpv_domain *d = v->dom;

	if (port >= XPV_PORTS)
		return;
	switch (d->ports[port].type) {
	case XPV_PORT_CONSOLE:
		/* The guest filled the out ring: take it all now, so the ring never
		 * stays full (no SCHEDOP_yield loops), and tell it. */
		xpv_console_flush(d);
		__atomic_fetch_add(&d->stats.raised_console, 1, __ATOMIC_RELAXED);
		xpv_port_raise(d, port);
		break;
	case XPV_PORT_IPI:
		__atomic_fetch_add(&d->stats.raised_ipi, 1, __ATOMIC_RELAXED);
		xpv_port_raise(d, port);
		break;
	default:
		break;   /* unbound or a VIRQ: nobody at the other end */
	}
}

/* --- delivery ------------------------------------------------------------------------------------ */

bool xpv_event_pending(struct xpv_vcpu *v)
{
	struct xen_vcpu_info *vi = xpv_vcpu_info(v);
	return vi && !__atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_ACQUIRE);
}

bool xpv_deliver_events(struct xpv_vcpu *v, bool *ret_failed)
{
	const struct xpv_callback *cb = &v->callback[XEN_CALLBACKTYPE_event];

	*ret_failed = false;
	if (!cb->address || !xpv_event_pending(v))
		return false;
	/* The event callback always runs with events masked (Xen's TBF_INTERRUPT for it). */
	if (xpv_bounce(v, cb->address, true, NULL) < 0) {
		*ret_failed = true;
		return false;
	}
	v->sv->cpu.pcb.halted = false;
	__atomic_fetch_add(&v->dom->stats.upcalls, 1, __ATOMIC_RELAXED);
	shadow_count_trap(v->sv->svm, STRAP_INTERRUPT);
	return true;
}

/* --- event_channel_op -------------------------------------------------------------------------------- */

static int port_alloc(struct xpv_domain *d, uint8_t type, uint8_t virq)
{
	for (unsigned p = 1; p < XPV_PORTS; p++) {
		if (d->ports[p].type == XPV_PORT_FREE) {
			d->ports[p] = (struct xpv_port) { .type = type, .virq = virq };
			return (int) p;
		}
	}
	return -ENOSPC;
}

static long bind_virq(struct xpv_vcpu *v, uint64_t arg)
{
	struct xpv_domain *d = v->dom;
	struct xen_evtchn_bind_virq b;

	if (xpv_copy_from_guest(v, arg, &b, sizeof(b)) < 0)
		return -EFAULT;
	if (b.virq >= XEN_NR_VIRQS)
		return -EINVAL;
	if (b.vcpu != 0)
		return -ENOENT;
	pthread_mutex_lock(&d->lock);
	int p = __atomic_load_n(&d->virq_port[b.virq], __ATOMIC_ACQUIRE) ? -EEXIST : port_alloc(d, XPV_PORT_VIRQ, b.virq);
	if (p > 0)
		__atomic_store_n(&d->virq_port[b.virq], (uint32_t) p, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&d->lock);
	if (p < 0)
		return p;
	b.port = (uint32_t) p;
	return xpv_copy_to_guest(v, arg, &b, sizeof(b));
}

static long bind_ipi(struct xpv_vcpu *v, uint64_t arg)
{
	struct xen_evtchn_bind_ipi b;

	if (xpv_copy_from_guest(v, arg, &b, sizeof(b)) < 0)
		return -EFAULT;
	if (b.vcpu != 0)
		return -ENOENT;
	pthread_mutex_lock(&v->dom->lock);
	int p = port_alloc(v->dom, XPV_PORT_IPI, 0);
	pthread_mutex_unlock(&v->dom->lock);
	if (p < 0)
		return p;
	b.port = (uint32_t) p;
	return xpv_copy_to_guest(v, arg, &b, sizeof(b));
}

static long alloc_unbound(struct xpv_vcpu *v, uint64_t arg)
{
	struct xen_evtchn_alloc_unbound b;

	if (xpv_copy_from_guest(v, arg, &b, sizeof(b)) < 0)
		return -EFAULT;
	if (b.dom != XEN_DOMID_SELF && b.dom != 0)
		return -ESRCH;
	pthread_mutex_lock(&v->dom->lock);
	int p = port_alloc(v->dom, XPV_PORT_UNBOUND, 0);
	pthread_mutex_unlock(&v->dom->lock);
	if (p < 0)
		return p;
	b.port = (uint32_t) p;
	return xpv_copy_to_guest(v, arg, &b, sizeof(b));
}

static long port_arg(struct xpv_vcpu *v, uint64_t arg, uint32_t *ret)
{
	if (xpv_copy_from_guest(v, arg, ret, sizeof(*ret)) < 0)
		return -EFAULT;
	return *ret < XPV_PORTS ? 0 : -EINVAL;
}

static long evtchn_close(struct xpv_vcpu *v, uint64_t arg)
{
	struct xpv_domain *d = v->dom;
	uint32_t port;
	long r = port_arg(v, arg, &port);

	if (r < 0)
		return r;
	pthread_mutex_lock(&d->lock);
	struct xpv_port *p = &d->ports[port];
	if (p->type == XPV_PORT_VIRQ)
		__atomic_store_n(&d->virq_port[p->virq], 0, __ATOMIC_RELEASE);
	if (p->type == XPV_PORT_RESERVED)
		r = -EINVAL;
	else if (p->type != XPV_PORT_CONSOLE)   /* the console's port stays bound: nothing rebinds it */
		*p = (struct xpv_port) { .type = XPV_PORT_FREE };
	pthread_mutex_unlock(&d->lock);
	return r;
}

static long evtchn_status(struct xpv_vcpu *v, uint64_t arg)
{
	struct xen_evtchn_status st;
	static const uint32_t status[] = {
		[XPV_PORT_FREE] = XEN_EVTCHNSTAT_closed, [XPV_PORT_RESERVED] = XEN_EVTCHNSTAT_closed,
		[XPV_PORT_UNBOUND] = XEN_EVTCHNSTAT_unbound, [XPV_PORT_VIRQ] = XEN_EVTCHNSTAT_virq,
		[XPV_PORT_IPI] = XEN_EVTCHNSTAT_ipi, [XPV_PORT_CONSOLE] = XEN_EVTCHNSTAT_interdomain,
	};

	if (xpv_copy_from_guest(v, arg, &st, sizeof(st)) < 0)
		return -EFAULT;
	if (st.dom != XEN_DOMID_SELF && st.dom != 0)
		return -ESRCH;
	if (st.port >= XPV_PORTS)
		return -EINVAL;
	struct xpv_port p = v->dom->ports[st.port];
	st.status = status[p.type];
	st.vcpu = 0;
	memset(&st.u, 0, sizeof(st.u));
	if (p.type == XPV_PORT_VIRQ)
		st.u.virq = p.virq;
	return xpv_copy_to_guest(v, arg, &st, sizeof(st));
}

/* Xen's evtchn_2l_unmask: clear the mask; if the port is pending, mark its
 * word and the vCPU, so the event is delivered on the way back. */
static long evtchn_unmask(struct xpv_vcpu *v, uint64_t arg)
{
	struct xen_shared_info *si = xpv_shared_info(v->dom);
	struct xen_vcpu_info *vi = xpv_vcpu_info(v);
	uint32_t port;
	long r = port_arg(v, arg, &port);

	if (r < 0)
		return r;
	if (!si || !vi)
		return -EINVAL;
	uint64_t bit = 1ULL << (port % 64), sel = 1ULL << (port / 64);
	__atomic_fetch_and(&si->evtchn_mask[port / 64], ~bit, __ATOMIC_ACQ_REL);
	if ((__atomic_load_n(&si->evtchn_pending[port / 64], __ATOMIC_ACQUIRE) & bit) &&
	    !(__atomic_fetch_or(&vi->evtchn_pending_sel, sel, __ATOMIC_ACQ_REL) & sel))
		__atomic_store_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_RELEASE);
	return 0;
}

long xpv_hc_event_channel_op(struct xpv_vcpu *v, const uint64_t a[5])
{
	unsigned cmd = (unsigned) a[0];
	uint64_t arg = a[1];
	uint32_t port;
	long r;

	switch (cmd) {
	case XEN_EVTCHNOP_bind_virq:
		r = bind_virq(v, arg);
		break;
	case XEN_EVTCHNOP_bind_ipi:
		r = bind_ipi(v, arg);
		break;
	case XEN_EVTCHNOP_alloc_unbound:
		r = alloc_unbound(v, arg);
		break;
	case XEN_EVTCHNOP_send:
		r = port_arg(v, arg, &port);
		if (r == 0)
			xpv_port_send(v, port);
		break;
	case XEN_EVTCHNOP_close:
		r = evtchn_close(v, arg);
		break;
	case XEN_EVTCHNOP_status:
		r = evtchn_status(v, arg);
		break;
	case XEN_EVTCHNOP_unmask:
		r = evtchn_unmask(v, arg);
		break;
	case XEN_EVTCHNOP_bind_vcpu:
		r = 0;   /* one vCPU */
		break;
	case XEN_EVTCHNOP_reset:
		r = 0;
		break;
	default:
		/* init_control (FIFO) among them: Linux falls back to 2-level. */
		xpv_count_subop(v, XEN_HC_event_channel_op, cmd, cmd == XEN_EVTCHNOP_init_control);
		return -ENOSYS;
	}
	xpv_count_subop(v, XEN_HC_event_channel_op, cmd, true);
	return r;
}
