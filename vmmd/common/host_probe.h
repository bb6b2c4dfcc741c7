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
};

void host_probe(struct host_facts *ret);
/* The facts probed once and kept (vmm.version): the host does not change
 * under a running daemon. A probe that found no usable KVM is retried on
 * the next call, so a module loaded later is still seen. */
const struct host_facts *host_facts_cached(void);

/* The host's memory (MemTotal of /proc/meminfo) in KiB: 0, or -errno
 * (-EBADMSG when the file has no MemTotal line). */
int host_memory_kib(uint64_t *ret);
