/* SPDX-License-Identifier: MIT */
/*
 * When KVM's instruction emulator gives up (KVM_EXIT_INTERNAL_ERROR,
 * suberror EMULATION, with the instruction bytes thanks to
 * KVM_CAP_EXIT_ON_EMULATION_FAILURE), vmmd decodes the instruction with
 * Zydis and finishes the few that are safe to do from userspace:
 *   int3       -> #BP injected with RIP after the int3 (a trap, as hardware)
 *   clac, stac -> RFLAGS.AC cleared / set at CPL0, #UD elsewhere
 * Everything else stays a failure and ends the VM as crashed with RIP and
 * the bytes. Only emulating hosts (PVM) get here in practice: on VT-x/AMD-V
 * these instructions run natively.
 */
#pragma once

#include <stddef.h>

struct vcpu;

enum emulated_insn { EMULATED_INT3, EMULATED_CLAC, EMULATED_STAC, EMULATED_MAX };

const char *emulated_insn_name(enum emulated_insn e);

/* Try the vCPU's pending emulation failure. 0: handled, the vCPU may run
 * on. Negative errno: not handled; msg says why (RIP and the bytes). */
int emulation_fallback(struct vcpu *v, char *msg, size_t msg_size);
