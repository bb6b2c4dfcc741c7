/* SPDX-License-Identifier: MIT */
#include <asm/kvm_para.h>
#include <string.h>

#include "vmmd/common/host_probe.h"
#include "vmmd/worker/host_profile.h"

/* Each name masks a feature whose instructions KVM's emulator cannot run
 * at CPL0 (found booting 6.1 on a PVM host; docs/linux.md). clearcpuid
 * takes names since Linux 5.19; the older "noxsave nosmap" switches are
 * gone from 6.1, where Linux hands unknown words to init as arguments. */
#define EMULATED_KERNEL_CMDLINE \
	"clearcpuid=xsave,smap,popcnt,avx,avx2,bmi1,bmi2,movbe,fsgsbase,rdrand,rdseed," \
	"sha_ni,aes,pclmulqdq"

/* Where KVM emulates guest CPL0 (measured on a PVM host):
 * - a `vmcall` there never returns to the guest (guests/kvmpv.c: the vCPU
 *   stays on it, no exit): a Linux with KVM_GUEST (PARAVIRT's default) that
 *   is offered PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD or HC_MAP_GPA_RANGE
 *   sends its first IPI, kick or yield through one and hangs, e.g. while
 *   bringing up its second CPU;
 * - with kvm-clock (CLOCKSOURCE, CLOCKSOURCE2) as its sched_clock, the test
 *   Linux with 2 vCPUs spent all its time in its 250 Hz tick after SMP
 *   bring-up: both vCPUs sampled only in tick code, nothing printed for
 *   minutes; with `no-kvmclock` (or without KVM_GUEST) the same boot goes on.
 * Without them Linux sends IPIs through the local APIC, halts plainly and
 * keeps time with its own TSC or jiffies, as a kernel without KVM_GUEST
 * does; PV EOI, steal time and the PV TLB flush are MSRs and stay. */
#define EMULATED_KERNEL_KVM_HIDDEN \
	((1u << KVM_FEATURE_PV_UNHALT) | (1u << KVM_FEATURE_PV_SEND_IPI) | (1u << KVM_FEATURE_PV_SCHED_YIELD) | \
	 (1u << KVM_FEATURE_HC_MAP_GPA_RANGE) | (1u << KVM_FEATURE_CLOCKSOURCE) | (1u << KVM_FEATURE_CLOCKSOURCE2) | \
	 (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT))

enum vm_host_profile host_profile_resolve(enum vm_host_profile configured)
{
	if (configured != VM_HOST_AUTO)
		return configured;
	struct host_facts facts;
	host_probe(&facts);
	return strcmp(facts.virt, "pvm") == 0 || strcmp(facts.virt, "none") == 0 ? VM_HOST_EMULATED_KERNEL
										    : VM_HOST_HARDWARE;
}

const char *host_profile_cmdline(enum vm_host_profile resolved)
{
	return resolved == VM_HOST_EMULATED_KERNEL ? EMULATED_KERNEL_CMDLINE : "";
}

uint32_t host_profile_kvm_features_hidden(enum vm_host_profile resolved)
{
	return resolved == VM_HOST_EMULATED_KERNEL ? EMULATED_KERNEL_KVM_HIDDEN : 0;
}
