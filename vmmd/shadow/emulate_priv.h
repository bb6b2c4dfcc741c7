/* SPDX-License-Identifier: MIT */
/*
 * What the emulator's files share (emulate.c: the privileged-instruction
 * table; emulate_seg.c: segment loads and far transfers; emulate_data.c:
 * instructions on MMIO and write-protected pages; emulate_access.c: the
 * helpers below). Not an interface for anyone else: see emulate.h and
 * emulate_data.h.
 *
 * Every handler works on the *virtual* CPU: it first checks everything that
 * can fault (operands read through the guest's page tables, descriptors,
 * selectors), and only then commits, so an instruction that raises an
 * exception leaves the virtual CPU as it found it — except string
 * instructions, whose per-element progress is architectural.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmmd/shadow/decode.h"
#include "vmmd/shadow/emulate.h"

#define EMU_PAGE_4K 4096u

struct emu {
	struct shadow_cpu *cpu;
	const struct shadow_env *env;
	struct emu_outcome *out;
	struct x86_insn insn;
	unsigned user;        /* SHADOW_ACC_USER when the guest is at virtual CPL3 */
	bool rip_set;         /* the handler set RIP itself (iretq, far jumps, unfinished rep) */
};

/* --- outcomes --- */
void emu_raise(struct emu *e, unsigned vector, uint32_t error);
void emu_raise_fault(struct emu *e, const struct shadow_fault *f);
static inline void emu_gp0(struct emu *e) { emu_raise(e, X86_GP, 0); }
static inline void emu_ud(struct emu *e) { emu_raise(e, X86_UD, 0); }
void emu_set_mnemonic(struct emu_outcome *out, const char *name);
/* A valid instruction vmmd cannot carry out here (out->reason says why). */
void emu_unsupported(struct emu *e, const char *reason);
/* Fetch and decode at RIP into e->insn; on failure the outcome says why. */
int emu_fetch(struct emu *e);
/* Set up e for one emulation; out is cleared to EMU_DONE. */
void emu_begin(struct emu *e, struct shadow_cpu *cpu, const struct shadow_env *env, struct emu_outcome *out);

/* --- guest memory ---
 * Linear accesses through the guest's page tables with its permissions
 * (supervisor: an implicit supervisor access such as a descriptor-table
 * read, whatever the CPL). A non-canonical address is #GP(0), or #SS(0)
 * for the stack_* forms. 0, or -EFAULT with the outcome set. */
int emu_mem_access(struct emu *e, uint64_t va, void *buf, size_t len, bool write, bool supervisor);
static inline int emu_mem_read(struct emu *e, uint64_t va, void *buf, size_t len)
{
	return emu_mem_access(e, va, buf, len, false, false);
}
static inline int emu_mem_write(struct emu *e, uint64_t va, const void *buf, size_t len)
{
	return emu_mem_access(e, va, (void *) buf, len, true, false);
}
int emu_stack_read(struct emu *e, uint64_t va, void *buf, size_t len);
int emu_stack_write(struct emu *e, uint64_t va, const void *buf, size_t len);

static inline uint64_t emu_load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

static inline void emu_store_le(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size && i < 8; i++)
		p[i] = v >> (8 * i);
}

/* --- operands --- */
static inline const ZydisDecodedOperand *emu_operand(struct emu *e, unsigned i)
{
	return x86_operand(&e->insn, i);
}
bool emu_op_is_reg_class(const ZydisDecodedOperand *op, ZydisRegisterClass c);
/* Read a register, immediate or memory operand of at most 8 bytes. */
int emu_op_read(struct emu *e, const ZydisDecodedOperand *op, uint64_t *ret);
/* Write a register (x86 merge/zero-extend rules) or memory operand. */
int emu_op_write(struct emu *e, const ZydisDecodedOperand *op, uint64_t value);
/* The linear address of operand i, which must be a memory operand. */
int emu_op_address(struct emu *e, unsigned i, uint64_t *ret);
/* Write a string-instruction index/count register with the address size's rules. */
static inline void emu_set_addr_reg(__u64 *reg, uint64_t v, unsigned address_width)
{
	*reg = address_width == 32 ? (uint32_t) v : v;
}

/* --- flags --- */
void emu_set_if(struct shadow_cpu *cpu, bool on);
/* The real RFLAGS for a virtual value: IF = vif, IOPL 0, never VM/VIF/VIP. */
uint64_t emu_real_rflags(uint64_t flags, bool vif);

/* --- segment loads and far transfers (emulate_seg.c) --- */
void emu_mov_sreg(struct emu *e);         /* mov Sreg, r/m16 */
void emu_pop_sreg(struct emu *e);         /* pop fs / pop gs */
void emu_load_far_pointer(struct emu *e); /* lss / lfs / lgs */
void emu_far_ret(struct emu *e);          /* retf / lretq [imm16] */
void emu_far_jmp_call(struct emu *e);     /* ljmp / lcall through m16:16/32/64 */
void emu_iret(struct emu *e);             /* iret / iretd / iretq */
void emu_sysret(struct emu *e);
void emu_lldt(struct emu *e);
