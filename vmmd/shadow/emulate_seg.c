/* SPDX-License-Identifier: MIT */
/*
 * Segment loads and far transfers against the guest's *virtual* GDT and
 * LDT (pcb.gdtr, pcb.ldtr), with the checks of the SDM's pseudocode for
 * 64-bit mode: MOV and POP to a segment register, LSS/LFS/LGS, RET far,
 * JMP/CALL far through m16:16/32/64, IRET, SYSRET, LLDT.
 *
 * The real CPU never holds a guest descriptor: the monitor's GDT has none a
 * guest selector can name, so each of these faults at real CPL3 (#GP, #NP
 * or #SS) and lands here. Descriptors are guest memory, read as implicit
 * supervisor accesses and decided on from one snapshot; their accessed bit
 * is set in the guest's table as the CPU would. A bad descriptor raises
 * #GP, #NP or #SS with the selector as error code, a null one #GP(0), and
 * nothing is committed before every check has passed.
 *
 * What vmmd cannot run is refused as EMU_UNSUPPORTED rather than faked:
 * the real CPU runs the guest at CPL3 in 64-bit mode only, so a transfer
 * to a 16/32-bit code segment or to CPL 1 or 2, and call gates, end the VM
 * with a message (docs/shadow.md, "What is emulated").
 */
#include <errno.h>
#include <string.h>

#include "vmmd/shadow/emulate_priv.h"

/* Flags an iret at CPL0 may load; VM, VIF, VIP are never taken from a frame. */
#define RFLAGS_IRET_MASK   0x257fd5ULL   /* CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID */
#define RFLAGS_SYSRET_MASK 0x3c7fd7ULL

struct desc {
	uint16_t sel;
	bool null;
	uint64_t addr;       /* linear address of the descriptor in the guest's table */
	uint8_t b[16];       /* the snapshot */
	unsigned type, dpl;
	bool s, p, l, db;
	uint64_t base;       /* bits 31:0 (64 for system descriptors) */
	uint32_t limit;      /* scaled by G */
};

static uint32_t sel_error(uint16_t sel)
{
	return sel & 0xfffc;
}

static bool sel_null(uint16_t sel)
{
	return (sel & 0xfffc) == 0;
}

static bool is_code(const struct desc *d) { return d->s && (d->type & 8); }
static bool is_data(const struct desc *d) { return d->s && !(d->type & 8); }
static bool is_conforming(const struct desc *d) { return is_code(d) && (d->type & 4); }
static bool is_readable_code(const struct desc *d) { return is_code(d) && (d->type & 2); }
static bool is_writable_data(const struct desc *d) { return is_data(d) && (d->type & 2); }

static int fail_sel(struct emu *e, unsigned vector, uint16_t sel)
{
	emu_raise(e, vector, sel_error(sel));
	return -EFAULT;
}

static int fail_gp0(struct emu *e)
{
	emu_gp0(e);
	return -EFAULT;
}

static int fail_unsupported(struct emu *e, const char *reason)
{
	emu_unsupported(e, reason);
	return -EFAULT;
}

static void decode_desc(struct desc *d)
{
	const uint8_t *b = d->b;

	d->type = b[5] & 0xf;
	d->s = b[5] & 0x10;
	d->dpl = (b[5] >> 5) & 3;
	d->p = b[5] & 0x80;
	d->l = b[6] & 0x20;
	d->db = b[6] & 0x40;
	d->base = b[2] | (uint64_t) b[3] << 8 | (uint64_t) b[4] << 16 | (uint64_t) b[7] << 24;
	d->limit = b[0] | (uint32_t) b[1] << 8 | (uint32_t) (b[6] & 0xf) << 16;
	if (b[6] & 0x80)
		d->limit = d->limit << 12 | 0xfff;
	if (!d->s)
		d->base |= emu_load_le(b + 8, 4) << 32;
}

/* The table a selector indexes: the GDT, or the LDT for TI = 1 (no LDT
 * loaded: a zero limit, so every LDT selector is out of bounds). */
static void table_of(const struct shadow_pcb *p, uint16_t sel, uint64_t *ret_base, uint64_t *ret_limit)
{
	bool ldt = sel & 4;
	*ret_base = ldt ? p->ldt_base : p->gdtr.base;
	*ret_limit = ldt ? (sel_null(p->ldtr) ? 0 : p->ldt_limit) : p->gdtr.limit;
}

/*
 * Snapshot the descriptor a non-null selector names: `bytes` is 8, or 16
 * for a system descriptor in 64-bit mode. #GP(selector) when the table's
 * limit does not cover it (and for any LDT selector without an LDT); a #PF
 * reading it is the guest's.
 */
static int desc_fetch(struct emu *e, uint16_t sel, unsigned bytes, struct desc *d)
{
	uint64_t base, limit;

	memset(d, 0, sizeof(*d));
	d->sel = sel;
	table_of(&e->cpu->pcb, sel, &base, &limit);
	if ((sel & 4) && sel_null(e->cpu->pcb.ldtr))
		return fail_sel(e, X86_GP, sel);
	if ((uint64_t) (sel & ~7u) + bytes - 1 > limit)
		return fail_sel(e, X86_GP, sel);
	d->addr = base + (sel & ~7u);
	if (emu_mem_access(e, d->addr, d->b, bytes, false, true) < 0)
		return -EFAULT;
	decode_desc(d);
	return 0;
}

/* The CPU sets a code/data descriptor's accessed bit when it loads it (a
 * supervisor write: a read-only GDT with the bit clear faults here, as on
 * hardware; Linux presets the bit for that reason). */
static int desc_mark_accessed(struct emu *e, const struct desc *d)
{
	if (d->null || !d->s || (d->b[5] & 1))
		return 0;
	uint8_t v = d->b[5] | 1;
	return emu_mem_access(e, d->addr + 5, &v, 1, true, true);
}

/* --- checks ------------------------------------------------------------------------- */

/* SS for privilege level cpl (MOV/POP/LSS at the current CPL; IRET and far
 * RET at the new one). 64-bit mode allows a null SS below CPL3 whose RPL is
 * that CPL. */
static int check_ss(struct emu *e, uint16_t sel, unsigned cpl, struct desc *d)
{
	if (sel_null(sel)) {
		if (cpl == 3 || (sel & 3) != cpl)
			return fail_gp0(e);
		*d = (struct desc) { .sel = sel, .null = true };
		return 0;
	}
	if (desc_fetch(e, sel, 8, d) < 0)
		return -EFAULT;
	if ((sel & 3) != cpl || !is_writable_data(d) || d->dpl != cpl)
		return fail_sel(e, X86_GP, sel);
	if (!d->p)
		return fail_sel(e, X86_SS, sel);
	return 0;
}

/* DS, ES, FS or GS at the current CPL: data or readable code; DPL must
 * allow both RPL and CPL unless the code is conforming. Null is fine. */
static int check_data_seg(struct emu *e, uint16_t sel, struct desc *d)
{
	unsigned cpl = e->cpu->pcb.vcpl;

	if (sel_null(sel)) {
		*d = (struct desc) { .sel = sel, .null = true };
		return 0;
	}
	if (desc_fetch(e, sel, 8, d) < 0)
		return -EFAULT;
	if (!is_data(d) && !is_readable_code(d))
		return fail_sel(e, X86_GP, sel);
	if (!is_conforming(d) && ((sel & 3) > d->dpl || cpl > d->dpl))
		return fail_sel(e, X86_GP, sel);
	if (!d->p)
		return fail_sel(e, X86_NP, sel);
	return 0;
}

/* A code segment vmmd can run: 64-bit (L = 1, D = 0; L and D both set is
 * #GP(selector) on hardware), at CPL 0 or 3. */
static int check_runnable_code(struct emu *e, const struct desc *d, unsigned new_cpl)
{
	if (d->l && d->db)
		return fail_sel(e, X86_GP, d->sel);
	if (!d->l)
		return fail_unsupported(e, "a far transfer to 16/32-bit code (shadow mode runs 64-bit code only)");
	if (new_cpl == 1 || new_cpl == 2)
		return fail_unsupported(e, "a far transfer to CPL 1 or 2 (shadow mode runs CPL 0 and 3 only)");
	return 0;
}

/* The code segment of a far RET or IRET: returns to CPL = its RPL. */
static int check_return_cs(struct emu *e, uint16_t sel, struct desc *d)
{
	unsigned cpl = e->cpu->pcb.vcpl, rpl = sel & 3;

	if (sel_null(sel))
		return fail_gp0(e);
	if (desc_fetch(e, sel, 8, d) < 0)
		return -EFAULT;
	if (!is_code(d) || rpl < cpl)
		return fail_sel(e, X86_GP, sel);
	if (is_conforming(d) ? d->dpl > rpl : d->dpl != rpl)
		return fail_sel(e, X86_GP, sel);
	if (!d->p)
		return fail_sel(e, X86_NP, sel);
	return check_runnable_code(e, d, rpl);
}

/* Vendors whose iretq and sysretq check the target RIP only when they
 * fetch there: to a non-canonical RIP they complete, and the #GP(0) comes
 * from the new context, at the new CPL (the engine raises it once the
 * emulated return is committed). Intel raises #GP(0) at the instruction.
 * vmmd does what the CPU the guest's CPUID names does; without a CPUID
 * (unit tests), Intel's. */
static const char fetch_checked_vendors[][13] = { "AuthenticAMD", "HygonGenuine" };

static bool return_checks_rip_at_fetch(struct emu *e)
{
	uint32_t id[4] = { 0 };
	char vendor[13];

	if (!e->env->cpuid)
		return false;
	e->env->cpuid(e->env->ctx, 0, 0, id);
	memcpy(vendor, &id[1], 4);        /* EBX, EDX, ECX */
	memcpy(vendor + 4, &id[3], 4);
	memcpy(vendor + 8, &id[2], 4);
	vendor[12] = 0;
	for (size_t i = 0; i < sizeof(fetch_checked_vendors) / sizeof(fetch_checked_vendors[0]); i++)
		if (strcmp(vendor, fetch_checked_vendors[i]) == 0)
			return true;
	return false;
}

/* The last checks of a far return or iret: a canonical target (#GP(0);
 * an iret on AMD faults at the target instead), then the accessed bits the
 * CPU sets (a #PF there is the guest's). */
static int finish_return(struct emu *e, uint64_t rip, const struct desc *cs, const struct desc *ss, bool iret)
{
	if (!x86_canonical(rip) && !(iret && return_checks_rip_at_fetch(e)))
		return fail_gp0(e);
	if (desc_mark_accessed(e, cs) < 0 || desc_mark_accessed(e, ss) < 0)
		return -EFAULT;
	return 0;
}

/* --- commits ------------------------------------------------------------------------- */

static uint16_t *sreg_slot(struct shadow_pcb *p, ZydisRegister sreg)
{
	switch (sreg) {
	case ZYDIS_REGISTER_DS: return &p->ds;
	case ZYDIS_REGISTER_ES: return &p->es;
	case ZYDIS_REGISTER_FS: return &p->fs;
	case ZYDIS_REGISTER_GS: return &p->gs;
	case ZYDIS_REGISTER_SS: return &p->ss;
	default: return NULL;
	}
}

/* Load a checked selector. In 64-bit mode FS and GS take their base from
 * the descriptor (bits 31:0); a null selector leaves the base alone (as
 * Intel CPUs do). */
static void commit_sreg(struct shadow_pcb *p, ZydisRegister sreg, const struct desc *d)
{
	uint16_t *slot = sreg_slot(p, sreg);

	if (!slot)
		return;   /* check_sreg refused it already */
	*slot = d->sel;
	if (d->null)
		return;
	if (sreg == ZYDIS_REGISTER_FS)
		p->fs_base = d->base;
	else if (sreg == ZYDIS_REGISTER_GS)
		p->gs_base = d->base;
}

/* Check sel for sreg at the current CPL (null SS needs RPL = CPL < 3). */
static int check_sreg(struct emu *e, ZydisRegister sreg, uint16_t sel, struct desc *d)
{
	if (!sreg_slot(&e->cpu->pcb, sreg)) {
		emu_ud(e);   /* CS, or not a segment register */
		return -EINVAL;
	}
	if (sreg == ZYDIS_REGISTER_SS)
		return check_ss(e, sel, e->cpu->pcb.vcpl, d);
	return check_data_seg(e, sel, d);
}

/* After a return to an outer level, DS/ES/FS/GS that the new CPL may not
 * use are loaded with null (the SDM's RETURN-TO-OUTER-PRIVILEGE-LEVEL). The
 * CPU decides on its cached descriptors; vmmd has only the selectors and
 * reads the table again, quietly: a descriptor it cannot read stays. */
static void null_inaccessible_data_segs(struct emu *e, unsigned new_cpl)
{
	static const ZydisRegister regs[] = { ZYDIS_REGISTER_DS, ZYDIS_REGISTER_ES, ZYDIS_REGISTER_FS, ZYDIS_REGISTER_GS };
	struct shadow_pcb *p = &e->cpu->pcb;

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		uint16_t *slot = sreg_slot(p, regs[i]);
		uint64_t base, limit;
		uint8_t b[8];
		struct shadow_fault f;
		if (!slot || sel_null(*slot))
			continue;
		uint16_t sel = *slot;
		table_of(p, sel, &base, &limit);
		if ((uint64_t) (sel & ~7u) + 7 > limit ||
		    e->env->read_virt(e->env->ctx, base + (sel & ~7u), b, sizeof(b), 0, &f) < 0)
			continue;
		struct desc d = { .sel = sel };
		memcpy(d.b, b, sizeof(b));
		decode_desc(&d);
		if ((is_data(&d) || !is_conforming(&d)) && d.dpl < new_cpl)
			*slot = 0;
	}
}

/* A new CS (and CPL): the guest is now in kernel or user mode. */
static void commit_cs(struct emu *e, uint16_t sel, unsigned new_cpl)
{
	struct shadow_pcb *p = &e->cpu->pcb;

	e->out->cpl_changed = p->vcpl != new_cpl;
	p->cs = sel;
	p->vcpl = new_cpl;
	e->rip_set = true;
}

/* Offset of `width` bytes as RIP: 16- and 32-bit offsets are zero-extended. */
static uint64_t offset_rip(uint64_t v, unsigned width)
{
	return v & x86_size_mask(width);
}

/* --- the instructions ----------------------------------------------------------------- */

void emu_mov_sreg(struct emu *e)
{
	const ZydisDecodedOperand *dst = emu_operand(e, 0), *src = emu_operand(e, 1);
	static const char *const names[] = { "mov es", "mov cs", "mov ss", "mov ds", "mov fs", "mov gs" };
	struct desc d;
	uint64_t v;

	if (!dst || !src)
		return emu_ud(e);
	if (dst->reg.value >= ZYDIS_REGISTER_ES && dst->reg.value <= ZYDIS_REGISTER_GS)
		emu_set_mnemonic(e->out, names[dst->reg.value - ZYDIS_REGISTER_ES]);
	if (emu_op_read(e, src, &v) < 0 || check_sreg(e, dst->reg.value, (uint16_t) v, &d) < 0 ||
	    desc_mark_accessed(e, &d) < 0)
		return;
	commit_sreg(&e->cpu->pcb, dst->reg.value, &d);
	/* mov ss blocks interrupts (and debug traps) for one instruction. */
	if (dst->reg.value == ZYDIS_REGISTER_SS)
		e->out->irq_shadow = true;
}

void emu_pop_sreg(struct emu *e)
{
	const ZydisDecodedOperand *dst = emu_operand(e, 0);
	struct kvm_regs *r = &e->cpu->regs;
	unsigned w = e->insn.d.operand_width / 8;
	uint8_t buf[8];
	struct desc d;

	if (!emu_op_is_reg_class(dst, ZYDIS_REGCLASS_SEGMENT)) {
		e->out->status = EMU_NOT_PRIVILEGED;   /* a pop into memory or a register: not ours */
		return;
	}
	emu_set_mnemonic(e->out, dst->reg.value == ZYDIS_REGISTER_FS ? "pop fs" : "pop gs");
	if (w != 2 && w != 8)
		return emu_ud(e);
	if (emu_stack_read(e, r->rsp, buf, w) < 0 || check_sreg(e, dst->reg.value, (uint16_t) emu_load_le(buf, 2), &d) < 0 ||
	    desc_mark_accessed(e, &d) < 0)
		return;
	commit_sreg(&e->cpu->pcb, dst->reg.value, &d);
	r->rsp += w;
}

void emu_load_far_pointer(struct emu *e)
{
	const ZydisDecodedOperand *dst = emu_operand(e, 0), *src = emu_operand(e, 1);
	ZydisRegister sreg = e->insn.d.mnemonic == ZYDIS_MNEMONIC_LSS ? ZYDIS_REGISTER_SS
			     : e->insn.d.mnemonic == ZYDIS_MNEMONIC_LFS ? ZYDIS_REGISTER_FS : ZYDIS_REGISTER_GS;
	unsigned w = dst ? x86_gpr_size(dst->reg.value) : 0;
	uint64_t va;
	uint8_t buf[10];
	struct desc d;

	if ((w != 2 && w != 4 && w != 8) || !src || src->type != ZYDIS_OPERAND_TYPE_MEMORY)
		return emu_ud(e);
	if (emu_op_address(e, 1, &va) < 0 || emu_mem_read(e, va, buf, w + 2) < 0)
		return;
	uint16_t sel = emu_load_le(buf + w, 2);
	if (check_sreg(e, sreg, sel, &d) < 0 || desc_mark_accessed(e, &d) < 0)
		return;
	commit_sreg(&e->cpu->pcb, sreg, &d);
	x86_gpr_write(&e->cpu->regs, dst->reg.value, emu_load_le(buf, w));
}

void emu_far_ret(struct emu *e)
{
	struct kvm_regs *r = &e->cpu->regs;
	const ZydisDecodedOperand *imm_op = emu_operand(e, 0);
	unsigned w = e->insn.d.operand_width / 8;
	uint64_t imm = imm_op && imm_op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (imm_op->imm.value.u & 0xffff) : 0;
	uint8_t buf[16];
	struct desc cs, ss = { .null = true };

	if (e->insn.d.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR) {
		e->out->status = EMU_NOT_PRIVILEGED;   /* a near ret faulted: the guest's own */
		return;
	}
	emu_set_mnemonic(e->out, w == 8 ? "lretq" : "lret");
	if (emu_stack_read(e, r->rsp, buf, 2 * w) < 0)
		return;
	uint64_t rip = offset_rip(emu_load_le(buf, w), w);
	uint16_t cs_sel = emu_load_le(buf + w, 2);
	uint64_t rsp = r->rsp + 2 * w + imm;
	if (check_return_cs(e, cs_sel, &cs) < 0)
		return;
	unsigned new_cpl = cs_sel & 3;
	bool outer = new_cpl > e->cpu->pcb.vcpl;
	if (outer) {
		/* The caller's SS:RSP sits above the parameters. */
		if (emu_stack_read(e, rsp, buf, 2 * w) < 0)
			return;
		uint16_t ss_sel = emu_load_le(buf + w, 2);
		rsp = emu_load_le(buf, w) + imm;
		if (check_ss(e, ss_sel, new_cpl, &ss) < 0)
			return;
	}
	if (finish_return(e, rip, &cs, &ss, false) < 0)
		return;
	r->rip = rip;
	r->rsp = rsp;
	if (outer) {
		e->cpu->pcb.ss = ss.sel;
		null_inaccessible_data_segs(e, new_cpl);
	}
	commit_cs(e, cs_sel, new_cpl);
}

void emu_far_jmp_call(struct emu *e)
{
	struct kvm_regs *r = &e->cpu->regs;
	const ZydisDecodedOperand *m = emu_operand(e, 0);
	bool call = e->insn.d.mnemonic == ZYDIS_MNEMONIC_CALL;
	unsigned cpl = e->cpu->pcb.vcpl;
	uint8_t buf[10], frame[16];
	uint64_t va;
	struct desc d;

	if (e->insn.d.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR) {
		e->out->status = EMU_NOT_PRIVILEGED;
		return;
	}
	emu_set_mnemonic(e->out, call ? "lcall" : "ljmp");
	/* m16:16, m16:32 or m16:64: the offset, then the selector. */
	unsigned w = m && m->type == ZYDIS_OPERAND_TYPE_MEMORY ? m->size / 8 - 2 : 0;
	if (w != 2 && w != 4 && w != 8)
		return emu_ud(e);
	if (emu_op_address(e, 0, &va) < 0 || emu_mem_read(e, va, buf, w + 2) < 0)
		return;
	uint64_t rip = offset_rip(emu_load_le(buf, w), w);
	uint16_t sel = emu_load_le(buf + w, 2);
	if (sel_null(sel))
		return emu_gp0(e);
	if (desc_fetch(e, sel, 8, &d) < 0)
		return;
	if (!is_code(&d)) {
		/* 64-bit call gates would go here; TSS and task gates are #GP in IA-32e mode. */
		if (!d.s && d.type == 0xc)
			return emu_unsupported(e, "a far transfer through a call gate");
		return emu_raise(e, X86_GP, sel_error(sel));
	}
	if (is_conforming(&d) ? d.dpl > cpl : ((sel & 3) > cpl || d.dpl != cpl))
		return emu_raise(e, X86_GP, sel_error(sel));
	if (!d.p)
		return emu_raise(e, X86_NP, sel_error(sel));
	if (check_runnable_code(e, &d, cpl) < 0)
		return;
	if (!x86_canonical(rip))
		return emu_gp0(e);
	uint64_t rsp = r->rsp - 2 * w;
	if (call) {
		/* Push CS, then the return RIP, each of the operand size. */
		emu_store_le(frame, e->insn.next_rip, w);
		emu_store_le(frame + w, e->cpu->pcb.cs, w);
		if (emu_stack_write(e, rsp, frame, 2 * w) < 0)
			return;
	}
	if (desc_mark_accessed(e, &d) < 0)
		return;
	if (call)
		r->rsp = rsp;
	r->rip = rip;
	commit_cs(e, (sel & ~3u) | cpl, cpl);   /* CS.RPL becomes the CPL */
}

void emu_iret(struct emu *e)
{
	struct shadow_cpu *c = e->cpu;
	unsigned w = e->insn.d.operand_width / 8;
	uint8_t frame[40];
	uint64_t v[5];
	struct desc cs, ss;

	if (w != 2 && w != 4 && w != 8)
		return emu_ud(e);
	if (c->regs.rflags & X86_RFLAGS_NT)
		return emu_gp0(e);   /* a task return: #GP(0) in IA-32e mode */
	/* 64-bit mode pops SS:RSP at every privilege level. */
	if (emu_stack_read(e, c->regs.rsp, frame, 5 * w) < 0)
		return;
	for (unsigned i = 0; i < 5; i++)
		v[i] = emu_load_le(frame + i * w, w);
	uint64_t rip = offset_rip(v[0], w), flags = v[2], rsp = v[3];
	uint16_t cs_sel = v[1], ss_sel = v[4];
	if (check_return_cs(e, cs_sel, &cs) < 0)
		return;
	unsigned new_cpl = cs_sel & 3;
	if (check_ss(e, ss_sel, new_cpl, &ss) < 0 || finish_return(e, rip, &cs, &ss, true) < 0)
		return;

	/* IOPL only at CPL0; IF only where CPL <= IOPL (the virtual IOPL is 0). */
	uint64_t mask = RFLAGS_IRET_MASK;
	if (c->pcb.vcpl != 0)
		mask &= ~(X86_RFLAGS_IF | X86_RFLAGS_IOPL);
	if (w == 2)
		mask &= 0xffff;
	uint64_t nf = (c->regs.rflags & ~mask) | (flags & mask);
	bool vif = c->pcb.vcpl == 0 ? (nf & X86_RFLAGS_IF) != 0 : c->pcb.vif;
	bool outer = new_cpl > c->pcb.vcpl;

	c->regs.rip = rip;
	c->regs.rsp = rsp;
	c->regs.rflags = emu_real_rflags(nf, vif);
	c->pcb.vif = vif;
	c->pcb.ss = ss_sel;
	if (outer)
		null_inaccessible_data_segs(e, new_cpl);
	commit_cs(e, cs_sel, new_cpl);
}

void emu_sysret(struct emu *e)
{
	struct shadow_cpu *c = e->cpu;
	bool q = e->insn.d.operand_width == 64;

	emu_set_mnemonic(e->out, q ? "sysretq" : "sysret");
	if (!(c->pcb.efer & X86_EFER_SCE))
		return emu_ud(e);
	if (c->pcb.vcpl != 0)
		return emu_gp0(e);
	/* Intel raises #GP(0) in kernel mode for a non-canonical RCX; AMD
	 * returns and faults in user mode (return_checks_rip_at_fetch). */
	if (q && !x86_canonical(c->regs.rcx) && !return_checks_rip_at_fetch(e))
		return emu_gp0(e);
	if (!q)
		return emu_unsupported(e, "sysret to 32-bit user code (shadow mode runs 64-bit code only)");
	uint16_t base = c->pcb.star >> 48;
	uint64_t flags = (c->regs.r11 & RFLAGS_SYSRET_MASK) | X86_RFLAGS_FIXED;
	bool vif = flags & X86_RFLAGS_IF;

	/* SYSRET loads fixed descriptors: nothing is read from the GDT. */
	c->regs.rip = c->regs.rcx;
	c->regs.rflags = emu_real_rflags(flags, vif);
	c->pcb.vif = vif;
	c->pcb.ss = (uint16_t) (base + 8) | 3;
	commit_cs(e, (uint16_t) (base + 16) | 3, 3);
}

void emu_lldt(struct emu *e)
{
	struct shadow_pcb *p = &e->cpu->pcb;
	struct desc d;
	uint64_t v;

	if (emu_op_read(e, emu_operand(e, 0), &v) < 0)
		return;
	uint16_t sel = v;
	if (sel_null(sel)) {
		p->ldtr = sel;   /* no LDT: every LDT reference faults */
		p->ldt_base = 0;
		p->ldt_limit = 0;
		return;
	}
	if (sel & 4)
		return emu_raise(e, X86_GP, sel_error(sel));
	if (desc_fetch(e, sel, 16, &d) < 0)
		return;
	if (d.s || d.type != 0x2 || (d.b[13] & 0x1f) != 0)   /* an LDT descriptor; upper type 0 */
		return emu_raise(e, X86_GP, sel_error(sel));
	if (!d.p)
		return emu_raise(e, X86_NP, sel_error(sel));
	if (!x86_canonical(d.base))
		return emu_raise(e, X86_GP, sel_error(sel));
	p->ldtr = sel;
	p->ldt_base = d.base;
	p->ldt_limit = d.limit;
}
