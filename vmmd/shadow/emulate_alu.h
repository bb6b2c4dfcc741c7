/* SPDX-License-Identifier: MIT */
/*
 * Integer ALU operations for the data emulator (emulate_data.c), computed
 * by the host CPU itself: each operation runs the very instruction on
 * registers, with the guest's status flags loaded before it (popf) and
 * read back after it (pushf). The guest runs natively on this same CPU, so
 * results and flags — the architecturally undefined ones included (AF after
 * and/or/xor, SF/ZF/AF/PF after bt*, OF after multi-bit shifts) — are
 * exactly what the instruction would have produced had it run natively.
 * (KVM's x86 emulator does the same with its "fastop" stubs.)
 *
 * Only the status flags (CF PF AF ZF SF OF) go in and come out; DF, TF,
 * IF, AC and the rest of *rflags are left untouched.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum emu_alu_op {
	EMU_ALU_ADD, EMU_ALU_OR, EMU_ALU_ADC, EMU_ALU_SBB, EMU_ALU_AND, EMU_ALU_SUB, EMU_ALU_XOR, EMU_ALU_CMP,
	EMU_ALU_TEST,
	EMU_ALU_INC, EMU_ALU_DEC, EMU_ALU_NOT, EMU_ALU_NEG,          /* src unused */
	EMU_ALU_BT, EMU_ALU_BTS, EMU_ALU_BTR, EMU_ALU_BTC,          /* src: bit offset; size 2, 4, 8 */
	EMU_ALU_ROL, EMU_ALU_ROR, EMU_ALU_RCL, EMU_ALU_RCR,          /* src: count */
	EMU_ALU_SHL, EMU_ALU_SHR, EMU_ALU_SAR,
	EMU_ALU_MAX
};

/* dst OP src on `size` bytes (1, 2, 4 or 8). Returns the new destination
 * (zero-extended; cmp, test and bt return dst unchanged), updates the
 * status flags in *rflags. The bit-offset and count operands are masked
 * as the register forms of the instructions mask them. */
uint64_t emu_alu(enum emu_alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags);

/* cmpxchg dst, src with the accumulator *acc: returns the new dst, updates
 * *acc (loaded with dst on a mismatch) and the status flags. */
uint64_t emu_alu_cmpxchg(unsigned size, uint64_t dst, uint64_t src, uint64_t *acc, uint64_t *rflags);

/* Condition code cc (0..15, the low nibble of Jcc/SETcc/CMOVcc) under rflags. */
bool emu_condition(unsigned cc, uint64_t rflags);
