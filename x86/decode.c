/* SPDX-License-Identifier: MIT */
/* x86-64 decoding with Zydis and general-register access (see decode.h). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "x86/decode.h"

int x86_decode(const uint8_t *bytes, size_t len, uint64_t rip, struct x86_insn *ret)
{
	ZydisDecoder dec;

	if (!ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
		return -EILSEQ;
	if (len > X86_MAX_INSN_LEN)
		len = X86_MAX_INSN_LEN;
	memset(ret, 0, sizeof(*ret));
	ZyanStatus s = ZydisDecoderDecodeFull(&dec, bytes, len, &ret->d, ret->op);
	if (s == ZYDIS_STATUS_NO_MORE_DATA)
		return -EAGAIN;
	if (!ZYAN_SUCCESS(s) || ret->d.length == 0 || ret->d.length > X86_MAX_INSN_LEN)
		return -EILSEQ;
	ret->rip = rip;
	ret->next_rip = rip + ret->d.length;
	return 0;
}

const ZydisDecodedOperand *x86_operand(const struct x86_insn *insn, unsigned i)
{
	if (i >= insn->d.operand_count || i >= ZYDIS_MAX_OPERAND_COUNT)
		return NULL;
	return &insn->op[i];
}

/* Offset of the 64-bit register holding `reg` in struct kvm_regs, and the
 * bit position of reg inside it (8 for AH..BH); -1 if not a GPR. */
static ptrdiff_t gpr_offset(ZydisRegister reg, unsigned *ret_shift)
{
	if (!x86_is_gpr(reg))
		return -1;
	*ret_shift = (reg == ZYDIS_REGISTER_AH || reg == ZYDIS_REGISTER_CH || reg == ZYDIS_REGISTER_DH ||
		      reg == ZYDIS_REGISTER_BH) ? 8 : 0;
	switch (ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg)) {
	case ZYDIS_REGISTER_RAX: return offsetof(struct kvm_regs, rax);
	case ZYDIS_REGISTER_RCX: return offsetof(struct kvm_regs, rcx);
	case ZYDIS_REGISTER_RDX: return offsetof(struct kvm_regs, rdx);
	case ZYDIS_REGISTER_RBX: return offsetof(struct kvm_regs, rbx);
	case ZYDIS_REGISTER_RSP: return offsetof(struct kvm_regs, rsp);
	case ZYDIS_REGISTER_RBP: return offsetof(struct kvm_regs, rbp);
	case ZYDIS_REGISTER_RSI: return offsetof(struct kvm_regs, rsi);
	case ZYDIS_REGISTER_RDI: return offsetof(struct kvm_regs, rdi);
	case ZYDIS_REGISTER_R8:  return offsetof(struct kvm_regs, r8);
	case ZYDIS_REGISTER_R9:  return offsetof(struct kvm_regs, r9);
	case ZYDIS_REGISTER_R10: return offsetof(struct kvm_regs, r10);
	case ZYDIS_REGISTER_R11: return offsetof(struct kvm_regs, r11);
	case ZYDIS_REGISTER_R12: return offsetof(struct kvm_regs, r12);
	case ZYDIS_REGISTER_R13: return offsetof(struct kvm_regs, r13);
	case ZYDIS_REGISTER_R14: return offsetof(struct kvm_regs, r14);
	case ZYDIS_REGISTER_R15: return offsetof(struct kvm_regs, r15);
	default: return -1;
	}
}

unsigned x86_gpr_size(ZydisRegister reg)
{
	switch (ZydisRegisterGetClass(reg)) {
	case ZYDIS_REGCLASS_GPR8: return 1;
	case ZYDIS_REGCLASS_GPR16: return 2;
	case ZYDIS_REGCLASS_GPR32: return 4;
	case ZYDIS_REGCLASS_GPR64: return 8;
	default: return 0;
	}
}

int x86_gpr_read(const struct kvm_regs *regs, ZydisRegister reg, uint64_t *ret)
{
	unsigned shift;
	ptrdiff_t off = gpr_offset(reg, &shift);
	if (off < 0)
		return -EINVAL;
	uint64_t full;
	memcpy(&full, (const char *) regs + off, sizeof(full));
	*ret = (full >> shift) & x86_size_mask(x86_gpr_size(reg));
	return 0;
}

int x86_gpr_write(struct kvm_regs *regs, ZydisRegister reg, uint64_t value)
{
	unsigned shift;
	ptrdiff_t off = gpr_offset(reg, &shift);
	if (off < 0)
		return -EINVAL;
	unsigned size = x86_gpr_size(reg);
	uint64_t full;
	memcpy(&full, (char *) regs + off, sizeof(full));
	if (size >= 4) {
		full = value & x86_size_mask(size);   /* a 32-bit write zeroes bits 63:32 */
	} else {
		uint64_t mask = x86_size_mask(size) << shift;
		full = (full & ~mask) | ((value << shift) & mask);
	}
	memcpy((char *) regs + off, &full, sizeof(full));
	return 0;
}

bool x86_mem_is_rip_relative(const ZydisDecodedOperand *op)
{
	return op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
	       (op->mem.base == ZYDIS_REGISTER_RIP || op->mem.base == ZYDIS_REGISTER_EIP);
}

bool x86_mem_has_fs_gs(const ZydisDecodedOperand *op)
{
	return op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
	       (op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS);
}
