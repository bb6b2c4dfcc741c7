/* SPDX-License-Identifier: MIT */
/*
 * Trap-and-emulate for the deprivileged guest kernel (see emulate.h).
 *
 * Every handler works on the *virtual* CPU: it first checks everything that
 * can fault (operands read through the guest's page tables, reserved bits,
 * selectors), and only then commits, so an instruction that raises an
 * exception leaves the virtual CPU as it found it — except string I/O,
 * whose per-element progress is architectural. Instruction bytes, operand
 * memory and descriptor tables are guest-controlled: sizes come from the
 * decoder and are bounded here again, and every guest access goes through
 * env->read_virt/write_virt, which check the guest's own permissions.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmmd/shadow/debugreg.h"
#include "vmmd/shadow/emulate_priv.h"
#include "vmmd/shadow/io_permission.h"

#define STRING_IO_MAX_BYTES  (64u * 1024)   /* per trap; rep resumes by re-trapping */

#define CR0_WRITABLE (X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | X86_CR0_NE | \
		      X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)
#define CR0_PAGING   (X86_CR0_PE | X86_CR0_WP | X86_CR0_PG | X86_CR0_CD)
/* VME..UMIP, FSGSBASE, OSXSAVE, SMEP, SMAP. Not offered: LA57, VMXE, SMXE, PCIDE, PKE, CET. */
#define CR4_WRITABLE (0xfffULL | X86_CR4_FSGSBASE | X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_SMAP)
#define CR4_PAGING   (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_SMEP | X86_CR4_SMAP)
#define EFER_WRITABLE (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)
#define CR3_RESERVED 0xfff0000000000000ULL   /* above MAXPHYADDR 52; bit 63 needs PCIDE */

struct emu_op {
	ZydisMnemonic mnemonic;
	bool privileged;      /* #GP(0) at virtual CPL3 */
	void (*run)(struct emu *e);
};

/* --- control registers ----------------------------------------------------------- */

static void write_cr0(struct emu *e, uint64_t v)
{
	struct shadow_pcb *p = &e->cpu->pcb;

	if (v >> 32)
		return emu_gp0(e);
	/* Writes to reserved bits 31:0 are ignored; ET is hardwired to 1. */
	uint64_t nv = (v & CR0_WRITABLE) | X86_CR0_ET;
	if ((nv & X86_CR0_PG) && !(nv & X86_CR0_PE))
		return emu_gp0(e);
	if ((nv & X86_CR0_NW) && !(nv & X86_CR0_CD))
		return emu_gp0(e);
	/* Leaving long mode (or protected mode) from 64-bit code is a #GP. */
	if ((p->efer & X86_EFER_LMA) && (!(nv & X86_CR0_PG) || !(nv & X86_CR0_PE)))
		return emu_gp0(e);
	if (!(p->cr0 & X86_CR0_PG) && (nv & X86_CR0_PG) && (p->efer & X86_EFER_LME) && !(p->cr4 & X86_CR4_PAE))
		return emu_gp0(e);
	uint64_t changed = p->cr0 ^ nv;
	p->cr0 = nv;
	if ((nv & X86_CR0_PG) && (p->efer & X86_EFER_LME))
		p->efer |= X86_EFER_LMA;
	if ((changed & CR0_PAGING) && e->env->paging_changed)
		e->env->paging_changed(e->env->ctx);
}

static void write_cr4(struct emu *e, uint64_t v)
{
	struct shadow_pcb *p = &e->cpu->pcb;

	if (v & ~CR4_WRITABLE)
		return emu_gp0(e);
	if ((p->efer & X86_EFER_LMA) && !(v & X86_CR4_PAE))
		return emu_gp0(e);
	uint64_t changed = p->cr4 ^ v;
	p->cr4 = v;
	if ((changed & CR4_PAGING) && e->env->paging_changed)
		e->env->paging_changed(e->env->ctx);
}

static void write_cr(struct emu *e, unsigned n, uint64_t v)
{
	struct shadow_pcb *p = &e->cpu->pcb;

	switch (n) {
	case 0:
		return write_cr0(e, v);
	case 2:
		p->cr2 = v;
		return;
	case 3:
		if (v & CR3_RESERVED)
			return emu_gp0(e);
		/* The callback sees the old pcb.cr3 (a guest page-table switch). */
		if (e->env->cr3_write)
			e->env->cr3_write(e->env->ctx, v);
		p->cr3 = v;
		return;
	case 4:
		return write_cr4(e, v);
	case 8:
		if (v & ~0xfULL)
			return emu_gp0(e);
		p->tpr = v;
		return;
	default:
		emu_ud(e);
	}
}

static int read_cr(struct emu *e, unsigned n, uint64_t *ret)
{
	const struct shadow_pcb *p = &e->cpu->pcb;

	switch (n) {
	case 0: *ret = p->cr0; return 0;
	case 2: *ret = p->cr2; return 0;
	case 3: *ret = p->cr3; return 0;
	case 4: *ret = p->cr4; return 0;
	case 8: *ret = p->tpr; return 0;
	default:
		emu_ud(e);
		return -EINVAL;
	}
}

static unsigned cr_number(ZydisRegister reg)
{
	return (unsigned) (reg - ZYDIS_REGISTER_CR0);
}

/* mov to/from DRn: debugreg.c keeps the values. */
static void mov_dr(struct emu *e, const ZydisDecodedOperand *dst, const ZydisDecodedOperand *src)
{
	bool to_dr = emu_op_is_reg_class(dst, ZYDIS_REGCLASS_DEBUG);
	unsigned n = (unsigned) ((to_dr ? dst : src)->reg.value - ZYDIS_REGISTER_DR0);
	char name[16];
	uint64_t v;
	int r;

	snprintf(name, sizeof(name), to_dr ? "mov dr%u" : "mov from dr%u", n & 7);
	emu_set_mnemonic(e->out, name);
	if (e->cpu->pcb.vcpl != 0)
		return emu_gp0(e);
	if (to_dr)
		r = x86_gpr_read(&e->cpu->regs, src->reg.value, &v) < 0 ? -ENOSYS : debugreg_write(&e->cpu->pcb, n, v);
	else
		r = debugreg_read(&e->cpu->pcb, n, &v);
	if (r == 0 && !to_dr && x86_gpr_write(&e->cpu->regs, dst->reg.value, v) < 0)
		r = -ENOSYS;
	if (r == -EINVAL)
		return emu_gp0(e);
	if (r == -EAGAIN)
		return emu_raise(e, X86_DB, 0);   /* general detect: a fault, RIP on the mov */
	if (r < 0)
		return emu_ud(e);
}

static void emu_mov(struct emu *e)
{
	const ZydisDecodedOperand *dst = emu_operand(e, 0), *src = emu_operand(e, 1);
	uint64_t v;

	if (emu_op_is_reg_class(dst, ZYDIS_REGCLASS_CONTROL)) {
		if (e->cpu->pcb.vcpl != 0)
			return emu_gp0(e);
		unsigned n = cr_number(dst->reg.value);
		char name[16];
		snprintf(name, sizeof(name), "mov cr%u", n % 100);
		emu_set_mnemonic(e->out, name);
		if (x86_gpr_read(&e->cpu->regs, src ? src->reg.value : ZYDIS_REGISTER_NONE, &v) < 0)
			return emu_ud(e);
		return write_cr(e, n, v);
	}
	if (emu_op_is_reg_class(src, ZYDIS_REGCLASS_CONTROL)) {
		if (e->cpu->pcb.vcpl != 0)
			return emu_gp0(e);
		unsigned n = cr_number(src->reg.value);
		char name[16];
		snprintf(name, sizeof(name), "mov from cr%u", n % 100);
		emu_set_mnemonic(e->out, name);
		if (read_cr(e, n, &v) < 0)
			return;
		if (x86_gpr_write(&e->cpu->regs, dst->reg.value, v) < 0)
			return emu_ud(e);
		return;
	}
	if (emu_op_is_reg_class(dst, ZYDIS_REGCLASS_DEBUG) || emu_op_is_reg_class(src, ZYDIS_REGCLASS_DEBUG))
		return mov_dr(e, dst, src);
	if (emu_op_is_reg_class(dst, ZYDIS_REGCLASS_SEGMENT))
		return emu_mov_sreg(e);
	e->out->status = EMU_NOT_PRIVILEGED;
}

/* --- simple privileged instructions ----------------------------------------------------- */

static void emu_cli(struct emu *e)
{
	emu_set_if(e->cpu, false);
}

static void emu_sti(struct emu *e)
{
	/* Interrupts stay blocked for one more instruction when sti sets IF:
	 * reported as irq_shadow; the caller must not inject before resuming. */
	if (!e->cpu->pcb.vif)
		e->out->irq_shadow = true;
	emu_set_if(e->cpu, true);
}

static void emu_hlt(struct emu *e)
{
	e->cpu->pcb.halted = true;
	e->out->status = EMU_HALT;
}

static void emu_nop(struct emu *e)
{
	/* wbinvd/invd: the guest has no caches of its own to manage. */
}

static void emu_clts(struct emu *e)
{
	e->cpu->pcb.cr0 &= ~X86_CR0_TS;
}

static void emu_swapgs(struct emu *e)
{
	struct shadow_pcb *p = &e->cpu->pcb;
	uint64_t t = p->gs_base;
	p->gs_base = p->kernel_gs_base;
	p->kernel_gs_base = t;
}

static void emu_invlpg(struct emu *e)
{
	uint64_t va;

	if (emu_op_address(e, 0, &va) < 0)
		return;
	if (e->env->invlpg)
		e->env->invlpg(e->env->ctx, va);
}

static void emu_cpuid(struct emu *e)
{
	struct kvm_regs *r = &e->cpu->regs;
	uint32_t out[4] = { 0, 0, 0, 0 };

	if (e->env->cpuid)
		e->env->cpuid(e->env->ctx, (uint32_t) r->rax, (uint32_t) r->rcx, out);
	r->rax = out[0];
	r->rbx = out[1];
	r->rcx = out[2];
	r->rdx = out[3];
}

static void emu_int(struct emu *e)
{
	const ZydisDecodedOperand *imm = emu_operand(e, 0);

	/* Not emulated: the caller reflects it as a software interrupt returning
	 * to next_rip (the host turns `int n` at CPL3 into #UD or #GP). */
	e->out->status = EMU_NOT_PRIVILEGED;
	e->out->vector = e->insn.d.mnemonic == ZYDIS_MNEMONIC_INT3 ? X86_BP
			 : (imm && imm->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (unsigned) (imm->imm.value.u & 0xff) : 0);
	emu_set_mnemonic(e->out, "int");
}

/* --- descriptor tables --------------------------------------------------------------------- */

static bool umip_blocks(struct emu *e)
{
	return e->cpu->pcb.vcpl != 0 && (e->cpu->pcb.cr4 & X86_CR4_UMIP);
}

static void load_dtr(struct emu *e, struct shadow_dtr *dtr)
{
	uint64_t va;
	uint8_t buf[10];

	if (emu_op_address(e, 0, &va) < 0 || emu_mem_read(e, va, buf, sizeof(buf)) < 0)
		return;
	uint64_t base = emu_load_le(buf + 2, 8);
	if (!x86_canonical(base))
		return emu_gp0(e);
	dtr->limit = emu_load_le(buf, 2);
	dtr->base = base;
}

static void store_dtr(struct emu *e, const struct shadow_dtr *dtr)
{
	uint64_t va;
	uint8_t buf[10];

	if (umip_blocks(e))
		return emu_gp0(e);
	if (emu_op_address(e, 0, &va) < 0)
		return;
	emu_store_le(buf, dtr->limit, 2);
	emu_store_le(buf + 2, dtr->base, 8);
	emu_mem_write(e, va, buf, sizeof(buf));
}

static void emu_lgdt(struct emu *e) { load_dtr(e, &e->cpu->pcb.gdtr); }
static void emu_lidt(struct emu *e) { load_dtr(e, &e->cpu->pcb.idtr); }
static void emu_sgdt(struct emu *e) { store_dtr(e, &e->cpu->pcb.gdtr); }
static void emu_sidt(struct emu *e) { store_dtr(e, &e->cpu->pcb.idtr); }

/* str/sldt/smsw: a register destination gets the operand size (32-bit zero-extends), memory 16 bits. */
static void store_small(struct emu *e, uint64_t value)
{
	const ZydisDecodedOperand *dst = emu_operand(e, 0);

	if (umip_blocks(e))
		return emu_gp0(e);
	emu_op_write(e, dst, value);
}

static void emu_str(struct emu *e) { store_small(e, e->cpu->pcb.tr); }
static void emu_sldt(struct emu *e) { store_small(e, e->cpu->pcb.ldtr); }
static void emu_smsw(struct emu *e) { store_small(e, e->cpu->pcb.cr0); }

static void emu_lmsw(struct emu *e)
{
	uint64_t v;

	if (emu_op_read(e, emu_operand(e, 0), &v) < 0)
		return;
	/* Only MP/EM/TS and PE; PE can be set but not cleared. */
	uint64_t cr0 = e->cpu->pcb.cr0;
	write_cr0(e, (cr0 & ~0xeULL) | (v & 0xf) | (cr0 & X86_CR0_PE));
}

static void emu_ltr(struct emu *e)
{
	struct shadow_pcb *p = &e->cpu->pcb;
	uint64_t v;
	uint8_t d[16];

	if (emu_op_read(e, emu_operand(e, 0), &v) < 0)
		return;
	uint16_t sel = v, err = sel & 0xfffc;
	if ((sel & ~3u) == 0)
		return emu_gp0(e);
	if ((sel & 4) || (uint32_t) (sel & ~7u) + 15 > p->gdtr.limit)   /* no LDT */
		return emu_raise(e, X86_GP, err);
	uint64_t dva = p->gdtr.base + (sel & ~7u);
	/* Snapshot the descriptor once; decide on the copy. */
	if (emu_mem_access(e, dva, d, sizeof(d), false, true) < 0)
		return;
	if ((d[5] & 0x1f) != 0x09)                 /* S = 0, type = available 64-bit TSS */
		return emu_raise(e, X86_GP, err);
	if (!(d[5] & 0x80))
		return emu_raise(e, X86_NP, err);
	if ((d[13] & 0x1f) != 0)                   /* the upper half's type field must be 0 */
		return emu_raise(e, X86_GP, err);
	uint64_t base = emu_load_le(d + 2, 3) | (uint64_t) d[7] << 24 | emu_load_le(d + 8, 4) << 32;
	uint32_t limit = emu_load_le(d, 2) | (uint32_t) (d[6] & 0xf) << 16;
	if (d[6] & 0x80)
		limit = limit << 12 | 0xfff;
	if (!x86_canonical(base))
		return emu_raise(e, X86_GP, err);
	/* Mark it busy in the guest's GDT, as the hardware does. */
	uint8_t busy = d[5] | 0x02;
	if (emu_mem_access(e, dva + 5, &busy, 1, true, true) < 0)
		return;
	p->tr = sel;
	p->tss_base = base;
	p->tss_limit = limit;
}

/* --- MSRs --------------------------------------------------------------------------------- */

static void emu_rdmsr(struct emu *e)
{
	const struct shadow_pcb *p = &e->cpu->pcb;
	uint64_t v;

	switch ((uint32_t) e->cpu->regs.rcx) {
	case X86_MSR_EFER: v = p->efer; break;
	case X86_MSR_STAR: v = p->star; break;
	case X86_MSR_LSTAR: v = p->lstar; break;
	case X86_MSR_CSTAR: v = p->cstar; break;
	case X86_MSR_SFMASK: v = p->sfmask; break;
	case X86_MSR_FS_BASE: v = p->fs_base; break;
	case X86_MSR_GS_BASE: v = p->gs_base; break;
	case X86_MSR_KERNEL_GS_BASE: v = p->kernel_gs_base; break;
	case X86_MSR_TSC: v = e->env->tsc ? e->env->tsc(e->env->ctx) : __builtin_ia32_rdtsc(); break;
	case SHADOW_HC_MSR: v = p->vif; break;
	default:
		return emu_gp0(e);
	}
	e->cpu->regs.rax = (uint32_t) v;
	e->cpu->regs.rdx = v >> 32;
}

static void emu_wrmsr(struct emu *e)
{
	struct shadow_pcb *p = &e->cpu->pcb;
	uint64_t v = (uint32_t) e->cpu->regs.rax | (uint64_t) (uint32_t) e->cpu->regs.rdx << 32;
	uint32_t msr = e->cpu->regs.rcx;

	switch (msr) {
	case X86_MSR_EFER: {
		if (v & ~EFER_WRITABLE)
			return emu_gp0(e);
		if (((v ^ p->efer) & X86_EFER_LME) && (p->cr0 & X86_CR0_PG))
			return emu_gp0(e);
		uint64_t nv = (v & ~X86_EFER_LMA) | (p->efer & X86_EFER_LMA);   /* LMA is read-only */
		uint64_t changed = nv ^ p->efer;
		p->efer = nv;
		if ((changed & X86_EFER_NXE) && e->env->paging_changed)
			e->env->paging_changed(e->env->ctx);
		return;
	}
	case X86_MSR_STAR: p->star = v; return;
	case X86_MSR_SFMASK:
		p->sfmask = v;   /* all 64 bits kept, as KVM and QEMU do; syscall uses 31:0 */
		return;
	case X86_MSR_LSTAR:
	case X86_MSR_CSTAR:
	case X86_MSR_FS_BASE:
	case X86_MSR_GS_BASE:
	case X86_MSR_KERNEL_GS_BASE:
		if (!x86_canonical(v))
			return emu_gp0(e);
		*(msr == X86_MSR_LSTAR ? &p->lstar : msr == X86_MSR_CSTAR ? &p->cstar
		  : msr == X86_MSR_FS_BASE ? &p->fs_base : msr == X86_MSR_GS_BASE ? &p->gs_base
		  : &p->kernel_gs_base) = v;
		return;
	case SHADOW_HC_MSR:
		/* The paravirtual "restore IF" (popf cannot be made to trap). */
		emu_set_mnemonic(e->out, "hc restore_if");
		if (v > 1)
			return emu_gp0(e);
		emu_set_if(e->cpu, v == 1);
		return;
	default:
		return emu_gp0(e);   /* IA32_TSC included: read-only here */
	}
}

/* --- port I/O ---------------------------------------------------------------------------- */

/* At virtual CPL3, the guest's TSS I/O bitmap decides (io_permission.c). */
static int io_allowed(struct emu *e, uint16_t port, unsigned size)
{
	struct shadow_fault f;
	int r = io_permitted(e->cpu, e->env, port, size, &f);

	if (r == -EFAULT)
		emu_raise_fault(e, &f);
	else if (r < 0)
		emu_gp0(e);
	return r;
}

static uint32_t pio_in(struct emu *e, uint16_t port, unsigned size)
{
	uint32_t data = 0;
	/* Nothing there reads as all ones, like a PC's floating bus. */
	if (e->env->pio(e->env->ctx, port, &data, size, false) < 0)
		data = ~0u;
	return data & (uint32_t) x86_size_mask(size);
}

static void pio_out(struct emu *e, uint16_t port, uint32_t data, unsigned size)
{
	/* A write nobody decodes is dropped, as on a PC. */
	(void) e->env->pio(e->env->ctx, port, &data, size, true);
}

static int port_operand(struct emu *e, const ZydisDecodedOperand *op, uint16_t *ret)
{
	if (op && op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		*ret = op->imm.value.u & 0xff;
		return 0;
	}
	if (op && op->type == ZYDIS_OPERAND_TYPE_REGISTER && op->reg.value == ZYDIS_REGISTER_DX) {
		*ret = e->cpu->regs.rdx & 0xffff;
		return 0;
	}
	emu_ud(e);
	return -EINVAL;
}

static void emu_in(struct emu *e)
{
	const ZydisDecodedOperand *dst = emu_operand(e, 0);
	uint16_t port;
	unsigned size = dst ? x86_gpr_size(dst->reg.value) : 0;

	if (port_operand(e, emu_operand(e, 1), &port) < 0)
		return;
	if (!dst || dst->type != ZYDIS_OPERAND_TYPE_REGISTER || (size != 1 && size != 2 && size != 4))
		return emu_ud(e);
	if (io_allowed(e, port, size) < 0)
		return;
	x86_gpr_write(&e->cpu->regs, dst->reg.value, pio_in(e, port, size));
}

static void emu_out(struct emu *e)
{
	const ZydisDecodedOperand *src = emu_operand(e, 1);
	uint16_t port;
	uint64_t v;
	unsigned size = src ? x86_gpr_size(src->reg.value) : 0;

	if (port_operand(e, emu_operand(e, 0), &port) < 0)
		return;
	if (size != 1 && size != 2 && size != 4)
		return emu_ud(e);
	if (io_allowed(e, port, size) < 0 || emu_op_read(e, src, &v) < 0)
		return;
	pio_out(e, port, v, size);
}

/* ins/outs, with rep bounded to STRING_IO_MAX_BYTES per trap: an unfinished
 * rep leaves RIP on the instruction, which traps again to continue. */
static void string_io(struct emu *e, bool is_in)
{
	struct kvm_regs *r = &e->cpu->regs;
	unsigned size = e->insn.d.operand_width / 8;
	unsigned aw = e->insn.d.address_width;
	uint64_t amask = aw == 32 ? 0xffffffffULL : ~0ULL;
	bool rep = e->insn.d.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPNE);
	uint16_t port = r->rdx & 0xffff;
	uint64_t seg_base = 0;

	if (size != 1 && size != 2 && size != 4)
		return emu_ud(e);
	if (io_allowed(e, port, size) < 0)
		return;
	if (!is_in) {
		/* outs honours an FS/GS override; ins always writes ES:[rdi]. */
		for (unsigned i = 0; i < e->insn.d.operand_count && i < ZYDIS_MAX_OPERAND_COUNT; i++)
			if (x86_mem_has_fs_gs(&e->insn.op[i]))
				seg_base = e->insn.op[i].mem.segment == ZYDIS_REGISTER_FS ? e->cpu->pcb.fs_base
											   : e->cpu->pcb.gs_base;
	}
	uint64_t count = rep ? (r->rcx & amask) : 1;
	uint64_t n = count < STRING_IO_MAX_BYTES / size ? count : STRING_IO_MAX_BYTES / size;
	uint64_t step = (r->rflags & X86_RFLAGS_DF) ? -(uint64_t) size : size;
	__u64 *index = is_in ? &r->rdi : &r->rsi;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t va = ((*index & amask) + seg_base);
		uint8_t buf[4];
		if (is_in) {
			emu_store_le(buf, pio_in(e, port, size), size);
			if (emu_mem_write(e, va, buf, size) < 0)
				return;   /* progress so far stays, like hardware */
		} else {
			if (emu_mem_read(e, va, buf, size) < 0)
				return;
			pio_out(e, port, emu_load_le(buf, size), size);
		}
		emu_set_addr_reg(index, (*index + step) & amask, aw);
		if (rep)
			emu_set_addr_reg(&r->rcx, (r->rcx - 1) & amask, aw);
	}
	if (rep && (r->rcx & amask) != 0)
		e->rip_set = true;   /* not finished: run it again */
}

static void emu_ins(struct emu *e) { string_io(e, true); }
static void emu_outs(struct emu *e) { string_io(e, false); }

/* --- the table ------------------------------------------------------------------------------------ */

static const struct emu_op emu_ops[] = {
	{ ZYDIS_MNEMONIC_CLI,    true,  emu_cli },
	{ ZYDIS_MNEMONIC_STI,    true,  emu_sti },
	{ ZYDIS_MNEMONIC_HLT,    true,  emu_hlt },
	{ ZYDIS_MNEMONIC_MOV,    false, emu_mov },     /* checks CPL for CRn itself */
	{ ZYDIS_MNEMONIC_LGDT,   true,  emu_lgdt },
	{ ZYDIS_MNEMONIC_LIDT,   true,  emu_lidt },
	{ ZYDIS_MNEMONIC_SGDT,   false, emu_sgdt },    /* UMIP decides */
	{ ZYDIS_MNEMONIC_SIDT,   false, emu_sidt },
	{ ZYDIS_MNEMONIC_STR,    false, emu_str },
	{ ZYDIS_MNEMONIC_SLDT,   false, emu_sldt },
	{ ZYDIS_MNEMONIC_SMSW,   false, emu_smsw },
	{ ZYDIS_MNEMONIC_LMSW,   true,  emu_lmsw },
	{ ZYDIS_MNEMONIC_LTR,    true,  emu_ltr },
	{ ZYDIS_MNEMONIC_INVLPG, true,  emu_invlpg },
	{ ZYDIS_MNEMONIC_RDMSR,  true,  emu_rdmsr },
	{ ZYDIS_MNEMONIC_WRMSR,  true,  emu_wrmsr },
	{ ZYDIS_MNEMONIC_IN,     false, emu_in },
	{ ZYDIS_MNEMONIC_OUT,    false, emu_out },
	{ ZYDIS_MNEMONIC_INSB,   false, emu_ins },
	{ ZYDIS_MNEMONIC_INSW,   false, emu_ins },
	{ ZYDIS_MNEMONIC_INSD,   false, emu_ins },
	{ ZYDIS_MNEMONIC_OUTSB,  false, emu_outs },
	{ ZYDIS_MNEMONIC_OUTSW,  false, emu_outs },
	{ ZYDIS_MNEMONIC_OUTSD,  false, emu_outs },
	{ ZYDIS_MNEMONIC_LLDT,   true,  emu_lldt },
	{ ZYDIS_MNEMONIC_POP,    false, emu_pop_sreg },          /* pop fs / pop gs */
	{ ZYDIS_MNEMONIC_LSS,    false, emu_load_far_pointer },
	{ ZYDIS_MNEMONIC_LFS,    false, emu_load_far_pointer },
	{ ZYDIS_MNEMONIC_LGS,    false, emu_load_far_pointer },
	{ ZYDIS_MNEMONIC_RET,    false, emu_far_ret },           /* far forms only */
	{ ZYDIS_MNEMONIC_JMP,    false, emu_far_jmp_call },      /* far forms only */
	{ ZYDIS_MNEMONIC_CALL,   false, emu_far_jmp_call },
	{ ZYDIS_MNEMONIC_IRETQ,  false, emu_iret },    /* legal at CPL3 to CPL3 */
	{ ZYDIS_MNEMONIC_IRETD,  false, emu_iret },
	{ ZYDIS_MNEMONIC_IRET,   false, emu_iret },
	{ ZYDIS_MNEMONIC_SYSRET, false, emu_sysret },  /* #UD (SCE) before #GP (CPL) */
	{ ZYDIS_MNEMONIC_SWAPGS, true,  emu_swapgs },
	{ ZYDIS_MNEMONIC_CPUID,  false, emu_cpuid },   /* traps only with CPUID faulting */
	{ ZYDIS_MNEMONIC_WBINVD, true,  emu_nop },
	{ ZYDIS_MNEMONIC_INVD,   true,  emu_nop },
	{ ZYDIS_MNEMONIC_CLTS,   true,  emu_clts },
	{ ZYDIS_MNEMONIC_INT,    false, emu_int },
	{ ZYDIS_MNEMONIC_INT3,   false, emu_int },
};

static const struct emu_op *find_op(ZydisMnemonic m)
{
	for (size_t i = 0; i < sizeof(emu_ops) / sizeof(emu_ops[0]); i++)
		if (emu_ops[i].mnemonic == m)
			return &emu_ops[i];
	return NULL;
}

void emu_privileged(struct shadow_cpu *cpu, const struct shadow_env *env, unsigned vector,
		    struct emu_outcome *out)
{
	struct emu e;

	emu_begin(&e, cpu, env, out);
	if (emu_fetch(&e) < 0)
		return;
	const struct emu_op *op = find_op(e.insn.d.mnemonic);
	if (!op) {
		out->status = EMU_NOT_PRIVILEGED;
		return;
	}
	if (op->privileged && cpu->pcb.vcpl != 0)
		return emu_gp0(&e);   /* the guest's own business: its #GP handler */
	op->run(&e);
	if ((out->status == EMU_DONE || out->status == EMU_HALT) && !e.rip_set)
		cpu->regs.rip = e.insn.next_rip;
}

