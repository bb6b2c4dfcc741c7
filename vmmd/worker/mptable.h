/* SPDX-License-Identifier: MIT */
/*
 * The Intel MultiProcessor Specification 1.4 table, the ACPI-free way to
 * tell a guest kernel how many CPUs there are and how ISA interrupts reach
 * the IOAPIC. Linux (CONFIG_X86_MPPARSE) finds the floating pointer in the
 * last KiB of base memory and brings up one CPU per processor entry.
 *
 * Wiring, matching KVM's default GSI routing: ISA IRQ n -> IOAPIC pin n for
 * all 24 pins (edge, active high), LINT0 ExtINT and LINT1 NMI on every CPU.
 */
#pragma once

#include <stdint.h>

#include "vmmd/worker/guest_memory.h"

#define MPTABLE_MAX_CPUS    64
#define MPTABLE_IOAPIC_PINS 24
#define MPTABLE_IOAPIC_BASE 0xfec00000u
#define MPTABLE_LAPIC_BASE  0xfee00000u

/* Bytes the table takes for ncpus (the caller reserves them in e820). */
uint64_t mptable_size(unsigned ncpus);
/* Write floating pointer + configuration table at base. 0, -EINVAL (ncpus
 * 0 or above MPTABLE_MAX_CPUS), -ERANGE (outside memory or past 1 MiB). */
int mptable_write(struct guest_memory *mem, uint64_t base, unsigned ncpus);
