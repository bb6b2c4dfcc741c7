/* SPDX-License-Identifier: MIT */
/*
 * CPUID as a PV guest sees it (XENPV.md 7.1, after Xen's PV policy in
 * xen/include/public/arch-x86/cpufeatureset.h): the host's values minus
 * what a kernel at CPL3 on vmmd's shadow MMU cannot use (APIC, MTRR, PGE,
 * PSE, PCID, x2APIC, MCE/MCA, performance monitoring, monitor/mwait, and
 * for now XSAVE and everything built on it: the real CR4 has no OSXSAVE, so
 * AVX would #UD), plus Xen's leaves at 0x40000000 (Linux's xen_cpuid_base()
 * finds Xen there, or never maps shared_info). One vCPU: one thread, one
 * core. Native `cpuid` (with CPUID faulting) and the forced-emulation form
 * (priv.c) both come here, from kernel and user mode alike.
 */
#include <cpuid.h>
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"

#define BIT(n) (1u << (n))

/* leaf 1 */
#define L1_EDX_CLEAR (BIT(1) | BIT(3) | BIT(7) | BIT(9) | BIT(12) | BIT(13) | BIT(14) | BIT(17) | BIT(21) | \
		      BIT(22) | BIT(28) | BIT(29) | BIT(31))
#define L1_ECX_CLEAR (BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(11) | BIT(12) | \
		      BIT(14) | BIT(15) | BIT(17) | BIT(18) | BIT(21) | BIT(24) | BIT(26) | BIT(27) | \
		      BIT(28) | BIT(29))
#define L1_ECX_HYPERVISOR BIT(31)
/* leaf 7, subleaf 0 */
#define L7_EBX_CLEAR (BIT(0) | BIT(1) | BIT(2) | BIT(4) | BIT(5) | BIT(7) | BIT(10) | BIT(11) | BIT(12) | \
		      BIT(14) | BIT(15) | BIT(16) | BIT(17) | BIT(20) | BIT(21) | BIT(25) | BIT(26) | BIT(27) | \
		      BIT(28) | BIT(30) | BIT(31))
#define L7_ECX_CLEAR (BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(9) | BIT(10) | \
		      BIT(11) | BIT(12) | BIT(14) | BIT(16))
#define L7_EDX_KEEP  BIT(4)   /* fast short rep movsb; the rest is AVX-512, AMX, CET, speculation control */
/* extended */
#define E1_ECX_CLEAR (BIT(2) | BIT(3) | BIT(12) | BIT(13) | BIT(15) | BIT(22) | BIT(23) | BIT(24) | BIT(28) | \
		      BIT(29))
#define E1_EDX_CLEAR BIT(26)  /* 1 GiB pages */
#define E8_EBX_KEEP  (BIT(0) | BIT(1) | BIT(2))   /* clzero, irperf, xsaveerptr; not IBPB/IBRS/STIBP/SSBD */

/* "XenVMMXenVMM" */
#define XEN_SIG_EBX 0x566e6558u
#define XEN_SIG_ECX 0x65584d4du
#define XEN_SIG_EDX 0x4d4d566eu

void xpv_cpuid_policy(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	uint32_t *a = &out[0], *b = &out[1], *c = &out[2], *d = &out[3];

	if (leaf >= 0x40000000u && leaf < 0x50000000u) {
		memset(out, 0, 4 * sizeof(uint32_t));
		switch (leaf) {
		case 0x40000000u:
			*a = 0x40000002u;
			*b = XEN_SIG_EBX;
			*c = XEN_SIG_ECX;
			*d = XEN_SIG_EDX;
			break;
		case 0x40000001u:
			*a = XPV_VERSION;
			break;
		case 0x40000002u:
			*a = 1;               /* hypercall pages (none is needed: 6.1 uses syscall directly) */
			*b = 0x40000000u;     /* the MSR that would fill one */
			break;
		}
		return;
	}
	switch (leaf) {
	case 1:
		*b &= 0x0000ffffu;           /* APIC id 0 (31:24), 0 logical CPUs per package (23:16) */
		*b |= 1u << 16;
		*c = (*c & ~L1_ECX_CLEAR) | L1_ECX_HYPERVISOR;
		*d &= ~L1_EDX_CLEAR;
		break;
	case 4:
		*a &= 0x3fffu;               /* one core, one thread shares each cache */
		break;
	case 5: case 6: case 0xa: case 0xb: case 0xd: case 0xf: case 0x10: case 0x12: case 0x14:
	case 0x1f:
		memset(out, 0, 4 * sizeof(uint32_t));
		break;
	case 7:
		if (subleaf == 0) {
			*a = 0;                  /* no subleaf 1 (AVX-VNNI and friends) */
			*b &= ~L7_EBX_CLEAR;
			*c &= ~L7_ECX_CLEAR;
			*d &= L7_EDX_KEEP;
		} else {
			memset(out, 0, 4 * sizeof(uint32_t));
		}
		break;
	case 0x80000001u:
		*c &= ~E1_ECX_CLEAR;
		*d &= ~E1_EDX_CLEAR;
		break;
	case 0x80000007u:
		*a = *b = *c = 0;
		*d &= BIT(8);                /* invariant TSC */
		break;
	case 0x80000008u:
		*b &= E8_EBX_KEEP;
		*c = 0;                      /* one core, no APIC id size */
		break;
	case 0x8000000au: case 0x8000001eu: case 0x8000001fu: case 0x80000020u: case 0x80000021u:
		memset(out, 0, 4 * sizeof(uint32_t));
		break;
	default:
		if (leaf > 0x14 && leaf < 0x80000000u)
			memset(out, 0, 4 * sizeof(uint32_t));
		break;
	}
}

void xpv_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	struct shadow_vcpu *sv = ctx;

	__cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
	xpv_cpuid_policy(leaf, subleaf, out);
	__atomic_fetch_add(&xpv_of(sv)->dom->stats.cpuid, 1, __ATOMIC_RELAXED);
}
