/* SPDX-License-Identifier: MIT */
/*
 * Outcomes, guest-memory access and operands for the emulator's files (see
 * emulate_priv.h). Instruction bytes, operand memory and descriptor tables
 * are guest-controlled: sizes come from the decoder and are bounded here
 * again, and every guest access goes through env->read_virt/write_virt,
 * which check the guest's own permissions.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmmd/shadow/emulate_priv.h"

void emu_raise(struct emu *e, unsigned vector, uint32_t error)
{
	e->out->status = EMU_EXCEPTION;
	e->out->vector = vector;
	e->out->has_error = x86_vector_has_error(vector);
	e->out->error = e->out->has_error ? error : 0;
}

void emu_raise_fault(struct emu *e, const struct shadow_fault *f)
{
	emu_raise(e, f->vector, f->error);
	e->out->cr2 = f->cr2;
}

void emu_set_mnemonic(struct emu_outcome *out, const char *name)
{
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", name);
}

void emu_unsupported(struct emu *e, const char *reason)
{
	e->out->status = EMU_UNSUPPORTED;
	e->out->reason = reason;
}

void emu_begin(struct emu *e, struct shadow_cpu *cpu, const struct shadow_env *env, struct emu_outcome *out)
{
	*e = (struct emu) { .cpu = cpu, .env = env, .out = out, .user = cpu->pcb.vcpl == 3 ? SHADOW_ACC_USER : 0 };
	memset(out, 0, sizeof(*out));
	out->status = EMU_DONE;
}

int emu_fetch(struct emu *e)
{
	struct shadow_fault f;
	int r = x86_fetch_decode(e->cpu, e->env, &e->insn, &f);

	if (r == -EFAULT) {
		emu_set_mnemonic(e->out, "(fetch)");
		emu_raise_fault(e, &f);
		return r;
	}
	if (r < 0) {
		emu_set_mnemonic(e->out, "(bad)");
		emu_ud(e);
		return r;
	}
	e->out->next_rip = e->insn.next_rip;
	emu_set_mnemonic(e->out, ZydisMnemonicGetString(e->insn.d.mnemonic) ?: "?");
	return 0;
}

/* --- guest memory --- */

static int access_checked(struct emu *e, uint64_t va, void *buf, size_t len, bool write, bool supervisor,
			  unsigned noncanonical_vector)
{
	unsigned access = (write ? SHADOW_ACC_WRITE : 0) | (supervisor ? 0 : e->user);
	struct shadow_fault f = { .vector = X86_PF, .error = access | 1, .cr2 = va };
	int r;

	if (len == 0)
		return 0;
	if (!x86_canonical(va) || !x86_canonical(va + len - 1) || va + len - 1 < va) {
		emu_raise(e, noncanonical_vector, 0);
		return -EFAULT;
	}
	if (write)
		r = e->env->write_virt(e->env->ctx, va, buf, len, access, &f);
	else
		r = e->env->read_virt(e->env->ctx, va, buf, len, access, &f);
	if (r < 0) {
		emu_raise_fault(e, &f);
		return -EFAULT;
	}
	return 0;
}

int emu_mem_access(struct emu *e, uint64_t va, void *buf, size_t len, bool write, bool supervisor)
{
	return access_checked(e, va, buf, len, write, supervisor, X86_GP);
}

int emu_stack_read(struct emu *e, uint64_t va, void *buf, size_t len)
{
	return access_checked(e, va, buf, len, false, false, X86_SS);
}

int emu_stack_write(struct emu *e, uint64_t va, const void *buf, size_t len)
{
	return access_checked(e, va, (void *) buf, len, true, false, X86_SS);
}

/* --- operands --- */

bool emu_op_is_reg_class(const ZydisDecodedOperand *op, ZydisRegisterClass c)
{
	return op && op->type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op->reg.value) == c;
}

int emu_op_read(struct emu *e, const ZydisDecodedOperand *op, uint64_t *ret)
{
	unsigned size = op ? op->size / 8 : 0;
	uint64_t va;
	uint8_t buf[8];

	if (!op || size == 0 || size > 8) {
		emu_ud(e);
		return -EINVAL;
	}
	switch (op->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		if (x86_gpr_read(&e->cpu->regs, op->reg.value, ret) < 0) {
			emu_ud(e);
			return -EINVAL;
		}
		return 0;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		/* Already sign-extended by Zydis where the instruction does that
		 * (imm32 into a 64-bit operand): the consumer masks to its size. */
		*ret = op->imm.value.u;
		return 0;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		if (x86_mem_linear(e->cpu, &e->insn, op, &va) < 0) {
			emu_ud(e);
			return -EINVAL;
		}
		if (emu_mem_read(e, va, buf, size) < 0)
			return -EFAULT;
		*ret = emu_load_le(buf, size);
		return 0;
	default:
		emu_ud(e);
		return -EINVAL;
	}
}

int emu_op_write(struct emu *e, const ZydisDecodedOperand *op, uint64_t value)
{
	unsigned size = op ? op->size / 8 : 0;
	uint64_t va;
	uint8_t buf[8];

	if (!op || size == 0 || size > 8) {
		emu_ud(e);
		return -EINVAL;
	}
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		if (x86_gpr_write(&e->cpu->regs, op->reg.value, value) < 0) {
			emu_ud(e);
			return -EINVAL;
		}
		return 0;
	}
	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || x86_mem_linear(e->cpu, &e->insn, op, &va) < 0) {
		emu_ud(e);
		return -EINVAL;
	}
	emu_store_le(buf, value, size);
	return emu_mem_write(e, va, buf, size);
}

int emu_op_address(struct emu *e, unsigned i, uint64_t *ret)
{
	if (x86_mem_linear(e->cpu, &e->insn, emu_operand(e, i), ret) < 0) {
		emu_ud(e);
		return -EINVAL;
	}
	return 0;
}

/* --- flags --- */

void emu_set_if(struct shadow_cpu *cpu, bool on)
{
	cpu->pcb.vif = on;
	if (on)
		cpu->regs.rflags |= X86_RFLAGS_IF;
	else
		cpu->regs.rflags &= ~X86_RFLAGS_IF;
}

uint64_t emu_real_rflags(uint64_t flags, bool vif)
{
	flags &= ~(X86_RFLAGS_IOPL | X86_RFLAGS_VM | X86_RFLAGS_IF | (3ULL << 19) /* VIF, VIP */);
	return flags | X86_RFLAGS_FIXED | (vif ? X86_RFLAGS_IF : 0);
}
