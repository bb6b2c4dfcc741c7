/* SPDX-License-Identifier: MIT */
/*
 * What a Linux guest must be told about the host it runs on. On hosts where
 * KVM emulates guest CPL0 (PVM: no VT-x/AMD-V), KVM's emulator fails on
 * xsave/xrstor, popcnt, AVX and friends, and KVM_SET_CPUID2 does not hide
 * them from the guest; the kernel's own command-line switches do. There
 * KVM's hypercall instruction (vmcall at CPL0) never completes either, so
 * the KVM paravirtual features that work through hypercalls are hidden
 * from every guest's CPUID (that leaf KVM_SET_CPUID2 does set). On
 * VT-x/AMD-V hosts nothing is added or hidden.
 */
#pragma once

#include <stdint.h>

#include "config/vm_config.h"

/* auto -> detected from the host (host_probe.h); anything else as given. */
enum vm_host_profile host_profile_resolve(enum vm_host_profile configured);
/* The command-line words the profile adds ("" for hardware). */
const char *host_profile_cmdline(enum vm_host_profile resolved);
/* The KVM_FEATURE_* bits (CPUID 0x40000001 EAX) the profile hides. */
uint32_t host_profile_kvm_features_hidden(enum vm_host_profile resolved);
