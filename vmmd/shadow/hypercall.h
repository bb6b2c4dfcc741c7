/* SPDX-License-Identifier: MIT */
/*
 * The port hypercall transport (docs/shadow.md, "Hypercalls"): the monitor's
 * TSS I/O bitmap lets `out %al, $VMM_HYPERCALL_PORT` through at real CPL3,
 * so a hypercall leaves the VM as a plain port exit, without the exception
 * delivery and the emulated monitor stub a trap costs (bench B6: the raw
 * exit floor against a full trap).
 *
 * The guest's user code could execute the same `out`: at virtual CPL3 it is
 * the #GP the guest would get on hardware. At virtual CPL0 the engine calls
 * the guest ABI's handler (shadow_guest_ops.hypercall_port, engine.h), else
 * vmmd's own paravirtual interface for its guests (abi/bootinfo.h, VMM_HC_*):
 *
 *   rax = function, rdi = argument; on return rax = result
 *   VMM_HC_RESTORE_IF (0)   IF := rdi (0 or 1); rax = the IF before
 *                           (what `wrmsr` of SHADOW_HC_MSR does, one trap cheaper)
 *   anything else           rax = VMM_HC_ENOSYS (-38)
 */
#pragma once

#include <stdint.h>

#include "abi/bootinfo.h"

struct shadow_vcpu;
enum shadow_action;

/* vmmd's own functions (the default handler): the guest's registers are in
 * sv->cpu.regs, rip already past the `out`; rax gets the result. */
enum shadow_action shadow_hypercall_native(struct shadow_vcpu *sv);
