/* SPDX-License-Identifier: MIT */
/*
 * The data emulator: carry out one instruction whose access to one guest
 * page must not run natively, on the virtual CPU, with that page's bytes
 * reached only through a caller-supplied target.
 *
 * Callers:
 *   - MMIO (engine.c): the page is a device; target->access is the bus.
 *   - Write-protected guest page tables (engine.c, strategy `cached`): the
 *     page is RAM the shadow MMU watches; reads come from RAM, writes go
 *     through smmu_pt_write(), which re-syncs the shadows built from it.
 *   - Xen PV "writable page tables" (vmmd/xenpv/): a guest-kernel write to
 *     a page-table page the guest itself mapped read-only. The target's
 *     write is the PV MMU's sink: it sees the whole new entry (8 bytes for
 *     a PTE written by mov, xchg, cmpxchg, lock bts/btr/and/or), validates
 *     it and updates its shadows. The emulator does not check the guest's
 *     permissions on the target page: that the access may happen at all is
 *     the caller's decision, made before calling.
 *
 * Contract:
 *   - `va` is the faulting linear address (CR2) and `gpa` the guest-physical
 *     address of that byte; the target page is the 4 KiB page holding them.
 *   - Every memory operand of the instruction that lies inside the target
 *     page is read and written with target->access (size 1..16, never
 *     crossing the page); every other one through env->read_virt/write_virt
 *     with the guest's own permissions (a #PF there is the guest's).
 *   - A read-modify-write (add, and, or, xor, adc, sbb, sub, inc, dec, not,
 *     neg, bts, btr, btc, xchg, xadd, cmpxchg, cmpxchg8b/16b, shifts) is one
 *     target read followed by one target write of the whole operand; a
 *     failed compare-exchange writes nothing. The lock prefix changes
 *     nothing here: the caller makes the pair atomic by serializing the
 *     target against other vCPUs (whose writes to the page fault too).
 *   - A target read that fails reads as all ones, a failed write is dropped
 *     (an unclaimed bus cycle); the instruction completes either way.
 *   - Results and RFLAGS are the hardware's: ALU operations run on the host
 *     CPU (emulate_alu.h).
 *
 * Emulated (docs/shadow.md has the table): mov in every form (register,
 * immediate, moffs, from a segment register), movnti, movbe, movzx, movsx,
 * movsxd, cmovcc; movs, stos, lods with and without rep; xchg, xadd,
 * cmpxchg, cmpxchg8b, cmpxchg16b; add, or, adc, sbb, and, sub, xor, cmp,
 * test, inc, dec, not, neg; bt, bts, btr, btc with a register or immediate
 * bit offset; rol, ror, rcl, rcr, shl, shr, sar; setcc; push (register,
 * immediate, memory, fs/gs), pushf, pop to memory, call (relative,
 * register, memory) with the stack on the target page.
 *
 * A rep string instruction does as many elements as touch the target page
 * in one call (at most one page's worth) and leaves RIP on itself while
 * RCX is not 0, so the CPU continues the rest natively.
 *
 * Outcomes: EMU_DONE (RIP advanced); EMU_EXCEPTION (the guest's own fault,
 * nothing committed but finished rep elements); EMU_NOT_EMULATED (a valid
 * instruction left to the caller, nothing done: SSE/AVX/x87 stores,
 * fxsave/xsave, cmps/scas, enter, a segment load from the page, an operand
 * that crosses the page's edge, or an instruction that does not access va
 * at all); the mnemonic is set for statistics in every case.
 */
#pragma once

#include "vmmd/shadow/emulate.h"

struct emu_data_target {
	/* size bytes at guest-physical gpa, inside the target page: 0 or -errno. */
	int (*access)(void *ctx, uint64_t gpa, void *data, unsigned size, bool is_write);
	void *ctx;
};

void emu_data_access(struct shadow_cpu *cpu, const struct shadow_env *env, uint64_t va, uint64_t gpa,
		     const struct emu_data_target *target, struct emu_outcome *out);
