/* SPDX-License-Identifier: MIT */
/*
 * What this host offers, for vmm.version: the virtualization extension
 * (vmx, svm, pvm — KVM without hardware support, as on this project's
 * cloud machines — or none), two-dimensional paging, and the KVM API
 * version. Read from /proc and /sys plus one ioctl on a short-lived
 * /dev/kvm fd: the supervisor holds no KVM state.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct host_facts {
	bool kvm_available;
	int kvm_api_version;     /* -1 when unavailable */
	char kvm_error[128];     /* why not, when unavailable */
	const char *virt;        /* "vmx", "svm", "pvm", "none" */
	bool tdp;                /* EPT/NPT in use */
	int tdp_levels;          /* levels of KVM's nested tables (4 or 5); 0 without tdp */
	char hypervisor[13];     /* CPUID 0x40000000 signature of what runs this host
				  * ("TCGTCGTCGTCG": QEMU TCG), "" on bare metal */
};

void host_probe(struct host_facts *ret);
/* Levels of KVM's nested tables: NPT follows the host kernel's own paging
 * (5 with LA57 on); EPT uses 5 levels only where the CPU has them and a
 * guest may address more than 48 bits (KVM's kvm_mmu_get_tdp_level). */
int host_tdp_levels(const char *virt, bool la57, unsigned guest_phys_bits);
/* The facts probed once and kept (vmm.version): the host does not change
 * under a running daemon. A probe that found no usable KVM is retried on
 * the next call, so a module loaded later is still seen. */
const struct host_facts *host_facts_cached(void);

/* The host's memory (MemTotal of /proc/meminfo) in KiB: 0, or -errno
 * (-EBADMSG when the file has no MemTotal line). */
int host_memory_kib(uint64_t *ret);
