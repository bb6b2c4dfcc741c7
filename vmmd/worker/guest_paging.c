/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "base/macro.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/guest_paging.h"
#include "vmmd/worker/vcpu.h"
#include "x86/cpu.h"
#include "x86/cpuid.h"

#define PHYS_BITS_UNKNOWN 52   /* MAXPHYADDR when the vCPU's CPUID does not say */

enum guest_paging_kind guest_paging_kind(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	if (!(cr0 & X86_CR0_PG))
		return GUEST_PAGING_NONE;
	if (!(cr4 & X86_CR4_PAE))
		return GUEST_PAGING_32BIT;
	if (!(efer & X86_EFER_LMA))
		return GUEST_PAGING_PAE;
	return cr4 & X86_CR4_LA57 ? GUEST_PAGING_5LEVEL : GUEST_PAGING_4LEVEL;
}

const char *guest_paging_name(enum guest_paging_kind kind)
{
	static const char *const names[] = {
		[GUEST_PAGING_NONE] = "none", [GUEST_PAGING_32BIT] = "32-bit", [GUEST_PAGING_PAE] = "pae",
		[GUEST_PAGING_4LEVEL] = "4-level", [GUEST_PAGING_5LEVEL] = "5-level",
	};
	return (unsigned) kind < ELEMENTSOF(names) ? names[kind] : "?";
}

int guest_paging_get(struct vcpu *v, struct guest_paging *ret)
{
	struct guest_paging p = { 0 };
	struct kvm_cpuid2 *cpuid;
	int r;

	if (v->shadow) {
		const struct shadow_pcb *pcb = &v->shadow->cpu.pcb;

		p.cr0 = pcb->cr0, p.cr3 = pcb->cr3, p.cr4 = pcb->cr4, p.efer = pcb->efer;
	} else {
		struct kvm_sregs s;

		r = vcpu_get_sregs(v, &s);
		if (r < 0)
			return r;
		p.cr0 = s.cr0, p.cr3 = s.cr3, p.cr4 = s.cr4, p.efer = s.efer;
	}
	p.kind = guest_paging_kind(p.cr0, p.cr4, p.efer);
	p.walk.phys_bits = PHYS_BITS_UNKNOWN;
	if (vcpu_get_cpuid(v, &cpuid) == 0) {
		x86_cpuid_paging(cpuid->entries, cpuid->nent, &p.walk);
		free(cpuid);
	}
	p.walk.nxe = (p.efer & X86_EFER_NXE) != 0;
	p.walk.wp = (p.cr0 & X86_CR0_WP) != 0;
	*ret = p;
	return 0;
}
