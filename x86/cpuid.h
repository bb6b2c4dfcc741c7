/* SPDX-License-Identifier: MIT */
/*
 * What a vCPU's CPUID table (KVM's struct kvm_cpuid_entry2 list) says about
 * paging: the facts the guest page walk's reserved-bit rule depends on.
 * hw mode's inspection and the shadow MMU read them from the same table, so
 * both refuse the same entries the guest's CPU would.
 */
#pragma once

#include <linux/kvm.h>
#include <stdbool.h>

#include "x86/guest_walk.h"

/* phys_bits from leaf 0x80000008 EAX[7:0] (52 when absent or outside
 * 32..52), no_1g from leaf 0x80000001 EDX[26] (PDPE1GB; 1 GiB pages assumed
 * when the leaf is absent). nxe and wp are CPU state, left false. */
void x86_cpuid_paging(const struct kvm_cpuid_entry2 *entries, unsigned n, struct gw_config *ret);
