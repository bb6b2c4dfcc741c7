/* SPDX-License-Identifier: MIT */
/*
 * Reflection into the guest's virtual IDT and LSTAR (see reflect.h), done
 * the way a 64-bit CPU delivers an event: gate lookup, privilege checks,
 * stack switch, frame, then the new virtual state. The IDT, the TSS and
 * the kernel stack are guest memory, read and written through the guest's
 * own page tables as supervisor accesses; every gate and stack pointer is
 * snapshotted once and decided on from the copy. Nothing is committed to
 * the virtual CPU until the whole frame is written, so a delivery that
 * faults leaves the CPU as it was and the nested fault is delivered
 * instead, escalating to #DF and then to a triple fault as in the SDM's
 * "conditions for generating a double fault" table.
 */
#include <errno.h>
#include <string.h>

#include "vmmd/shadow/decode.h"
#include "vmmd/shadow/reflect.h"
#include "x86/cpu.h"

#define MAX_DELIVERY_ATTEMPTS 5   /* benign -> contributory -> #DF -> triple, with room to spare */

enum exc_class { EXC_BENIGN, EXC_CONTRIBUTORY, EXC_PAGE_FAULT, EXC_DOUBLE };

static enum exc_class classify(const struct reflect_request *r)
{
	if (r->kind != REFLECT_EXCEPTION)
		return EXC_BENIGN;
	switch (r->vector) {
	case X86_DE: case X86_TS: case X86_NP: case X86_SS: case X86_GP:
		return EXC_CONTRIBUTORY;
	case X86_PF:
		return EXC_PAGE_FAULT;
	case X86_DF:
		return EXC_DOUBLE;
	default:
		return EXC_BENIGN;
	}
}

/* A fault met while delivering: reported at the current RIP (for int n, the
 * int instruction itself, which the caller has not stepped over). */
static int nested_fault(const struct shadow_cpu *c, unsigned vector, uint32_t error, uint64_t cr2,
			struct reflect_request *ret)
{
	*ret = (struct reflect_request) {
		.kind = REFLECT_EXCEPTION, .vector = vector, .has_error = x86_vector_has_error(vector),
		.error = error, .cr2 = cr2, .return_rip = c->regs.rip,
	};
	return -EFAULT;
}

static int nested_pf(const struct shadow_cpu *c, const struct shadow_fault *f, struct reflect_request *ret)
{
	return nested_fault(c, f->vector, f->error, f->cr2, ret);
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n && i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

static void store_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

/* The RFLAGS the guest sees (and that frames carry): IF is the virtual IF. */
static uint64_t virtual_rflags(const struct shadow_cpu *c)
{
	return (c->regs.rflags & ~X86_RFLAGS_IF) | (c->pcb.vif ? X86_RFLAGS_IF : 0) | X86_RFLAGS_FIXED;
}

static void set_rflags(struct shadow_cpu *c, uint64_t flags, bool vif)
{
	flags &= ~(X86_RFLAGS_IOPL | X86_RFLAGS_VM | X86_RFLAGS_IF);
	c->regs.rflags = flags | X86_RFLAGS_FIXED | (vif ? X86_RFLAGS_IF : 0);
	c->pcb.vif = vif;
}

/* One delivery attempt. 0 and the CPU updated, or -EFAULT with *nested set
 * and the CPU untouched. */
static int deliver_once(struct shadow_cpu *c, const struct shadow_env *env, const struct reflect_request *req,
			struct reflect_request *nested)
{
	struct shadow_pcb *p = &c->pcb;
	uint32_t ext = req->kind == REFLECT_SOFTWARE ? 0 : 1;
	uint32_t idt_error = req->vector * 8 + 2 + ext;
	struct shadow_fault f;
	uint8_t g[16];

	/* The gate. */
	if (req->vector * 16 + 15 > p->idtr.limit)
		return nested_fault(c, X86_GP, idt_error, 0, nested);
	uint64_t gva = p->idtr.base + req->vector * 16;
	f = (struct shadow_fault) { .vector = X86_PF, .error = 1, .cr2 = gva };
	if (env->read_virt(env->ctx, gva, g, sizeof(g), 0, &f) < 0)
		return nested_pf(c, &f, nested);
	unsigned type = g[5] & 0x1f;             /* S = 0 and the type */
	unsigned dpl = (g[5] >> 5) & 3;
	if (type != X86_GATE_INTERRUPT && type != X86_GATE_TRAP)
		return nested_fault(c, X86_GP, idt_error, 0, nested);
	if (req->kind == REFLECT_SOFTWARE && dpl < p->vcpl)
		return nested_fault(c, X86_GP, req->vector * 8 + 2, 0, nested);
	if (!(g[5] & 0x80))
		return nested_fault(c, X86_NP, idt_error, 0, nested);
	uint16_t sel = load_le(g + 2, 2);
	uint64_t target = load_le(g, 2) | load_le(g + 6, 2) << 16 | load_le(g + 8, 4) << 32;
	unsigned ist = g[4] & 7;
	if ((sel & ~3u) == 0 || !x86_canonical(target))
		return nested_fault(c, X86_GP, ext, 0, nested);

	/* The stack: TSS.rsp0 from user mode, IST n always. */
	uint64_t rsp = c->regs.rsp;
	if (ist || p->vcpl != 0) {
		uint32_t off = ist ? 36 + 8 * (ist - 1) : 4;
		uint8_t buf[8];
		if (off + 7 > p->tss_limit)
			return nested_fault(c, X86_TS, (p->tr & 0xfffc) | ext, 0, nested);
		f = (struct shadow_fault) { .vector = X86_PF, .error = 1, .cr2 = p->tss_base + off };
		if (env->read_virt(env->ctx, p->tss_base + off, buf, sizeof(buf), 0, &f) < 0)
			return nested_pf(c, &f, nested);
		rsp = load_le(buf, 8);
	}
	rsp &= ~0xfULL;

	/* The frame, lowest address first: [error,] RIP, CS, RFLAGS, RSP, SS. */
	bool has_error = req->kind == REFLECT_EXCEPTION && req->has_error;
	unsigned n = has_error ? 6 : 5, i = 0;
	uint8_t frame[6 * 8];
	if (has_error)
		store_le64(frame + 8 * i++, req->error);
	store_le64(frame + 8 * i++, req->return_rip);
	store_le64(frame + 8 * i++, (p->cs & ~3u) | p->vcpl);
	store_le64(frame + 8 * i++, virtual_rflags(c));
	store_le64(frame + 8 * i++, c->regs.rsp);
	store_le64(frame + 8 * i++, p->ss);
	uint64_t new_rsp = rsp - 8 * n;
	if (!x86_canonical(new_rsp) || !x86_canonical(rsp - 1) || new_rsp > rsp)
		return nested_fault(c, X86_SS, ext, 0, nested);
	f = (struct shadow_fault) { .vector = X86_PF, .error = 1 | SHADOW_ACC_WRITE, .cr2 = new_rsp };
	if (env->write_virt(env->ctx, new_rsp, frame, 8 * n, SHADOW_ACC_WRITE, &f) < 0)
		return nested_pf(c, &f, nested);

	/* Commit: the guest is in its kernel, at the handler. */
	if (p->vcpl != 0)
		p->ss = 0;   /* 64-bit mode loads a null SS on a privilege change */
	p->vcpl = 0;
	p->cs = sel & ~3u;
	p->halted = false;
	c->regs.rsp = new_rsp;
	c->regs.rip = target;
	uint64_t flags = c->regs.rflags & ~(X86_RFLAGS_TF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_VM);
	set_rflags(c, flags, type == X86_GATE_INTERRUPT ? false : p->vif);
	return 0;
}

int reflect_deliver(struct shadow_cpu *cpu, const struct shadow_env *env, const struct reflect_request *req)
{
	struct reflect_request cur = *req, nested;

	if (req->vector > 255)
		return -EINVAL;
	/* CR2 is set when a #PF is detected, whether or not its delivery works
	 * (and even when it turns into #DF). */
	if (cur.kind == REFLECT_EXCEPTION && cur.vector == X86_PF)
		cpu->pcb.cr2 = cur.cr2;
	for (unsigned attempt = 0; attempt < MAX_DELIVERY_ATTEMPTS; attempt++) {
		if (deliver_once(cpu, env, &cur, &nested) == 0)
			return 0;
		if (nested.vector == X86_PF)
			cpu->pcb.cr2 = nested.cr2;
		enum exc_class first = classify(&cur), second = classify(&nested);
		if (first == EXC_DOUBLE)
			return -EFAULT;   /* a fault while delivering #DF: triple fault */
		if ((first == EXC_CONTRIBUTORY && second == EXC_CONTRIBUTORY) ||
		    (first == EXC_PAGE_FAULT && (second == EXC_CONTRIBUTORY || second == EXC_PAGE_FAULT)))
			cur = (struct reflect_request) {
				.kind = REFLECT_EXCEPTION, .vector = X86_DF, .has_error = true, .error = 0,
				.return_rip = cpu->regs.rip,
			};
		else
			cur = nested;   /* handled serially: the nested fault is delivered instead */
	}
	return -EFAULT;
}

int reflect_syscall(struct shadow_cpu *cpu, const struct shadow_env *env, uint64_t return_rip,
		    struct reflect_request *ret_fault)
{
	struct shadow_pcb *p = &cpu->pcb;

	if (!(p->efer & X86_EFER_SCE)) {
		/* #UD at the syscall instruction (0f 05: two bytes; the caller may know better). */
		*ret_fault = (struct reflect_request) {
			.kind = REFLECT_EXCEPTION, .vector = X86_UD, .return_rip = return_rip - 2,
		};
		return -EFAULT;
	}
	uint64_t flags = virtual_rflags(cpu) & ~X86_RFLAGS_RF;
	cpu->regs.rcx = return_rip;
	cpu->regs.r11 = flags;
	flags &= ~(p->sfmask & 0xffffffffULL);
	set_rflags(cpu, flags, flags & X86_RFLAGS_IF);
	uint16_t base = p->star >> 32;
	p->cs = base & 0xfffc;
	p->ss = (uint16_t) (base + 8) & 0xfffc;
	p->vcpl = 0;
	p->halted = false;
	cpu->regs.rip = p->lstar;
	return 0;
}
