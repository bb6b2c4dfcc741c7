/* SPDX-License-Identifier: MIT */
/*
 * The shadow engine's side of decoding (x86/decode.h is the pure part):
 * fetch the guest's instruction at RIP through the guest's page tables, and
 * the linear address of a memory operand with the virtual CPU's FS/GS bases.
 */
#pragma once

#include "vmmd/shadow/vcpu_model.h"
#include "x86/decode.h"

/*
 * Fetch (SHADOW_ACC_FETCH, as the virtual CPL) and decode the instruction at
 * cpu->regs.rip. A fetch that faults only past the end of a shorter
 * instruction is not a fault (like hardware). Returns 0; -EFAULT with
 * *ret_fault filled (the #PF the guest sees); -EILSEQ when undecodable.
 */
int x86_fetch_decode(const struct shadow_cpu *cpu, const struct shadow_env *env, struct x86_insn *ret,
		     struct shadow_fault *ret_fault);

/* The linear address of a memory operand (base + index*scale + disp,
 * rip-relative from next_rip, truncated to the address size, plus the
 * FS/GS base from the PCB). 0, or -EINVAL for non-memory operands or
 * agen/vsib forms. */
int x86_mem_linear(const struct shadow_cpu *cpu, const struct x86_insn *insn, const ZydisDecodedOperand *op,
		   uint64_t *ret);
