/* SPDX-License-Identifier: MIT */
/*
 * The data emulator (see emulate_data.h): one instruction touching a page
 * that only the caller's target may reach. Each handler computes its
 * operands' addresses, checks that the instruction really accesses the
 * faulting address (it may not be the one that faulted, or a form vmmd
 * computes differently: then EMU_NOT_EMULATED, never a guess), reads what
 * it needs — where a fault is still possible — and writes last.
 */
#include <errno.h>
#include <string.h>

#include "vmmd/shadow/emulate_alu.h"
#include "vmmd/shadow/emulate_data.h"
#include "vmmd/shadow/emulate_priv.h"

#define REP_MAX_ELEMENTS EMU_PAGE_4K   /* per call: one page of bytes at most */

struct dx {
	struct emu e;
	const struct emu_data_target *t;
	uint64_t fault_va;
	uint64_t page_va, page_gpa;          /* the target page */
};

enum string_kind { STR_MOVS, STR_STOS, STR_LODS };

struct data_op {
	ZydisMnemonic mnemonic;
	void (*run)(struct dx *x, const struct data_op *op);
	int arg;              /* enum emu_alu_op, or enum string_kind */
};

static void not_emulated(struct dx *x)
{
	x->e.out->status = EMU_NOT_EMULATED;
}

/* Is [va, va + size) inside the target page (1), outside it (0), or across its edge (-1)? */
static int where(const struct dx *x, uint64_t va, unsigned size)
{
	bool first = va - x->page_va < EMU_PAGE_4K, last = va + size - 1 - x->page_va < EMU_PAGE_4K;

	if (first && last)
		return 1;
	return first || last ? -1 : 0;
}

/* Does [va, va + size) hold the faulting byte? */
static bool covers(const struct dx *x, uint64_t va, unsigned size)
{
	return x->fault_va - va < size;
}

/* A memory access of the instruction: through the target inside its page,
 * through the guest's page tables elsewhere (stack: #SS for non-canonical). */
static int dmem(struct dx *x, uint64_t va, void *buf, unsigned size, bool write, bool stack)
{
	int w = where(x, va, size);

	if (w < 0) {
		not_emulated(x);
		return -EFAULT;
	}
	if (w == 0) {
		if (stack)
			return write ? emu_stack_write(&x->e, va, buf, size) : emu_stack_read(&x->e, va, buf, size);
		return emu_mem_access(&x->e, va, buf, size, write, false);
	}
	uint64_t gpa = x->page_gpa + (va - x->page_va);
	if (x->t->access(x->t->ctx, gpa, buf, size, write) < 0 && !write)
		memset(buf, 0xff, size);   /* nothing answered: all ones, as on a bus */
	return 0;
}

static int dread(struct dx *x, uint64_t va, unsigned size, uint64_t *ret)
{
	uint8_t b[8];

	if (dmem(x, va, b, size, false, false) < 0)
		return -EFAULT;
	*ret = emu_load_le(b, size);
	return 0;
}

static int dwrite(struct dx *x, uint64_t va, unsigned size, uint64_t v)
{
	uint8_t b[8];

	emu_store_le(b, v, size);
	return dmem(x, va, b, size, true, false);
}

/* --- operands ------------------------------------------------------------------ */

static bool is_mem(const ZydisDecodedOperand *op)
{
	return op && op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.type == ZYDIS_MEMOP_TYPE_MEM;
}

/* The address of a memory operand of 1..8 (or 16) bytes, which must hold the faulting byte. */
static int mem_operand(struct dx *x, const ZydisDecodedOperand *op, unsigned max, uint64_t *ret_va, unsigned *ret_size)
{
	unsigned size = op ? op->size / 8 : 0;

	if (!is_mem(op) || size == 0 || size > max || op->size % 8) {
		not_emulated(x);
		return -EINVAL;
	}
	if (x86_mem_linear(x->e.cpu, &x->e.insn, op, ret_va) < 0 || !covers(x, *ret_va, size)) {
		not_emulated(x);   /* not the access that faulted */
		return -EINVAL;
	}
	*ret_size = size;
	return 0;
}

/* A register or immediate source, or a segment register (its virtual selector). */
static int value_operand(struct dx *x, const ZydisDecodedOperand *op, uint64_t *ret)
{
	const struct shadow_pcb *p = &x->e.cpu->pcb;

	if (op && op->type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_SEGMENT) {
		switch (op->reg.value) {
		case ZYDIS_REGISTER_ES: *ret = p->es; return 0;
		case ZYDIS_REGISTER_CS: *ret = p->cs; return 0;
		case ZYDIS_REGISTER_SS: *ret = p->ss; return 0;
		case ZYDIS_REGISTER_DS: *ret = p->ds; return 0;
		case ZYDIS_REGISTER_FS: *ret = p->fs; return 0;
		default: *ret = p->gs; return 0;
		}
	}
	if (!op || (op->type != ZYDIS_OPERAND_TYPE_REGISTER && op->type != ZYDIS_OPERAND_TYPE_IMMEDIATE) ||
	    (op->type == ZYDIS_OPERAND_TYPE_REGISTER && !x86_is_gpr(op->reg.value))) {
		not_emulated(x);
		return -EINVAL;
	}
	return emu_op_read(&x->e, op, ret);
}

static int reg_write(struct dx *x, const ZydisDecodedOperand *op, uint64_t v)
{
	if (!op || op->type != ZYDIS_OPERAND_TYPE_REGISTER || x86_gpr_write(&x->e.cpu->regs, op->reg.value, v) < 0) {
		not_emulated(x);
		return -EINVAL;
	}
	return 0;
}

static ZydisRegister accumulator(unsigned size)
{
	return size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX : size == 4 ? ZYDIS_REGISTER_EAX
											: ZYDIS_REGISTER_RAX;
}

/* --- moves ------------------------------------------------------------------------ */

static uint64_t bswap(uint64_t v, unsigned size)
{
	return size == 2 ? __builtin_bswap16(v) : size == 4 ? __builtin_bswap32(v) : __builtin_bswap64(v);
}

/* mov, movnti, movbe: one side memory, the other a register, an immediate
 * or (mov only) a segment register. */
static void run_mov(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	bool swap = x->e.insn.d.mnemonic == ZYDIS_MNEMONIC_MOVBE;
	uint64_t va, v;
	unsigned size;

	if (is_mem(o0)) {
		if (mem_operand(x, o0, 8, &va, &size) < 0 || value_operand(x, o1, &v) < 0)
			return;
		dwrite(x, va, size, swap ? bswap(v, size) : v);
		return;
	}
	if (emu_op_is_reg_class(o0, ZYDIS_REGCLASS_SEGMENT)) {
		not_emulated(x);   /* a segment load from this page: left to the CPU */
		return;
	}
	if (mem_operand(x, o1, 8, &va, &size) < 0 || dread(x, va, size, &v) < 0)
		return;
	reg_write(x, o0, swap ? bswap(v, size) : v);
}

/* movzx, movsx, movsxd: a load, extended. */
static void run_load_extend(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	uint64_t va, v;
	unsigned size;

	if (mem_operand(x, o1, 4, &va, &size) < 0 || dread(x, va, size, &v) < 0)
		return;
	if (x->e.insn.d.mnemonic != ZYDIS_MNEMONIC_MOVZX)
		v = x86_sign_extend(v, size);
	reg_write(x, o0, v);
}

static void run_cmov(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	uint64_t va, v, cur;
	unsigned size;

	if (!o0)
		return not_emulated(x);
	if (mem_operand(x, o1, 8, &va, &size) < 0 || dread(x, va, size, &v) < 0)
		return;
	/* The memory is read whatever the condition; a 32-bit cmov zero-extends its
	 * destination even when it does not move. */
	if (!emu_condition(x->e.insn.d.opcode & 0xf, x->e.cpu->regs.rflags)) {
		if (x86_gpr_read(&x->e.cpu->regs, o0->reg.value, &cur) < 0)
			return not_emulated(x);
		v = cur;
	}
	reg_write(x, o0, v);
}

/* --- arithmetic -------------------------------------------------------------------- */

/* Two operands, one of them memory: add, or, adc, sbb, and, sub, xor, cmp, test, shifts. */
static void run_alu2(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	bool writes = (enum emu_alu_op) op->arg != EMU_ALU_CMP && (enum emu_alu_op) op->arg != EMU_ALU_TEST;
	uint64_t va, a, b;
	unsigned size;

	if (is_mem(o0)) {
		if (mem_operand(x, o0, 8, &va, &size) < 0 || value_operand(x, o1, &b) < 0 || dread(x, va, size, &a) < 0)
			return;
		uint64_t flags = x->e.cpu->regs.rflags;
		uint64_t r = emu_alu((enum emu_alu_op) op->arg, size, a, b, &flags);
		if (writes && dwrite(x, va, size, r) < 0)
			return;
		x->e.cpu->regs.rflags = flags;
		return;
	}
	/* A register destination, the memory the source: only the register changes. */
	if (mem_operand(x, o1, 8, &va, &size) < 0 || value_operand(x, o0, &a) < 0 || dread(x, va, size, &b) < 0)
		return;
	uint64_t flags = x->e.cpu->regs.rflags;
	uint64_t r = emu_alu((enum emu_alu_op) op->arg, size, a, b, &flags);
	if (writes && reg_write(x, o0, r) < 0)
		return;
	x->e.cpu->regs.rflags = flags;
}

/* One memory operand: inc, dec, not, neg. */
static void run_alu1(struct dx *x, const struct data_op *op)
{
	uint64_t va, a;
	unsigned size;

	if (mem_operand(x, emu_operand(&x->e, 0), 8, &va, &size) < 0 || dread(x, va, size, &a) < 0)
		return;
	uint64_t flags = x->e.cpu->regs.rflags;
	if (dwrite(x, va, size, emu_alu((enum emu_alu_op) op->arg, size, a, 0, &flags)) < 0)
		return;
	x->e.cpu->regs.rflags = flags;
}

/* bt, bts, btr, btc on memory. A register bit offset is signed and may
 * reach beyond the operand: the CPU addresses the operand-sized unit
 * holding the bit (SDM "Bit(BitBase, BitOffset)"); an immediate offset is
 * taken modulo the operand size. */
static void run_bit(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	unsigned size = o0 ? o0->size / 8 : 0;
	uint64_t base, off, va, a;

	if (!is_mem(o0) || (size != 2 && size != 4 && size != 8) || value_operand(x, o1, &off) < 0 ||
	    x86_mem_linear(x->e.cpu, &x->e.insn, o0, &base) < 0)
		return not_emulated(x);
	unsigned bits = size * 8;
	va = base;
	if (o1->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		int64_t soff = (int64_t) x86_sign_extend(off, size);
		int64_t unit = soff >= 0 ? soff / bits : -((-soff + bits - 1) / bits);   /* floor */
		va = base + (uint64_t) unit * size;
		if (x->e.insn.d.address_width == 32)
			va = (uint32_t) va;
	}
	off &= bits - 1;
	if (!covers(x, va, size))
		return not_emulated(x);
	if (dread(x, va, size, &a) < 0)
		return;
	uint64_t flags = x->e.cpu->regs.rflags;
	uint64_t r = emu_alu((enum emu_alu_op) op->arg, size, a, off, &flags);
	if ((enum emu_alu_op) op->arg != EMU_ALU_BT && dwrite(x, va, size, r) < 0)
		return;
	x->e.cpu->regs.rflags = flags;
}

static void run_xchg(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	const ZydisDecodedOperand *m = is_mem(o0) ? o0 : o1, *r = is_mem(o0) ? o1 : o0;
	uint64_t va, old, v;
	unsigned size;

	if (mem_operand(x, m, 8, &va, &size) < 0 || value_operand(x, r, &v) < 0 || dread(x, va, size, &old) < 0 ||
	    dwrite(x, va, size, v) < 0)
		return;
	reg_write(x, r, old);
}

static void run_xadd(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	uint64_t va, old, v;
	unsigned size;

	if (mem_operand(x, o0, 8, &va, &size) < 0 || value_operand(x, o1, &v) < 0 || dread(x, va, size, &old) < 0)
		return;
	uint64_t flags = x->e.cpu->regs.rflags;
	uint64_t sum = emu_alu(EMU_ALU_ADD, size, old, v, &flags);
	if (dwrite(x, va, size, sum) < 0 || reg_write(x, o1, old) < 0)
		return;
	x->e.cpu->regs.rflags = flags;
}

static void run_cmpxchg(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *o0 = emu_operand(&x->e, 0), *o1 = emu_operand(&x->e, 1);
	struct kvm_regs *r = &x->e.cpu->regs;
	uint64_t va, old, v, acc;
	unsigned size;

	if (mem_operand(x, o0, 8, &va, &size) < 0 || value_operand(x, o1, &v) < 0 || dread(x, va, size, &old) < 0)
		return;
	x86_gpr_read(r, accumulator(size), &acc);
	uint64_t flags = r->rflags, seen = acc;
	uint64_t nv = emu_alu_cmpxchg(size, old, v, &seen, &flags);
	if (flags & X86_RFLAGS_ZF) {
		if (dwrite(x, va, size, nv) < 0)
			return;
	} else {
		/* Only on a mismatch is the accumulator written (and a 32-bit one zero-extended). */
		x86_gpr_write(r, accumulator(size), seen);
	}
	r->rflags = flags;
}

/* cmpxchg8b / cmpxchg16b: EDX:EAX (RDX:RAX) against the memory, ECX:EBX
 * (RCX:RBX) stored on a match. Only ZF changes. */
static void run_cmpxchg_wide(struct dx *x, const struct data_op *op)
{
	struct kvm_regs *r = &x->e.cpu->regs;
	uint64_t va;
	unsigned size;
	uint8_t m[16], nv[16];

	if (mem_operand(x, emu_operand(&x->e, 0), 16, &va, &size) < 0)
		return;
	if (size != 8 && size != 16)
		return not_emulated(x);
	if (size == 16 && (va & 15))
		return emu_gp0(&x->e);   /* cmpxchg16b needs a 16-byte aligned operand */
	unsigned h = size / 2;
	if (dmem(x, va, m, size, false, false) < 0)
		return;
	uint64_t lo = emu_load_le(m, h), hi = emu_load_le(m + h, h), mask = x86_size_mask(h);
	if (lo == (r->rax & mask) && hi == (r->rdx & mask)) {
		emu_store_le(nv, r->rbx, h);
		emu_store_le(nv + h, r->rcx, h);
		if (dmem(x, va, nv, size, true, false) < 0)
			return;
		r->rflags |= X86_RFLAGS_ZF;
	} else {
		r->rax = lo;   /* a 32-bit half is zero-extended */
		r->rdx = hi;
		r->rflags &= ~X86_RFLAGS_ZF;
	}
}

static void run_setcc(struct dx *x, const struct data_op *op)
{
	uint64_t va;
	unsigned size;

	if (mem_operand(x, emu_operand(&x->e, 0), 1, &va, &size) < 0)
		return;
	dwrite(x, va, 1, emu_condition(x->e.insn.d.opcode & 0xf, x->e.cpu->regs.rflags));
}

/* --- the stack ---------------------------------------------------------------------- */

/* Push v (w bytes) where the stack slot must hold the faulting byte. */
static int push(struct dx *x, uint64_t v, unsigned w)
{
	uint64_t rsp = x->e.cpu->regs.rsp - w;
	uint8_t b[8];

	if (!covers(x, rsp, w)) {
		not_emulated(x);
		return -EINVAL;
	}
	emu_store_le(b, v, w);
	if (dmem(x, rsp, b, w, true, true) < 0)
		return -EFAULT;
	x->e.cpu->regs.rsp = rsp;
	return 0;
}

/* push r/imm/m, push fs/gs: the source may be the faulting page (MMIO) or the slot. */
static void run_push(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *src = emu_operand(&x->e, 0);
	unsigned w = x->e.insn.d.operand_width / 8;
	uint64_t v, va, rsp = x->e.cpu->regs.rsp - w;

	if (w != 2 && w != 8)
		return not_emulated(x);
	if (is_mem(src)) {
		unsigned size;
		/* Either the source or the slot faulted. */
		if (x86_mem_linear(x->e.cpu, &x->e.insn, src, &va) < 0 || (src->size / 8) != w ||
		    (!covers(x, va, w) && !covers(x, rsp, w)))
			return not_emulated(x);
		size = w;
		if (dread(x, va, size, &v) < 0)
			return;
		uint8_t b[8];
		emu_store_le(b, v, w);
		if (dmem(x, rsp, b, w, true, true) < 0)
			return;
		x->e.cpu->regs.rsp = rsp;
		return;
	}
	if (value_operand(x, src, &v) < 0)
		return;
	push(x, v, w);
}

static void run_pushf(struct dx *x, const struct data_op *op)
{
	unsigned w = x->e.insn.d.operand_width / 8;

	/* The virtual RFLAGS (IF is the virtual IF), without VM and RF. */
	push(x, x->e.cpu->regs.rflags & ~(X86_RFLAGS_VM | X86_RFLAGS_RF), w);
}

/* pop into memory: RSP is incremented before an RSP-based destination address is computed. */
static void run_pop_mem(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *dst = emu_operand(&x->e, 0);
	struct kvm_regs *r = &x->e.cpu->regs;
	unsigned w = x->e.insn.d.operand_width / 8;
	uint64_t v, va, rsp = r->rsp;
	uint8_t b[8];

	if (!is_mem(dst) || (w != 2 && w != 8) || dst->size / 8 != w)
		return not_emulated(x);
	r->rsp = rsp + w;
	int ok = x86_mem_linear(x->e.cpu, &x->e.insn, dst, &va);
	r->rsp = rsp;
	if (ok < 0 || (!covers(x, va, w) && !covers(x, rsp, w)))
		return not_emulated(x);
	if (dmem(x, rsp, b, w, false, true) < 0)
		return;
	v = emu_load_le(b, w);
	if (dwrite(x, va, w, v) < 0)
		return;
	r->rsp = rsp + w;
}

/* A near call whose return address lands on the target page. */
static void run_call(struct dx *x, const struct data_op *op)
{
	const ZydisDecodedOperand *t = emu_operand(&x->e, 0);
	uint64_t target;

	if (x->e.insn.d.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR || !t)
		return not_emulated(x);
	if (t->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && t->imm.is_relative) {
		target = x->e.insn.next_rip + t->imm.value.u;
	} else if (t->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		if (emu_op_read(&x->e, t, &target) < 0)
			return;
	} else if (is_mem(t) && t->size == 64) {
		uint64_t va;
		if (x86_mem_linear(x->e.cpu, &x->e.insn, t, &va) < 0 || dread(x, va, 8, &target) < 0)
			return;
	} else {
		return not_emulated(x);
	}
	if (!x86_canonical(target))
		return emu_gp0(&x->e);
	if (push(x, x->e.insn.next_rip, 8) < 0)
		return;
	x->e.cpu->regs.rip = target;
	x->e.rip_set = true;
}

/* --- strings ---------------------------------------------------------------------------- */

/* movs, stos, lods: as many elements as touch the target page, one page at
 * most; an unfinished rep leaves RIP on the instruction, so the CPU goes on
 * natively (or faults here again). */
static void run_string(struct dx *x, const struct data_op *op)
{
	struct kvm_regs *r = &x->e.cpu->regs;
	bool movs = op->arg == STR_MOVS, lods = op->arg == STR_LODS;
	unsigned size = x->e.insn.d.operand_width / 8, aw = x->e.insn.d.address_width;
	uint64_t amask = aw == 32 ? 0xffffffffULL : ~0ULL;
	bool rep = x->e.insn.d.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
	uint64_t step = (r->rflags & X86_RFLAGS_DF) ? -(uint64_t) size : size;
	const ZydisDecodedOperand *src_op = NULL, *dst_op = NULL;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return not_emulated(x);
	for (unsigned i = 0; i < x->e.insn.d.operand_count && i < ZYDIS_MAX_OPERAND_COUNT; i++) {
		const ZydisDecodedOperand *o = &x->e.insn.op[i];
		if (!is_mem(o))
			continue;
		if (o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
			dst_op = o;
		else
			src_op = o;
	}
	if ((movs && (!src_op || !dst_op)) || (lods && !src_op) || (!movs && !lods && !dst_op))
		return not_emulated(x);

	uint64_t n = rep ? (r->rcx & amask) : 1;
	for (uint64_t done = 0; done < n && done < REP_MAX_ELEMENTS; done++) {
		uint64_t sva = 0, dva = 0, v = r->rax;
		uint8_t b[8];
		if ((src_op && x86_mem_linear(x->e.cpu, &x->e.insn, src_op, &sva) < 0) ||
		    (dst_op && x86_mem_linear(x->e.cpu, &x->e.insn, dst_op, &dva) < 0))
			return not_emulated(x);
		bool touches = (src_op && where(x, sva, size) != 0) || (dst_op && where(x, dva, size) != 0);
		if (done == 0 && !((src_op && covers(x, sva, size)) || (dst_op && covers(x, dva, size))))
			return not_emulated(x);
		if (done > 0 && (!touches || (src_op && where(x, sva, size) < 0) || (dst_op && where(x, dva, size) < 0)))
			break;   /* the rest is the CPU's */
		if (src_op) {
			if (dmem(x, sva, b, size, false, false) < 0)
				return;   /* elements done so far stay done, like hardware */
			v = emu_load_le(b, size);
		}
		if (dst_op) {
			emu_store_le(b, v, size);
			if (dmem(x, dva, b, size, true, false) < 0)
				return;
		} else {
			x86_gpr_write(r, accumulator(size), v);
		}
		if (src_op)
			emu_set_addr_reg(&r->rsi, (r->rsi + step) & amask, aw);
		if (dst_op)
			emu_set_addr_reg(&r->rdi, (r->rdi + step) & amask, aw);
		if (rep)
			emu_set_addr_reg(&r->rcx, (r->rcx - 1) & amask, aw);
	}
	if (rep && (r->rcx & amask) != 0)
		x->e.rip_set = true;   /* not finished: the instruction runs again */
}

/* --- the table ----------------------------------------------------------------------------- */

#define ALU2(m, op) { ZYDIS_MNEMONIC_##m, run_alu2, EMU_ALU_##op }
#define ALU1(m, op) { ZYDIS_MNEMONIC_##m, run_alu1, EMU_ALU_##op }
#define BIT(m, op)  { ZYDIS_MNEMONIC_##m, run_bit, EMU_ALU_##op }
#define RUN(m, fn)  { ZYDIS_MNEMONIC_##m, fn, 0 }
#define STR(m, k)   { ZYDIS_MNEMONIC_##m, run_string, STR_##k }

static const struct data_op data_ops[] = {
	RUN(MOV, run_mov), RUN(MOVNTI, run_mov), RUN(MOVBE, run_mov),
	RUN(MOVZX, run_load_extend), RUN(MOVSX, run_load_extend), RUN(MOVSXD, run_load_extend),
	RUN(CMOVO, run_cmov), RUN(CMOVNO, run_cmov), RUN(CMOVB, run_cmov), RUN(CMOVNB, run_cmov),
	RUN(CMOVZ, run_cmov), RUN(CMOVNZ, run_cmov), RUN(CMOVBE, run_cmov), RUN(CMOVNBE, run_cmov),
	RUN(CMOVS, run_cmov), RUN(CMOVNS, run_cmov), RUN(CMOVP, run_cmov), RUN(CMOVNP, run_cmov),
	RUN(CMOVL, run_cmov), RUN(CMOVNL, run_cmov), RUN(CMOVLE, run_cmov), RUN(CMOVNLE, run_cmov),
	ALU2(ADD, ADD), ALU2(OR, OR), ALU2(ADC, ADC), ALU2(SBB, SBB), ALU2(AND, AND), ALU2(SUB, SUB),
	ALU2(XOR, XOR), ALU2(CMP, CMP), ALU2(TEST, TEST),
	ALU2(ROL, ROL), ALU2(ROR, ROR), ALU2(RCL, RCL), ALU2(RCR, RCR), ALU2(SHL, SHL), ALU2(SHR, SHR),
	ALU2(SAR, SAR),
	ALU1(INC, INC), ALU1(DEC, DEC), ALU1(NOT, NOT), ALU1(NEG, NEG),
	BIT(BT, BT), BIT(BTS, BTS), BIT(BTR, BTR), BIT(BTC, BTC),
	RUN(XCHG, run_xchg), RUN(XADD, run_xadd), RUN(CMPXCHG, run_cmpxchg),
	RUN(CMPXCHG8B, run_cmpxchg_wide), RUN(CMPXCHG16B, run_cmpxchg_wide),
	RUN(SETO, run_setcc), RUN(SETNO, run_setcc), RUN(SETB, run_setcc), RUN(SETNB, run_setcc),
	RUN(SETZ, run_setcc), RUN(SETNZ, run_setcc), RUN(SETBE, run_setcc), RUN(SETNBE, run_setcc),
	RUN(SETS, run_setcc), RUN(SETNS, run_setcc), RUN(SETP, run_setcc), RUN(SETNP, run_setcc),
	RUN(SETL, run_setcc), RUN(SETNL, run_setcc), RUN(SETLE, run_setcc), RUN(SETNLE, run_setcc),
	RUN(PUSH, run_push), RUN(PUSHF, run_pushf), RUN(PUSHFQ, run_pushf), RUN(POP, run_pop_mem),
	RUN(CALL, run_call),
	STR(MOVSB, MOVS), STR(MOVSW, MOVS), STR(MOVSD, MOVS), STR(MOVSQ, MOVS),
	STR(STOSB, STOS), STR(STOSW, STOS), STR(STOSD, STOS), STR(STOSQ, STOS),
	STR(LODSB, LODS), STR(LODSW, LODS), STR(LODSD, LODS), STR(LODSQ, LODS),
};

static const struct data_op *find_data_op(ZydisMnemonic m)
{
	for (size_t i = 0; i < sizeof(data_ops) / sizeof(data_ops[0]); i++)
		if (data_ops[i].mnemonic == m)
			return &data_ops[i];
	return NULL;
}

void emu_data_access(struct shadow_cpu *cpu, const struct shadow_env *env, uint64_t va, uint64_t gpa,
		     const struct emu_data_target *target, struct emu_outcome *out)
{
	struct dx x = { .t = target, .fault_va = va };

	emu_begin(&x.e, cpu, env, out);
	x.page_va = va & ~(uint64_t) (EMU_PAGE_4K - 1);
	x.page_gpa = gpa & ~(uint64_t) (EMU_PAGE_4K - 1);
	if (emu_fetch(&x.e) < 0)
		return;
	const struct data_op *op = find_data_op(x.e.insn.d.mnemonic);
	/* movsd is also an SSE move (F2 0F 10/11): only the string form is ours. */
	if (!op || (x.e.insn.d.mnemonic == ZYDIS_MNEMONIC_MOVSD && x.e.insn.d.opcode != 0xa5))
		return not_emulated(&x);
	op->run(&x, op);
	if (out->status == EMU_DONE && !x.e.rip_set)
		cpu->regs.rip = x.e.insn.next_rip;
}
