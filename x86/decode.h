/* SPDX-License-Identifier: MIT */
/*
 * A thin wrapper around Zydis: decode x86-64 instruction bytes and reach
 * their register operands by Zydis name. Pure: no guest memory, no vCPU —
 * the shadow engine's fetch through the guest's page tables and its memory
 * operands live in vmmd/shadow/decode.h; hw mode's emulation fallback uses
 * this alone. Everything here treats the decoded bytes as hostile: operand
 * indices are bounded by what Zydis reported, register lookups refuse
 * anything that is not a general register, and no operand size above 8
 * bytes is ever read into a register.
 */
#pragma once

#include <Zydis/Zydis.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86/cpu.h"

#define X86_MAX_INSN_LEN 15

struct x86_insn {
	ZydisDecodedInstruction d;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	uint64_t rip, next_rip;
};

/* Decode from a buffer in 64-bit mode. 0, or -EILSEQ; -EAGAIN when the
 * bytes end before the instruction does. */
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

/* Does this memory operand use RIP-relative addressing or an FS/GS base? */
bool x86_mem_is_rip_relative(const ZydisDecodedOperand *op);
bool x86_mem_has_fs_gs(const ZydisDecodedOperand *op);

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
