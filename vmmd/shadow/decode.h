/* SPDX-License-Identifier: MIT */
/*
 * A thin wrapper around Zydis for the shadow engine: fetch the guest's
 * instruction at RIP through the guest's page tables, decode it in 64-bit
 * mode, and reach its operands — general registers by Zydis name, memory
 * operands by effective address. Everything here treats the decoded bytes
 * as hostile: operand indices are bounded by what Zydis reported, register
 * lookups refuse anything that is not a general register, and no operand
 * size above 8 bytes is ever read into a register.
 */
#pragma once

#include <Zydis/Zydis.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmmd/shadow/vcpu_model.h"

#define X86_MAX_INSN_LEN 15

struct x86_insn {
	ZydisDecodedInstruction d;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	uint64_t rip, next_rip;
};

/*
 * Fetch (SHADOW_ACC_FETCH, as the virtual CPL) and decode the instruction at
 * cpu->regs.rip. A fetch that faults only past the end of a shorter
 * instruction is not a fault (like hardware). Returns 0; -EFAULT with
 * *ret_fault filled (the #PF the guest sees); -EILSEQ when undecodable.
 */
int x86_fetch_decode(const struct shadow_cpu *cpu, const struct shadow_env *env, struct x86_insn *ret,
		     struct shadow_fault *ret_fault);

/* Decode from a buffer (tests, and the fetch above). 0, or -EILSEQ; -EAGAIN
 * when the bytes end before the instruction does. */
int x86_decode(const uint8_t *bytes, size_t len, uint64_t rip, struct x86_insn *ret);

/* The i-th operand Zydis reported (explicit, implicit or hidden), or NULL. */
const ZydisDecodedOperand *x86_operand(const struct x86_insn *insn, unsigned i);

static inline bool x86_is_gpr(ZydisRegister reg)
{
	ZydisRegisterClass c = ZydisRegisterGetClass(reg);
	return c == ZYDIS_REGCLASS_GPR8 || c == ZYDIS_REGCLASS_GPR16 || c == ZYDIS_REGCLASS_GPR32 ||
	       c == ZYDIS_REGCLASS_GPR64;
}

/* Width of a general register in bytes (1, 2, 4, 8), 0 for anything else. */
unsigned x86_gpr_size(ZydisRegister reg);

/* Read a general register (zero-extended; AH/BH/CH/DH give bits 15:8).
 * 0, or -EINVAL if reg is not a general register. */
int x86_gpr_read(const struct kvm_regs *regs, ZydisRegister reg, uint64_t *ret);

/* Write with the x86-64 rules: 8/16-bit writes merge, 32-bit writes zero
 * the upper half, 64-bit writes replace. 0, or -EINVAL. */
int x86_gpr_write(struct kvm_regs *regs, ZydisRegister reg, uint64_t value);

/* The linear address of a memory operand (base + index*scale + disp,
 * rip-relative from next_rip, truncated to the address size, plus the
 * FS/GS base from the PCB). 0, or -EINVAL for non-memory operands or
 * agen/vsib forms. */
int x86_mem_linear(const struct shadow_cpu *cpu, const struct x86_insn *insn, const ZydisDecodedOperand *op,
		   uint64_t *ret);

/* Does this memory operand use RIP-relative addressing or an FS/GS base? */
bool x86_mem_is_rip_relative(const ZydisDecodedOperand *op);
bool x86_mem_has_fs_gs(const ZydisDecodedOperand *op);

static inline bool x86_canonical(uint64_t va)
{
	return (uint64_t) ((int64_t) (va << 16) >> 16) == va;
}

/* Mask of an operand of `size` bytes (1..8). */
static inline uint64_t x86_size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Sign-extend the low `size` bytes of v. */
static inline uint64_t x86_sign_extend(uint64_t v, unsigned size)
{
	if (size >= 8)
		return v;
	unsigned shift = 64 - size * 8;
	return (uint64_t) ((int64_t) (v << shift) >> shift);
}
