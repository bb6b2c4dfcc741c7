/* SPDX-License-Identifier: MIT */
/*
 * Time for a PV guest (XENPV.md 3.6): the guest computes its system time
 * from its own TSC and vcpu_time_info,
 *
 *   system_time + (((tsc - tsc_timestamp) << shift) * mul >> 32)
 *
 * (a negative shift shifts right), and reads the wall clock at system time
 * 0 from shared_info.wc. vmmd publishes one scale for the VM's life (the
 * guest TSC runs at the rate KVM reports), with TSC_STABLE where the host
 * TSC is constant and non-stop, so the guest never sees time go back.
 * Single-shot timer deadlines are guest system time; the worker's timer
 * thread converts them with the same formula.
 */
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "vmmd/xenpv/xenpv_priv.h"

uint64_t xpv_guest_tsc(const struct xpv_domain *d)
{
	return __rdtsc() + (uint64_t) d->tsc_offset;
}

/* Xen's set_time_scale(): mul and shift such that ns = (ticks << shift) * mul >> 32. */
static void time_scale(uint64_t hz, uint32_t *ret_mul, int8_t *ret_shift)
{
	uint64_t tps64 = hz ? hz : 1000000000ULL;
	int shift = 0;

	while (tps64 > 2000000000ULL) {
		tps64 >>= 1;
		shift--;
	}
	uint32_t tps32 = (uint32_t) tps64;
	while (tps32 <= 1000000000u) {
		tps32 <<= 1;
		shift++;
	}
	*ret_mul = (uint32_t) ((1000000000ULL << 32) / tps32);
	*ret_shift = (int8_t) shift;
}

static uint64_t scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	return (uint64_t) (((unsigned __int128) delta * mul) >> 32);
}

void xpv_time_init(struct xpv_domain *d)
{
	struct timespec real;

	time_scale(d->tsc_hz, &d->tsc_mul, &d->tsc_shift);
	d->tsc0 = xpv_guest_tsc(d);
	clock_gettime(CLOCK_REALTIME, &real);
	d->wall0_ns = (uint64_t) real.tv_sec * 1000000000ULL + (uint64_t) real.tv_nsec;

	struct xen_shared_info *si = xpv_shared_info(d);
	if (!si)
		return;
	/* Version odd while the fields change, even once they hold (the guest retries on odd). */
	__atomic_store_n(&si->wc_version, si->wc_version + 1, __ATOMIC_RELEASE);
	si->wc_sec = (uint32_t) (d->wall0_ns / 1000000000ULL);
	si->wc_sec_hi = (uint32_t) ((d->wall0_ns / 1000000000ULL) >> 32);
	si->wc_nsec = (uint32_t) (d->wall0_ns % 1000000000ULL);
	__atomic_store_n(&si->wc_version, si->wc_version + 1, __ATOMIC_RELEASE);
}

uint64_t xpv_now_ns(const struct xpv_domain *d)
{
	return scale_delta(xpv_guest_tsc(d) - d->tsc0, d->tsc_mul, d->tsc_shift);
}

static void publish(struct xen_vcpu_time_info *t, const struct xpv_domain *d)
{
	__atomic_store_n(&t->version, t->version | 1, __ATOMIC_RELEASE);   /* odd: updating */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	t->tsc_timestamp = d->tsc0;
	t->system_time = 0;
	t->tsc_to_system_mul = d->tsc_mul;
	t->tsc_shift = d->tsc_shift;
	t->flags = d->tsc_stable ? XEN_PVCLOCK_TSC_STABLE_BIT : 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&t->version, t->version + 1, __ATOMIC_RELEASE);   /* even: done */
}

void xpv_time_publish(struct xpv_vcpu *v)
{
	struct xen_vcpu_info *vi = xpv_vcpu_info(v);
	struct xen_shared_info *si = xpv_shared_info(v->dom);

	if (vi)
		publish(&vi->time, v->dom);
	/* Linux reads shared_info's copy before it registers its own vcpu_info. */
	if (si && v->id < XEN_LEGACY_MAX_VCPUS)
		publish(&si->vcpu_info[v->id].time, v->dom);
}

/* --- the single-shot timer ------------------------------------------------------------------- */

uint64_t xpv_timer_deadline_host(struct xpv_vcpu *v)
{
	uint64_t deadline = __atomic_load_n(&v->timer_deadline, __ATOMIC_ACQUIRE);
	struct timespec now;

	if (!deadline)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t host_now = (uint64_t) now.tv_sec * 1000000000ULL + (uint64_t) now.tv_nsec;
	uint64_t guest_now = xpv_now_ns(v->dom);
	return deadline > guest_now ? host_now + (deadline - guest_now) : host_now;
}

void xpv_timer_fire(struct xpv_vcpu *v)
{
	uint64_t deadline = __atomic_load_n(&v->timer_deadline, __ATOMIC_ACQUIRE);
	uint64_t now = xpv_now_ns(v->dom);

	if (deadline && deadline <= now &&
	    __atomic_compare_exchange_n(&v->timer_deadline, &deadline, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		xpv_raise_virq(v->dom, XEN_VIRQ_TIMER);
}
