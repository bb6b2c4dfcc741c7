/* SPDX-License-Identifier: MIT */
/*
 * hvc0 for a PV guest without xenstore (XENPV.md 5; Linux's hvc_xen.c,
 * xencons_info_pv_init): the console ring page named by
 * start_info.console.domU, struct xencons_interface, and its event channel.
 *
 * Output: the guest writes out[] and advances out_prod, then sends on the
 * console port; vmmd takes [out_cons, out_prod) at once into the VM's
 * console (the worker's ring and log) and advances out_cons. Input: vmmd
 * appends to in[], advances in_prod and raises the port.
 *
 * The indices are the guest's to write: a producer more than a ring ahead
 * of its consumer is a broken ring, which vmmd resets instead of reading
 * past it. Indices wrap at 2^32; positions are masked into the ring.
 */
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"

static struct xen_cons_interface *ring(struct xpv_domain *d)
{
	return xpv_gpa_ptr(d, d->console_gpa, sizeof(struct xen_cons_interface));
}

void xpv_console_flush(struct xpv_domain *d)
{
	struct xen_cons_interface *c = ring(d);
	uint8_t buf[XEN_CONS_OUT_SIZE];

	if (!c)
		return;
	uint32_t cons = __atomic_load_n(&c->out_cons, __ATOMIC_ACQUIRE);
	uint32_t prod = __atomic_load_n(&c->out_prod, __ATOMIC_ACQUIRE);
	uint32_t n = prod - cons;
	if (n > XEN_CONS_OUT_SIZE) {
		__atomic_store_n(&c->out_cons, prod, __ATOMIC_RELEASE);   /* broken: drop, don't overread */
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		buf[i] = (uint8_t) c->out[(cons + i) & (XEN_CONS_OUT_SIZE - 1)];
	__atomic_store_n(&c->out_cons, prod, __ATOMIC_RELEASE);
	if (n && d->sink.console)
		d->sink.console(d->sink.ctx, buf, n);
}

size_t xpv_console_input(struct xpv_domain *d, const uint8_t *buf, size_t len)
{
	struct xen_cons_interface *c = ring(d);

	if (!c)
		return 0;
	uint32_t cons = __atomic_load_n(&c->in_cons, __ATOMIC_ACQUIRE);
	uint32_t prod = __atomic_load_n(&c->in_prod, __ATOMIC_ACQUIRE);
	uint32_t used = prod - cons;
	if (used > XEN_CONS_IN_SIZE)
		return 0;   /* the guest broke its own ring: input waits */
	size_t n = XEN_CONS_IN_SIZE - used;
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		c->in[(prod + i) & (XEN_CONS_IN_SIZE - 1)] = (char) buf[i];
	__atomic_store_n(&c->in_prod, prod + (uint32_t) n, __ATOMIC_RELEASE);
	if (n) {
		__atomic_fetch_add(&d->stats.raised_console, 1, __ATOMIC_RELAXED);
		xpv_port_raise(d, XPV_CONSOLE_PORT);
	}
	return n;
}
