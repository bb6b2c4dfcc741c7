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

#include "vmmd/shadow/decode.h"
#include "vmmd/shadow/emulate.h"

#define STRING_IO_MAX_BYTES  (64u * 1024)   /* per trap; rep resumes by re-trapping */
#define PAGE_4K              4096u

#define CR0_WRITABLE (X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | X86_CR0_NE | \
		      X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)
#define CR0_PAGING   (X86_CR0_PE | X86_CR0_WP | X86_CR0_PG | X86_CR0_CD)
/* VME..UMIP, FSGSBASE, OSXSAVE, SMEP, SMAP. Not offered: LA57, VMXE, SMXE, PCIDE, PKE, CET. */
#define CR4_WRITABLE (0xfffULL | X86_CR4_FSGSBASE | X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_SMAP)
#define CR4_PAGING   (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_SMEP | X86_CR4_SMAP)
#define EFER_WRITABLE (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)
#define CR3_RESERVED 0xfff0000000000000ULL   /* above MAXPHYADDR 52; bit 63 needs PCIDE */

/* Flags an iretq at CPL0 may load; VM, VIF, VIP are never taken from a frame. */
#define RFLAGS_IRET_MASK 0x257fd5ULL   /* CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID */
#define RFLAGS_SYSRET_MASK 0x3c7fd7ULL
#define RFLAGS_STATUS (0x8d5ULL)       /* CF PF AF ZF SF OF */

struct emu {
	struct shadow_cpu *cpu;
	const struct shadow_env *env;
	struct emu_outcome *out;
	struct x86_insn insn;
	unsigned user;        /* SHADOW_ACC_USER when the guest is at virtual CPL3 */
	bool rip_set;         /* the handler set RIP itself (iretq, sysret, unfinished rep) */
};

struct emu_op {
	ZydisMnemonic mnemonic;
	bool privileged;      /* #GP(0) at virtual CPL3 */
	void (*run)(struct emu *e);
};

/* --- outcomes -------------------------------------------------------------- */

static void raise_exc(struct emu *e, unsigned vector, uint32_t error)
{
	e->out->status = EMU_EXCEPTION;
	e->out->vector = vector;
	e->out->has_error = x86_vector_has_error(vector);
	e->out->error = e->out->has_error ? error : 0;
}

static void raise_fault(struct emu *e, const struct shadow_fault *f)
{
	raise_exc(e, f->vector, f->error);
	e->out->cr2 = f->cr2;
}

static void gp0(struct emu *e)
{
	raise_exc(e, X86_GP, 0);
}

static void set_mnemonic(struct emu_outcome *out, const char *name)
{
	snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", name);
}

/* --- guest memory ------------------------------------------------------------ */

static int mem_access(struct emu *e, uint64_t va, void *buf, size_t len, bool write, bool supervisor)
{
	unsigned access = (write ? SHADOW_ACC_WRITE : 0) | (supervisor ? 0 : e->user);
	struct shadow_fault f = { .vector = X86_PF, .error = access | 1, .cr2 = va };
	int r;

	if (len == 0)
		return 0;
	if (!x86_canonical(va) || !x86_canonical(va + len - 1) || va + len - 1 < va) {
		gp0(e);
		return -EFAULT;
	}
	if (write)
		r = e->env->write_virt(e->env->ctx, va, buf, len, access, &f);
	else
		r = e->env->read_virt(e->env->ctx, va, buf, len, access, &f);
	if (r < 0) {
		raise_fault(e, &f);
		return -EFAULT;
	}
	return 0;
}

static int mem_read(struct emu *e, uint64_t va, void *buf, size_t len)
{
	return mem_access(e, va, buf, len, false, false);
}

static int mem_write(struct emu *e, uint64_t va, const void *buf, size_t len)
{
	return mem_access(e, va, (void *) buf, len, true, false);
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

static void store_le(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size && i < 8; i++)
		p[i] = v >> (8 * i);
}

/* --- operands ------------------------------------------------------------------ */

static const ZydisDecodedOperand *operand(struct emu *e, unsigned i)
{
	return x86_operand(&e->insn, i);
}

static bool op_is_reg_class(const ZydisDecodedOperand *op, ZydisRegisterClass c)
{
	return op && op->type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op->reg.value) == c;
}

/* Read a register, immediate or memory operand of at most 8 bytes. On a fault the
 * outcome is set and -EFAULT returned. */
static int op_read(struct emu *e, const ZydisDecodedOperand *op, uint64_t *ret)
{
	unsigned size = op ? op->size / 8 : 0;
	uint64_t va;
	uint8_t buf[8];

	if (!op || size == 0 || size > 8) {
		raise_exc(e, X86_UD, 0);
		return -EINVAL;
	}
	switch (op->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		if (x86_gpr_read(&e->cpu->regs, op->reg.value, ret) < 0) {
			raise_exc(e, X86_UD, 0);
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
			raise_exc(e, X86_UD, 0);
			return -EINVAL;
		}
		if (mem_read(e, va, buf, size) < 0)
			return -EFAULT;
		*ret = load_le(buf, size);
		return 0;
	default:
		raise_exc(e, X86_UD, 0);
		return -EINVAL;
	}
}

/* Write a register (x86 merge/zero-extend rules) or memory operand. */
static int op_write(struct emu *e, const ZydisDecodedOperand *op, uint64_t value)
{
	unsigned size = op ? op->size / 8 : 0;
	uint64_t va;
	uint8_t buf[8];

	if (!op || size == 0 || size > 8) {
		raise_exc(e, X86_UD, 0);
		return -EINVAL;
	}
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		if (x86_gpr_write(&e->cpu->regs, op->reg.value, value) < 0) {
			raise_exc(e, X86_UD, 0);
			return -EINVAL;
		}
		return 0;
	}
	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || x86_mem_linear(e->cpu, &e->insn, op, &va) < 0) {
		raise_exc(e, X86_UD, 0);
		return -EINVAL;
	}
	store_le(buf, value, size);
	return mem_write(e, va, buf, size);
}

/* The linear address of operand i, which must be a memory operand. */
static int op_address(struct emu *e, unsigned i, uint64_t *ret)
{
	if (x86_mem_linear(e->cpu, &e->insn, operand(e, i), ret) < 0) {
		raise_exc(e, X86_UD, 0);
		return -EINVAL;
	}
	return 0;
}

/* --- flags ---------------------------------------------------------------------- */

static void set_rflags_if(struct shadow_cpu *cpu, bool on)
{
	cpu->pcb.vif = on;
	if (on)
		cpu->regs.rflags |= X86_RFLAGS_IF;
	else
		cpu->regs.rflags &= ~X86_RFLAGS_IF;
}

/* The real RFLAGS for a virtual value: IF = vif, IOPL 0, never VM. */
static uint64_t real_rflags(uint64_t flags, bool vif)
{
	flags &= ~(X86_RFLAGS_IOPL | X86_RFLAGS_VM | X86_RFLAGS_IF | (3ULL << 19) /* VIF, VIP */);
	return flags | X86_RFLAGS_FIXED | (vif ? X86_RFLAGS_IF : 0);
}

/* --- control registers ----------------------------------------------------------- */

static void write_cr0(struct emu *e, uint64_t v)
{
	struct shadow_pcb *p = &e->cpu->pcb;

	if (v >> 32)
		return gp0(e);
	/* Writes to reserved bits 31:0 are ignored; ET is hardwired to 1. */
	uint64_t nv = (v & CR0_WRITABLE) | X86_CR0_ET;
	if ((nv & X86_CR0_PG) && !(nv & X86_CR0_PE))
		return gp0(e);
	if ((nv & X86_CR0_NW) && !(nv & X86_CR0_CD))
		return gp0(e);
	/* Leaving long mode (or protected mode) from 64-bit code is a #GP. */
	if ((p->efer & X86_EFER_LMA) && (!(nv & X86_CR0_PG) || !(nv & X86_CR0_PE)))
		return gp0(e);
	if (!(p->cr0 & X86_CR0_PG) && (nv & X86_CR0_PG) && (p->efer & X86_EFER_LME) && !(p->cr4 & X86_CR4_PAE))
		return gp0(e);
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
		return gp0(e);
	if ((p->efer & X86_EFER_LMA) && !(v & X86_CR4_PAE))
		return gp0(e);
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
			return gp0(e);
		/* The callback sees the old pcb.cr3 (a guest page-table switch). */
		if (e->env->cr3_write)
			e->env->cr3_write(e->env->ctx, v);
		p->cr3 = v;
		return;
	case 4:
		return write_cr4(e, v);
	case 8:
		if (v & ~0xfULL)
			return gp0(e);
		p->tpr = v;
		return;
	default:
		raise_exc(e, X86_UD, 0);
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
		raise_exc(e, X86_UD, 0);
		return -EINVAL;
	}
}

static unsigned cr_number(ZydisRegister reg)
{
	return (unsigned) (reg - ZYDIS_REGISTER_CR0);
}

/* --- segment registers --------------------------------------------------------------- */

static void mov_to_sreg(struct emu *e, ZydisRegister sreg, const ZydisDecodedOperand *src)
{
	struct shadow_pcb *p = &e->cpu->pcb;
	uint64_t v;

	if (op_read(e, src, &v) < 0)
		return;
	uint16_t sel = v;
	switch (sreg) {
	case ZYDIS_REGISTER_SS:
		set_mnemonic(e->out, "mov ss");
		if ((sel & ~3u) == 0 ? p->vcpl == 3 : (sel & 3u) != p->vcpl)
			return raise_exc(e, X86_GP, sel & 0xfffc);
		p->ss = sel;
		e->out->irq_shadow = true;
		return;
	case ZYDIS_REGISTER_DS: set_mnemonic(e->out, "mov ds"); p->ds = sel; return;
	case ZYDIS_REGISTER_ES: set_mnemonic(e->out, "mov es"); p->es = sel; return;
	case ZYDIS_REGISTER_FS: set_mnemonic(e->out, "mov fs"); p->fs = sel; return;
	case ZYDIS_REGISTER_GS: set_mnemonic(e->out, "mov gs"); p->gs = sel; return;
	default:
		raise_exc(e, X86_UD, 0);
	}
}

static void emu_mov(struct emu *e)
{
	const ZydisDecodedOperand *dst = operand(e, 0), *src = operand(e, 1);
	uint64_t v;

	if (op_is_reg_class(dst, ZYDIS_REGCLASS_CONTROL)) {
		if (e->cpu->pcb.vcpl != 0)
			return gp0(e);
		unsigned n = cr_number(dst->reg.value);
		char name[16];
		snprintf(name, sizeof(name), "mov cr%u", n % 100);
		set_mnemonic(e->out, name);
		if (x86_gpr_read(&e->cpu->regs, src ? src->reg.value : ZYDIS_REGISTER_NONE, &v) < 0)
			return raise_exc(e, X86_UD, 0);
		return write_cr(e, n, v);
	}
	if (op_is_reg_class(src, ZYDIS_REGCLASS_CONTROL)) {
		if (e->cpu->pcb.vcpl != 0)
			return gp0(e);
		unsigned n = cr_number(src->reg.value);
		char name[16];
		snprintf(name, sizeof(name), "mov from cr%u", n % 100);
		set_mnemonic(e->out, name);
		if (read_cr(e, n, &v) < 0)
			return;
		if (x86_gpr_write(&e->cpu->regs, dst->reg.value, v) < 0)
			return raise_exc(e, X86_UD, 0);
		return;
	}
	if (op_is_reg_class(dst, ZYDIS_REGCLASS_SEGMENT))
		return mov_to_sreg(e, dst->reg.value, src);
	e->out->status = EMU_NOT_PRIVILEGED;
}

/* --- simple privileged instructions ----------------------------------------------------- */

static void emu_cli(struct emu *e)
{
	set_rflags_if(e->cpu, false);
}

static void emu_sti(struct emu *e)
{
	/* Interrupts stay blocked for one more instruction when sti sets IF:
	 * reported as irq_shadow; the caller must not inject before resuming. */
	if (!e->cpu->pcb.vif)
		e->out->irq_shadow = true;
	set_rflags_if(e->cpu, true);
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

	if (op_address(e, 0, &va) < 0)
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
	const ZydisDecodedOperand *imm = operand(e, 0);

	/* Not emulated: the caller reflects it as a software interrupt returning
	 * to next_rip (the host turns `int n` at CPL3 into #UD or #GP). */
	e->out->status = EMU_NOT_PRIVILEGED;
	e->out->vector = e->insn.d.mnemonic == ZYDIS_MNEMONIC_INT3 ? X86_BP
			 : (imm && imm->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (unsigned) (imm->imm.value.u & 0xff) : 0);
	set_mnemonic(e->out, "int");
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

	if (op_address(e, 0, &va) < 0 || mem_read(e, va, buf, sizeof(buf)) < 0)
		return;
	uint64_t base = load_le(buf + 2, 8);
	if (!x86_canonical(base))
		return gp0(e);
	dtr->limit = load_le(buf, 2);
	dtr->base = base;
}

static void store_dtr(struct emu *e, const struct shadow_dtr *dtr)
{
	uint64_t va;
	uint8_t buf[10];

	if (umip_blocks(e))
		return gp0(e);
	if (op_address(e, 0, &va) < 0)
		return;
	store_le(buf, dtr->limit, 2);
	store_le(buf + 2, dtr->base, 8);
	mem_write(e, va, buf, sizeof(buf));
}

static void emu_lgdt(struct emu *e) { load_dtr(e, &e->cpu->pcb.gdtr); }
static void emu_lidt(struct emu *e) { load_dtr(e, &e->cpu->pcb.idtr); }
static void emu_sgdt(struct emu *e) { store_dtr(e, &e->cpu->pcb.gdtr); }
static void emu_sidt(struct emu *e) { store_dtr(e, &e->cpu->pcb.idtr); }

/* str/sldt/smsw: a register destination gets the operand size (32-bit zero-extends), memory 16 bits. */
static void store_small(struct emu *e, uint64_t value)
{
	const ZydisDecodedOperand *dst = operand(e, 0);

	if (umip_blocks(e))
		return gp0(e);
	op_write(e, dst, value);
}

static void emu_str(struct emu *e) { store_small(e, e->cpu->pcb.tr); }
static void emu_sldt(struct emu *e) { store_small(e, 0); }   /* no LDT: LDTR is null */
static void emu_smsw(struct emu *e) { store_small(e, e->cpu->pcb.cr0); }

static void emu_lmsw(struct emu *e)
{
	uint64_t v;

	if (op_read(e, operand(e, 0), &v) < 0)
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

	if (op_read(e, operand(e, 0), &v) < 0)
		return;
	uint16_t sel = v, err = sel & 0xfffc;
	if ((sel & ~3u) == 0)
		return gp0(e);
	if ((sel & 4) || (uint32_t) (sel & ~7u) + 15 > p->gdtr.limit)   /* no LDT */
		return raise_exc(e, X86_GP, err);
	uint64_t dva = p->gdtr.base + (sel & ~7u);
	/* Snapshot the descriptor once; decide on the copy. */
	if (mem_access(e, dva, d, sizeof(d), false, true) < 0)
		return;
	if ((d[5] & 0x1f) != 0x09)                 /* S = 0, type = available 64-bit TSS */
		return raise_exc(e, X86_GP, err);
	if (!(d[5] & 0x80))
		return raise_exc(e, X86_NP, err);
	if ((d[13] & 0x1f) != 0)                   /* the upper half's type field must be 0 */
		return raise_exc(e, X86_GP, err);
	uint64_t base = load_le(d + 2, 3) | (uint64_t) d[7] << 24 | load_le(d + 8, 4) << 32;
	uint32_t limit = load_le(d, 2) | (uint32_t) (d[6] & 0xf) << 16;
	if (d[6] & 0x80)
		limit = limit << 12 | 0xfff;
	if (!x86_canonical(base))
		return raise_exc(e, X86_GP, err);
	/* Mark it busy in the guest's GDT, as the hardware does. */
	uint8_t busy = d[5] | 0x02;
	if (mem_access(e, dva + 5, &busy, 1, true, true) < 0)
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
		return gp0(e);
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
			return gp0(e);
		if (((v ^ p->efer) & X86_EFER_LME) && (p->cr0 & X86_CR0_PG))
			return gp0(e);
		uint64_t nv = (v & ~X86_EFER_LMA) | (p->efer & X86_EFER_LMA);   /* LMA is read-only */
		uint64_t changed = nv ^ p->efer;
		p->efer = nv;
		if ((changed & X86_EFER_NXE) && e->env->paging_changed)
			e->env->paging_changed(e->env->ctx);
		return;
	}
	case X86_MSR_STAR: p->star = v; return;
	case X86_MSR_SFMASK:
		if (v >> 32)
			return gp0(e);
		p->sfmask = v;
		return;
	case X86_MSR_LSTAR:
	case X86_MSR_CSTAR:
	case X86_MSR_FS_BASE:
	case X86_MSR_GS_BASE:
	case X86_MSR_KERNEL_GS_BASE:
		if (!x86_canonical(v))
			return gp0(e);
		*(msr == X86_MSR_LSTAR ? &p->lstar : msr == X86_MSR_CSTAR ? &p->cstar
		  : msr == X86_MSR_FS_BASE ? &p->fs_base : msr == X86_MSR_GS_BASE ? &p->gs_base
		  : &p->kernel_gs_base) = v;
		return;
	case SHADOW_HC_MSR:
		/* The paravirtual "restore IF" (popf cannot be made to trap). */
		set_mnemonic(e->out, "hc restore_if");
		if (v > 1)
			return gp0(e);
		set_rflags_if(e->cpu, v == 1);
		return;
	default:
		return gp0(e);   /* IA32_TSC included: read-only here */
	}
}

/* --- port I/O ---------------------------------------------------------------------------- */

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
	raise_exc(e, X86_UD, 0);
	return -EINVAL;
}

static void emu_in(struct emu *e)
{
	const ZydisDecodedOperand *dst = operand(e, 0);
	uint16_t port;
	unsigned size = dst ? x86_gpr_size(dst->reg.value) : 0;

	if (port_operand(e, operand(e, 1), &port) < 0)
		return;
	if (!dst || dst->type != ZYDIS_OPERAND_TYPE_REGISTER || (size != 1 && size != 2 && size != 4))
		return raise_exc(e, X86_UD, 0);
	x86_gpr_write(&e->cpu->regs, dst->reg.value, pio_in(e, port, size));
}

static void emu_out(struct emu *e)
{
	const ZydisDecodedOperand *src = operand(e, 1);
	uint16_t port;
	uint64_t v;
	unsigned size = src ? x86_gpr_size(src->reg.value) : 0;

	if (port_operand(e, operand(e, 0), &port) < 0)
		return;
	if (size != 1 && size != 2 && size != 4)
		return raise_exc(e, X86_UD, 0);
	if (op_read(e, src, &v) < 0)
		return;
	pio_out(e, port, v, size);
}

/* Write a string-instruction index/count register with the address size's rules. */
static void set_addr_reg(__u64 *reg, uint64_t v, unsigned address_width)
{
	*reg = address_width == 32 ? (uint32_t) v : v;
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
		return raise_exc(e, X86_UD, 0);
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
			store_le(buf, pio_in(e, port, size), size);
			if (mem_write(e, va, buf, size) < 0)
				return;   /* progress so far stays, like hardware */
		} else {
			if (mem_read(e, va, buf, size) < 0)
				return;
			pio_out(e, port, load_le(buf, size), size);
		}
		set_addr_reg(index, (*index + step) & amask, aw);
		if (rep)
			set_addr_reg(&r->rcx, (r->rcx - 1) & amask, aw);
	}
	if (rep && (r->rcx & amask) != 0)
		e->rip_set = true;   /* not finished: run it again */
}

static void emu_ins(struct emu *e) { string_io(e, true); }
static void emu_outs(struct emu *e) { string_io(e, false); }

/* --- returns to the guest's user mode --------------------------------------------------------- */

static void emu_iret(struct emu *e)
{
	struct shadow_cpu *c = e->cpu;
	unsigned w = e->insn.d.operand_width / 8;
	uint8_t frame[40];
	uint64_t v[5];

	if (w != 2 && w != 4 && w != 8)
		return raise_exc(e, X86_UD, 0);
	/* iretq at virtual CPL3 is legal (same privilege); it traps only where the
	 * frame names guest selectors the real GDT lacks. */
	if (mem_read(e, c->regs.rsp, frame, 5 * w) < 0)
		return;
	for (unsigned i = 0; i < 5; i++)
		v[i] = load_le(frame + i * w, w);
	uint64_t rip = v[0], flags = v[2], rsp = v[3];
	uint16_t cs = v[1], ss = v[4];
	unsigned rpl = cs & 3;
	if ((cs & ~3u) == 0)
		return gp0(e);
	if (rpl == 1 || rpl == 2 || rpl < c->pcb.vcpl)
		return raise_exc(e, X86_GP, cs & 0xfffc);
	if (rpl == 3 ? (ss & ~3u) == 0 : false)
		return gp0(e);
	if ((ss & 3u) != rpl && (ss & ~3u) != 0)
		return raise_exc(e, X86_GP, ss & 0xfffc);
	if (!x86_canonical(rip))
		return gp0(e);

	uint64_t mask = RFLAGS_IRET_MASK;
	if (c->pcb.vcpl != 0)   /* CPL > IOPL (virtual IOPL is 0): IF and IOPL stay */
		mask &= ~(X86_RFLAGS_IF | X86_RFLAGS_IOPL);
	if (w == 2)
		mask &= 0xffff;
	uint64_t nf = (c->regs.rflags & ~mask) | (flags & mask);
	bool vif = c->pcb.vcpl == 0 ? (nf & X86_RFLAGS_IF) != 0 : c->pcb.vif;

	c->regs.rip = rip;
	c->regs.rsp = rsp;
	c->regs.rflags = real_rflags(nf, vif);
	c->pcb.vif = vif;
	c->pcb.cs = cs;
	c->pcb.ss = ss;
	e->out->cpl_changed = c->pcb.vcpl != rpl;
	c->pcb.vcpl = rpl;
	e->rip_set = true;
}

static void emu_sysret(struct emu *e)
{
	struct shadow_cpu *c = e->cpu;
	bool q = e->insn.d.operand_width == 64;

	set_mnemonic(e->out, q ? "sysretq" : "sysret");
	if (!(c->pcb.efer & X86_EFER_SCE))
		return raise_exc(e, X86_UD, 0);
	if (c->pcb.vcpl != 0)
		return gp0(e);
	uint64_t rip = q ? c->regs.rcx : (uint32_t) c->regs.rcx;
	if (!x86_canonical(rip))
		return gp0(e);
	uint16_t base = c->pcb.star >> 48;
	uint64_t flags = (c->regs.r11 & RFLAGS_SYSRET_MASK) | X86_RFLAGS_FIXED;
	bool vif = flags & X86_RFLAGS_IF;

	c->regs.rip = rip;
	c->regs.rflags = real_rflags(flags, vif);
	c->pcb.vif = vif;
	c->pcb.cs = (uint16_t) (base + (q ? 16 : 0)) | 3;
	c->pcb.ss = (uint16_t) (base + 8) | 3;
	c->pcb.vcpl = 3;
	e->out->cpl_changed = true;
	e->rip_set = true;
}

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
	{ ZYDIS_MNEMONIC_IN,     true,  emu_in },
	{ ZYDIS_MNEMONIC_OUT,    true,  emu_out },
	{ ZYDIS_MNEMONIC_INSB,   true,  emu_ins },
	{ ZYDIS_MNEMONIC_INSW,   true,  emu_ins },
	{ ZYDIS_MNEMONIC_INSD,   true,  emu_ins },
	{ ZYDIS_MNEMONIC_OUTSB,  true,  emu_outs },
	{ ZYDIS_MNEMONIC_OUTSW,  true,  emu_outs },
	{ ZYDIS_MNEMONIC_OUTSD,  true,  emu_outs },
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

/* Fetch and decode at RIP into e->insn; on failure the outcome says why. */
static int fetch(struct emu *e)
{
	struct shadow_fault f;
	int r = x86_fetch_decode(e->cpu, e->env, &e->insn, &f);

	if (r == -EFAULT) {
		set_mnemonic(e->out, "(fetch)");
		raise_fault(e, &f);
		return r;
	}
	if (r < 0) {
		set_mnemonic(e->out, "(bad)");
		raise_exc(e, X86_UD, 0);
		return r;
	}
	e->out->next_rip = e->insn.next_rip;
	set_mnemonic(e->out, ZydisMnemonicGetString(e->insn.d.mnemonic) ?: "?");
	return 0;
}

void emu_privileged(struct shadow_cpu *cpu, const struct shadow_env *env, unsigned vector,
		    struct emu_outcome *out)
{
	struct emu e = { .cpu = cpu, .env = env, .out = out, .user = cpu->pcb.vcpl == 3 ? SHADOW_ACC_USER : 0 };

	memset(out, 0, sizeof(*out));
	out->status = EMU_DONE;
	if (fetch(&e) < 0)
		return;
	const struct emu_op *op = find_op(e.insn.d.mnemonic);
	if (!op) {
		out->status = EMU_NOT_PRIVILEGED;
		return;
	}
	if (op->privileged && cpu->pcb.vcpl != 0)
		return gp0(&e);   /* the guest's own business: its #GP handler */
	op->run(&e);
	if ((out->status == EMU_DONE || out->status == EMU_HALT) && !e.rip_set)
		cpu->regs.rip = e.insn.next_rip;
}

/* --- data accesses to MMIO and write-protected page tables --------------------------------------- */

static void flags_logic(struct kvm_regs *r, uint64_t res, unsigned size)
{
	res &= x86_size_mask(size);
	uint64_t f = r->rflags & ~RFLAGS_STATUS;
	if (res == 0)
		f |= 1ULL << 6;                                     /* ZF */
	if (res >> (size * 8 - 1) & 1)
		f |= 1ULL << 7;                                     /* SF */
	if (!(__builtin_popcount((unsigned) (res & 0xff)) & 1))
		f |= 1ULL << 2;                                     /* PF */
	r->rflags = f;
}

/* Flags of a - b (cmp, cmpxchg). */
static void flags_sub(struct kvm_regs *r, uint64_t a, uint64_t b, unsigned size)
{
	uint64_t m = x86_size_mask(size), sign = 1ULL << (size * 8 - 1);
	a &= m;
	b &= m;
	uint64_t res = (a - b) & m;
	flags_logic(r, res, size);
	if (a < b)
		r->rflags |= 1ULL << 0;                             /* CF */
	if ((a ^ b) & (a ^ res) & sign)
		r->rflags |= 1ULL << 11;                            /* OF */
	if ((a ^ b ^ res) & 0x10)
		r->rflags |= 1ULL << 4;                             /* AF */
}

struct data_op {
	struct emu *e;
	const struct emu_data_target *target;
	uint64_t gpa;
	unsigned size;
};

static uint64_t data_read(struct data_op *d)
{
	uint8_t buf[8] = { 0 };
	/* A target that fails a read returns all ones (like an unclaimed bus cycle). */
	if (d->target->access(d->target->ctx, d->gpa, buf, d->size, false) < 0)
		memset(buf, 0xff, sizeof(buf));
	return load_le(buf, d->size);
}

static void data_write(struct data_op *d, uint64_t v)
{
	uint8_t buf[8];
	store_le(buf, v, d->size);
	(void) d->target->access(d->target->ctx, d->gpa, buf, d->size, true);   /* dropped on error */
}

/* Write a loaded value into the destination register operand. */
static int data_to_reg(struct emu *e, const ZydisDecodedOperand *dst, uint64_t v)
{
	if (!dst || dst->type != ZYDIS_OPERAND_TYPE_REGISTER || x86_gpr_write(&e->cpu->regs, dst->reg.value, v) < 0) {
		raise_exc(e, X86_UD, 0);
		return -EINVAL;
	}
	return 0;
}

static void data_stos(struct data_op *d)
{
	struct kvm_regs *r = &d->e->cpu->regs;
	unsigned aw = d->e->insn.d.address_width;
	uint64_t amask = aw == 32 ? 0xffffffffULL : ~0ULL;
	bool rep = d->e->insn.d.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPNE);

	/* One element per trap: a rep that is not finished re-executes. */
	if (rep && (r->rcx & amask) == 0)
		return;
	data_write(d, r->rax);
	uint64_t step = (r->rflags & X86_RFLAGS_DF) ? -(uint64_t) d->size : d->size;
	set_addr_reg(&r->rdi, (r->rdi + step) & amask, aw);
	if (rep) {
		set_addr_reg(&r->rcx, (r->rcx - 1) & amask, aw);
		if (r->rcx & amask)
			d->e->rip_set = true;
	}
}

static void data_execute(struct data_op *d, unsigned mem_index)
{
	struct emu *e = d->e;
	struct kvm_regs *r = &e->cpu->regs;
	const ZydisDecodedOperand *o0 = operand(e, 0), *o1 = operand(e, 1);
	bool mem_is_dst = mem_index == 0;
	uint64_t v, src;

	switch (e->insn.d.mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		if (mem_is_dst) {
			if (op_read(e, o1, &src) < 0)
				return;
			return data_write(d, src);
		}
		data_to_reg(e, o0, data_read(d));
		return;
	case ZYDIS_MNEMONIC_MOVZX:
		if (mem_is_dst)
			break;
		data_to_reg(e, o0, data_read(d));
		return;
	case ZYDIS_MNEMONIC_MOVSX:
	case ZYDIS_MNEMONIC_MOVSXD:
		if (mem_is_dst)
			break;
		data_to_reg(e, o0, x86_sign_extend(data_read(d), d->size));
		return;
	case ZYDIS_MNEMONIC_STOSB:
	case ZYDIS_MNEMONIC_STOSW:
	case ZYDIS_MNEMONIC_STOSD:
	case ZYDIS_MNEMONIC_STOSQ:
		return data_stos(d);
	case ZYDIS_MNEMONIC_XCHG: {
		const ZydisDecodedOperand *reg = mem_is_dst ? o1 : o0;
		if (op_read(e, reg, &src) < 0)
			return;
		v = data_read(d);
		data_write(d, src);
		data_to_reg(e, reg, v);
		return;
	}
	case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_OR:
	case ZYDIS_MNEMONIC_XOR:
	case ZYDIS_MNEMONIC_TEST:
	case ZYDIS_MNEMONIC_CMP: {
		const ZydisDecodedOperand *other = mem_is_dst ? o1 : o0;
		if (op_read(e, other, &src) < 0)
			return;
		v = data_read(d);
		uint64_t a = mem_is_dst ? v : src, b = mem_is_dst ? src : v, res;
		switch (e->insn.d.mnemonic) {
		case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_TEST: res = a & b; break;
		case ZYDIS_MNEMONIC_OR: res = a | b; break;
		case ZYDIS_MNEMONIC_XOR: res = a ^ b; break;
		default:
			flags_sub(r, a, b, d->size);
			return;
		}
		flags_logic(r, res, d->size);
		if (e->insn.d.mnemonic == ZYDIS_MNEMONIC_TEST)
			return;
		if (mem_is_dst)
			data_write(d, res);
		else
			data_to_reg(e, o0, res);
		return;
	}
	case ZYDIS_MNEMONIC_CMPXCHG: {
		/* Not atomic against other vCPUs' direct RAM accesses; MMIO and
		 * page-table writes are serialized by the caller. */
		if (!mem_is_dst || op_read(e, o1, &src) < 0)
			break;
		uint64_t acc = r->rax & x86_size_mask(d->size);
		v = data_read(d);
		flags_sub(r, acc, v, d->size);
		if (acc == v) {
			data_write(d, src);
		} else {
			ZydisRegister accreg = d->size == 1 ? ZYDIS_REGISTER_AL : d->size == 2 ? ZYDIS_REGISTER_AX
					       : d->size == 4 ? ZYDIS_REGISTER_EAX : ZYDIS_REGISTER_RAX;
			x86_gpr_write(r, accreg, v);
		}
		return;
	}
	default:
		break;
	}
	if (e->out->status == EMU_DONE)
		raise_exc(e, X86_UD, 0);   /* a form vmmd does not emulate on MMIO */
}

void emu_data_access(struct shadow_cpu *cpu, const struct shadow_env *env, uint64_t va, uint64_t gpa,
		     const struct emu_data_target *target, struct emu_outcome *out)
{
	struct emu e = { .cpu = cpu, .env = env, .out = out, .user = cpu->pcb.vcpl == 3 ? SHADOW_ACC_USER : 0 };

	memset(out, 0, sizeof(*out));
	out->status = EMU_DONE;
	if (fetch(&e) < 0)
		return;

	/* Exactly one memory operand (movs and friends have two: not here). */
	int mem_index = -1;
	for (unsigned i = 0; i < e.insn.d.operand_count && i < ZYDIS_MAX_OPERAND_COUNT; i++) {
		const ZydisDecodedOperand *op = &e.insn.op[i];
		if (op->type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		if (mem_index >= 0 || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
			return raise_exc(&e, X86_UD, 0);
		mem_index = i;
	}
	if (mem_index < 0)
		return raise_exc(&e, X86_UD, 0);
	const ZydisDecodedOperand *mem = &e.insn.op[mem_index];
	unsigned size = mem->size / 8;
	if (size == 0 || size > 8 || mem->size % 8)
		return raise_exc(&e, X86_UD, 0);

	/* The fault address is the truth; the decoded address only checks that
	 * the instruction is still the one that faulted (another vCPU may have
	 * rewritten it). RIP-relative and FS/GS forms are not cross-checked. */
	if ((va & (PAGE_4K - 1)) + size > PAGE_4K || (gpa & (PAGE_4K - 1)) != (va & (PAGE_4K - 1)))
		return gp0(&e);
	if (!x86_mem_is_rip_relative(mem) && !x86_mem_has_fs_gs(mem)) {
		uint64_t ea;
		if (x86_mem_linear(cpu, &e.insn, mem, &ea) < 0 || ea != va)
			return gp0(&e);
	}

	struct data_op d = { .e = &e, .target = target, .gpa = gpa, .size = size };
	data_execute(&d, (unsigned) mem_index);
	if (out->status == EMU_DONE && !e.rip_set)
		cpu->regs.rip = e.insn.next_rip;
}
