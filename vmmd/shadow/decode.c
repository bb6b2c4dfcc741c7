/* SPDX-License-Identifier: MIT */
/* Instruction fetch and memory operands for the shadow engine (see decode.h). */
#include <errno.h>
#include <string.h>

#include "vmmd/shadow/decode.h"

#define PAGE_4K 4096u

int x86_fetch_decode(const struct shadow_cpu *cpu, const struct shadow_env *env, struct x86_insn *ret,
		     struct shadow_fault *ret_fault)
{
	uint64_t rip = cpu->regs.rip;
	unsigned access = SHADOW_ACC_FETCH | (cpu->pcb.vcpl == 3 ? SHADOW_ACC_USER : 0);
	uint8_t buf[X86_MAX_INSN_LEN];
	/* A callback that fails without filling the fault still yields a sane #PF. */
	struct shadow_fault f = { .vector = X86_PF, .error = access, .cr2 = rip };
	struct shadow_fault tail = f;
	bool tail_faulted = false;

	/* Fetch page by page: the bytes past the page end are only needed (and a
	 * fault there only counts) when the instruction really extends there. */
	size_t first = PAGE_4K - (rip & (PAGE_4K - 1));
	if (first > sizeof(buf))
		first = sizeof(buf);
	if (env->read_virt(env->ctx, rip, buf, first, access, &f) < 0) {
		*ret_fault = f;
		return -EFAULT;
	}
	size_t have = first;
	if (first < sizeof(buf)) {
		tail.cr2 = rip + first;
		if (env->read_virt(env->ctx, rip + first, buf + first, sizeof(buf) - first, access, &tail) < 0)
			tail_faulted = true;
		else
			have = sizeof(buf);
	}
	int r = x86_decode(buf, have, rip, ret);
	if (r == -EAGAIN && tail_faulted) {
		*ret_fault = tail;
		return -EFAULT;
	}
	return r < 0 ? -EILSEQ : 0;
}

int x86_mem_linear(const struct shadow_cpu *cpu, const struct x86_insn *insn, const ZydisDecodedOperand *op,
		   uint64_t *ret)
{
	uint64_t ea = 0, v;

	if (!op || op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
		return -EINVAL;
	if (op->mem.base == ZYDIS_REGISTER_RIP)
		ea = insn->next_rip;
	else if (op->mem.base == ZYDIS_REGISTER_EIP)
		ea = insn->next_rip & 0xffffffffu;
	else if (op->mem.base != ZYDIS_REGISTER_NONE) {
		if (x86_gpr_read(&cpu->regs, op->mem.base, &v) < 0)
			return -EINVAL;
		ea = v;
	}
	if (op->mem.index != ZYDIS_REGISTER_NONE) {
		if (x86_gpr_read(&cpu->regs, op->mem.index, &v) < 0)
			return -EINVAL;
		ea += v * (op->mem.scale ? op->mem.scale : 1);
	}
	if (op->mem.disp.has_displacement)
		ea += (uint64_t) op->mem.disp.value;
	if (insn->d.address_width == 32)
		ea &= 0xffffffffu;
	else if (insn->d.address_width == 16)
		ea &= 0xffffu;
	/* 64-bit mode: only FS and GS have a base. */
	if (op->mem.segment == ZYDIS_REGISTER_FS)
		ea += cpu->pcb.fs_base;
	else if (op->mem.segment == ZYDIS_REGISTER_GS)
		ea += cpu->pcb.gs_base;
	*ret = ea;
	return 0;
}
