// SPDX-License-Identifier: MIT
/*
 * kvmpv: what a Linux with CONFIG_KVM_GUEST (PARAVIRT's default) sees of
 * KVM's paravirtual interface, and the hypercalls it then makes. Reads the
 * hypervisor leaves (CPUID 0x40000000: "KVMKVMKVM", 0x40000001: the
 * KVM_FEATURE_* bits) and, for each feature it is offered that works
 * through a hypercall (`vmcall`/`vmmcall` at CPL0), makes that hypercall
 * the way Linux does (arch/x86/kernel/kvm.c):
 *   PV_UNHALT (7)       KVM_HC_KICK_CPU (5): wake a halted vCPU (pv spinlocks)
 *   PV_SEND_IPI (11)    KVM_HC_SEND_IPI (10): IPIs by bitmap (smp_call_function)
 *   PV_SCHED_YIELD (13) KVM_HC_SCHED_YIELD (11): yield to a preempted vCPU
 * each aimed at this vCPU (APIC ID 0), with its interrupts off, so none of
 * them changes anything. Where KVM emulates guest CPL0 (pvm hosts) such a
 * hypercall never completes: vmmd must not offer these features there
 * (vmmd/worker/vcpu.c; a 2-vCPU Linux hung at its first PV IPI).
 *
 * Prints "kvmpv: signature 'S' features 0xF", a line per hypercall made
 * ("kvmpv: NAME returned R"), then "kvmpv: done N hypercalls"; with
 * "calls=0" it makes none, with "force=1" all three whatever CPUID says (a
 * probe of the host). Exits through debug-exit with 0.
 */
#include "guest.h"

#define KVM_CPUID_SIGNATURE 0x40000000u
#define KVM_CPUID_FEATURES  0x40000001u

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* Linux's kvm_hypercall4: number in rax, arguments in rbx, rcx, rdx, rsi,
 * the result in rax. vmcall is Intel's; KVM turns it into vmmcall on AMD. */
static long hypercall4(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3)
{
	long ret;

	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
	return ret;
}

static const struct {
	const char *name;
	unsigned feature;   /* KVM_FEATURE_* bit */
	unsigned long nr, a0, a1, a2, a3;
} calls[] = {
	/* flags 0, APIC ID 0 */
	{ "KVM_HC_KICK_CPU", 7, 5, 0, 0, 0, 0 },
	/* bitmap (low, high) of APIC IDs from min 0: this vCPU; ICR: fixed, vector 0xf0
	 * (the local APIC is software-disabled: KVM drops it) */
	{ "KVM_HC_SEND_IPI", 11, 10, 1, 0, 0, 0xf0 },
	/* yield to APIC ID 0 */
	{ "KVM_HC_SCHED_YIELD", 13, 11, 0, 0, 0, 0 },
};

void guest_main(const struct guest_boot *b)
{
	(void) b;
	uint32_t max, sig[3], features = 0, unused;
	char name[13];

	cpuid(KVM_CPUID_SIGNATURE, &max, &sig[0], &sig[1], &sig[2]);
	memcpy(name, sig, 12);
	name[12] = 0;
	for (int i = 0; i < 12; i++)
		if (name[i] && (name[i] < 0x20 || name[i] > 0x7e))
			name[i] = '.';
	if (memcmp(name, "KVMKVMKVM", 9) == 0 && max >= KVM_CPUID_FEATURES)
		cpuid(KVM_CPUID_FEATURES, &features, &unused, &unused, &unused);
	printf("kvmpv: signature '%s' features 0x%x\n", name, features);

	bool force = cmdline_int("force", 0) != 0;
	unsigned made = 0;
	for (unsigned i = 0; cmdline_int("calls", 1) && i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (!force && !(features & (1u << calls[i].feature)))
			continue;
		printf("kvmpv: %s next\n", calls[i].name);
		long r = hypercall4(calls[i].nr, calls[i].a0, calls[i].a1, calls[i].a2, calls[i].a3);
		printf("kvmpv: %s returned %ld\n", calls[i].name, r);
		made++;
	}
	printf("kvmpv: done %u hypercalls\n", made);
	vmm_exit(0);
}
