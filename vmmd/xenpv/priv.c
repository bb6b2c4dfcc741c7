/* SPDX-License-Identifier: MIT */
/*
 * Privileged instructions of a PV guest (XENPV.md 7.2; Xen's
 * pv/emul-priv-op.c): what its kernel may still execute natively and what
 * then happens, and what its user mode gets.
 *
 *   forced-emulation cpuid  ud2; .ascii "xen"; cpuid (xen_cpuid): the policy, RIP += 7
 *   cpuid                   (CPUID faulting) the same policy, at either level
 *   rdmsr / wrmsr           FS/GS/KERNEL_GS bases, EFER, TSC, TSC_AUX, PAT and a few
 *                           AMD model MSRs; anything else is the guest's #GP
 *                           (Linux PV uses the _safe accessors)
 *   cli / sti               no-ops (events, not IF, mask a PV kernel)
 *   iretq                   within the kernel only (sync_core's iret_to_self)
 *   in / out, mov CRn/sreg, wbinvd, clts     the engine's emulation (device bus, virtual CRs)
 *   int n / int3            (#UD on this host) a software interrupt through the trap table
 *   in / out in user mode   allowed by the ioperm bitmap (set_iobitmap): the device bus
 *
 * Everything else, and every privileged instruction in user mode, is the
 * guest's own exception, delivered through its trap table.
 */
#include <string.h>

#include "vmmd/shadow/decode.h"
#include "vmmd/shadow/emulate.h"
#include "vmmd/xenpv/xenpv_priv.h"
#include "x86/cpu.h"
#include "x86/guest_walk.h"

#define MSR_PAT          0x277u
#define MSR_TSC_AUX      0xc0000103u
#define MSR_AMD_PATCH    0x0000008bu
#define MSR_AMD_HWCR     0xc0010015u
#define MSR_AMD_LS_CFG   0xc0011020u
#define MSR_AMD_DE_CFG   0xc0011029u
#define XEN_PAT          0x0000050100070406ULL   /* Xen's own PAT: WB WT UC- UC WC WP UC UC */
#define EFER_VALUE       (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)

static const uint8_t forced_prefix[5] = { 0x0f, 0x0b, 'x', 'e', 'n' };   /* ud2; "xen" */

static enum shadow_action guest_exception(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
					  uint32_t error)
{
	return shadow_reflect_exception(sv, env, vector, x86_vector_has_error(vector), error, 0);
}

static void do_cpuid(struct shadow_vcpu *sv, const struct shadow_env *env)
{
	struct kvm_regs *r = &sv->cpu.regs;
	uint32_t out[4];

	env->cpuid(env->ctx, (uint32_t) r->rax, (uint32_t) r->rcx, out);
	r->rax = out[0];
	r->rbx = out[1];
	r->rcx = out[2];
	r->rdx = out[3];
}

static bool rdmsr(struct shadow_vcpu *sv, uint32_t msr, uint64_t *ret)
{
	const struct shadow_pcb *p = &sv->cpu.pcb;

	switch (msr) {
	case X86_MSR_EFER: *ret = EFER_VALUE; return true;
	case X86_MSR_FS_BASE: *ret = p->fs_base; return true;
	case X86_MSR_GS_BASE: *ret = p->gs_base; return true;
	case X86_MSR_KERNEL_GS_BASE: *ret = p->kernel_gs_base; return true;
	case X86_MSR_TSC: *ret = xpv_guest_tsc(xpv_of(sv)->dom); return true;
	case MSR_TSC_AUX: *ret = 0; return true;
	case MSR_PAT: *ret = XEN_PAT; return true;
	case MSR_AMD_PATCH: case MSR_AMD_HWCR: case MSR_AMD_LS_CFG: case MSR_AMD_DE_CFG:
		*ret = 0;
		return true;
	default:
		return false;
	}
}

static bool wrmsr(struct shadow_vcpu *sv, uint32_t msr, uint64_t v)
{
	struct shadow_pcb *p = &sv->cpu.pcb;

	switch (msr) {
	case X86_MSR_FS_BASE:
	case X86_MSR_GS_BASE:
	case X86_MSR_KERNEL_GS_BASE:
		/* startup_xen's first instruction is a native wrmsr of GS_BASE. */
		if (!x86_canonical(v))
			return false;
		*(msr == X86_MSR_FS_BASE ? &p->fs_base : msr == X86_MSR_GS_BASE ? &p->gs_base : &p->kernel_gs_base) = v;
		return true;
	case X86_MSR_EFER: case MSR_PAT: case MSR_TSC_AUX:
	case MSR_AMD_HWCR: case MSR_AMD_LS_CFG: case MSR_AMD_DE_CFG:
	case X86_MSR_STAR: case X86_MSR_LSTAR: case X86_MSR_CSTAR: case X86_MSR_SFMASK:
		return true;   /* accepted and ignored, as Xen does for a PV guest */
	default:
		return false;
	}
}

static enum shadow_action msr(struct shadow_vcpu *sv, const struct shadow_env *env, bool write, uint64_t next)
{
	struct kvm_regs *r = &sv->cpu.regs;
	uint32_t index = (uint32_t) r->rcx;
	uint64_t v;

	__atomic_fetch_add(&xpv_of(sv)->dom->stats.msr, 1, __ATOMIC_RELAXED);
	if (write) {
		if (!wrmsr(sv, index, (uint32_t) r->rax | (uint64_t) (uint32_t) r->rdx << 32))
			return guest_exception(sv, env, X86_GP, 0);
	} else {
		if (!rdmsr(sv, index, &v))
			return guest_exception(sv, env, X86_GP, 0);
		r->rax = (uint32_t) v;
		r->rdx = v >> 32;
	}
	r->rip = next;
	shadow_count_mnemonic(sv->svm, write ? "wrmsr" : "rdmsr");
	return SHADOW_RESUME;
}

/* iretq inside the kernel (sync_core → iret_to_self on CPUs without
 * SERIALIZE): same privilege, so pop RIP, CS, RFLAGS, RSP, SS and stay. */
static enum shadow_action kernel_iretq(struct shadow_vcpu *sv, const struct shadow_env *env, const struct x86_insn *insn)
{
	struct shadow_cpu *c = &sv->cpu;
	struct shadow_fault f;
	uint64_t frame[5];

	if (insn->d.operand_width != 64)
		return guest_exception(sv, env, X86_GP, 0);
	if (env->read_virt(env->ctx, c->regs.rsp, frame, sizeof(frame), 0, &f) < 0)
		return shadow_reflect_exception(sv, env, f.vector, true, f.error, f.cr2);
	uint16_t cs = (uint16_t) frame[1] | 3;
	if ((cs != XEN_FLAT_KERNEL_CS64 && cs != 0x13) || !x86_canonical(frame[0]))
		return guest_exception(sv, env, X86_GP, (uint32_t) frame[1] & 0xfffc);
	c->regs.rip = frame[0];
	c->regs.rflags = (frame[2] & ~(X86_RFLAGS_IOPL | X86_RFLAGS_VM)) | X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	c->regs.rsp = frame[3];
	c->pcb.ss = (uint16_t) frame[4] | 3;
	shadow_count_mnemonic(sv->svm, "iretq");
	return SHADOW_RESUME;
}

/* May user mode use these ports? Xen's guest_io_okay for a PV guest's user
 * mode: the bit of each port in the bitmap set_iobitmap registered (in
 * kernel memory, read through the kernel's tables) must be clear. */
static bool user_io_allowed(struct xpv_vcpu *v, const struct shadow_env *env, unsigned port, unsigned size)
{
	struct shadow_pcb *p = &v->sv->cpu.pcb;
	struct shadow_fault f;
	uint8_t bits[2];

	if (!v->iobitmap_va || port + size > v->iobitmap_ports)
		return false;
	uint64_t saved = p->cr3;
	p->cr3 = v->kernel_cr3;
	int r = env->read_virt(env->ctx, v->iobitmap_va + port / 8, bits, sizeof(bits), 0, &f);
	p->cr3 = saved;
	if (r < 0)
		return false;
	uint16_t word = (uint16_t) (bits[0] | bits[1] << 8);
	return ((word >> (port % 8)) & ((1u << size) - 1)) == 0;
}

/* in/out from user mode with an ioperm()-granted port: on the device bus. */
static enum shadow_action user_io(struct xpv_vcpu *v, const struct shadow_env *env, const struct x86_insn *insn,
				  unsigned vector, uint32_t error)
{
	struct shadow_vcpu *sv = v->sv;
	bool out = insn->d.mnemonic == ZYDIS_MNEMONIC_OUT;
	const ZydisDecodedOperand *port_op = &insn->op[out ? 0 : 1], *reg_op = &insn->op[out ? 1 : 0];
	unsigned size = reg_op->type == ZYDIS_OPERAND_TYPE_REGISTER ? x86_gpr_size(reg_op->reg.value) : 0;
	unsigned port;

	if (port_op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		port = (unsigned) (port_op->imm.value.u & 0xff);
	else if (port_op->type == ZYDIS_OPERAND_TYPE_REGISTER && port_op->reg.value == ZYDIS_REGISTER_DX)
		port = (unsigned) (sv->cpu.regs.rdx & 0xffff);
	else
		return guest_exception(sv, env, vector, error);
	if ((size != 1 && size != 2 && size != 4) || !user_io_allowed(v, env, port, size))
		return guest_exception(sv, env, vector, error);
	uint64_t value = 0;
	if (out) {
		x86_gpr_read(&sv->cpu.regs, reg_op->reg.value, &value);
		uint32_t data = (uint32_t) value;
		(void) env->pio(env->ctx, (uint16_t) port, &data, size, true);
	} else {
		uint32_t data = 0;
		if (env->pio(env->ctx, (uint16_t) port, &data, size, false) < 0)
			data = ~0u;   /* nothing there: the floating bus */
		x86_gpr_write(&sv->cpu.regs, reg_op->reg.value, data & (uint32_t) x86_size_mask(size));
	}
	sv->cpu.regs.rip = insn->next_rip;
	shadow_count_trap(sv->svm, STRAP_PRIVILEGED);
	shadow_count_mnemonic(sv->svm, out ? "user out" : "user in");
	return SHADOW_RESUME;
}

/* What the engine's emulation may do for a PV kernel. */
static bool engine_may(const struct x86_insn *insn)
{
	switch (insn->d.mnemonic) {
	case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT:
	case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
	case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
	case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD: case ZYDIS_MNEMONIC_CLTS:
		return true;
	case ZYDIS_MNEMONIC_MOV:
		/* CR0/CR4 reads and writes and segment loads; never CR3 (the base pointer is a hypercall). */
		for (unsigned i = 0; i < insn->d.operand_count_visible && i < 2; i++) {
			const ZydisDecodedOperand *op = &insn->op[i];
			if (op->type != ZYDIS_OPERAND_TYPE_REGISTER)
				continue;
			ZydisRegisterClass cls = ZydisRegisterGetClass(op->reg.value);
			if (cls == ZYDIS_REGCLASS_SEGMENT)
				return true;
			if (cls == ZYDIS_REGCLASS_CONTROL)
				return op->reg.value == ZYDIS_REGISTER_CR0 || op->reg.value == ZYDIS_REGISTER_CR4;
		}
		return false;
	default:
		return false;
	}
}

static enum shadow_action engine_emulate(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector)
{
	struct emu_outcome out;

	emu_privileged(&sv->cpu, env, vector, &out);
	switch (out.status) {
	case EMU_DONE:
		shadow_count_trap(sv->svm, STRAP_PRIVILEGED);
		shadow_count_mnemonic(sv->svm, out.mnemonic);
		sv->cpu.pcb.vif = true;   /* events, not IF: IF stays on */
		return SHADOW_RESUME;
	case EMU_EXCEPTION:
		return shadow_reflect_exception(sv, env, out.vector, out.has_error, out.error, out.cr2);
	default:
		return guest_exception(sv, env, vector, 0);
	}
}

enum shadow_action xpv_privileged(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
				  uint32_t error)
{
	struct xpv_vcpu *v = xpv_of(sv);
	struct kvm_regs *r = &sv->cpu.regs;
	struct shadow_fault f;
	struct x86_insn insn;
	uint8_t bytes[7];

	/* Xen's forced emulation: the 5-byte prefix, then cpuid. */
	if (vector == X86_UD && env->read_virt(env->ctx, r->rip, bytes, sizeof(bytes), SHADOW_ACC_FETCH |
					       (v->kernel_mode ? 0 : SHADOW_ACC_USER), &f) == 0 &&
	    memcmp(bytes, forced_prefix, sizeof(forced_prefix)) == 0 && bytes[5] == 0x0f && bytes[6] == 0xa2) {
		do_cpuid(sv, env);
		r->rip += 7;
		shadow_count_trap(sv->svm, STRAP_PRIVILEGED);
		shadow_count_mnemonic(sv->svm, "xen cpuid");
		return SHADOW_RESUME;
	}
	int rc = x86_fetch_decode(&sv->cpu, env, &insn, &f);
	if (rc == -EFAULT)
		return shadow_reflect_exception(sv, env, f.vector, true, f.error, f.cr2);
	if (rc < 0)
		return guest_exception(sv, env, vector, error);

	switch (insn.d.mnemonic) {
	case ZYDIS_MNEMONIC_CPUID:
		do_cpuid(sv, env);
		r->rip = insn.next_rip;
		shadow_count_trap(sv->svm, STRAP_PRIVILEGED);
		shadow_count_mnemonic(sv->svm, "cpuid");
		return SHADOW_RESUME;
	case ZYDIS_MNEMONIC_INT:
	case ZYDIS_MNEMONIC_INT3: {
		unsigned n = insn.d.mnemonic == ZYDIS_MNEMONIC_INT3 ? X86_BP
			     : insn.op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (unsigned) (insn.op[0].imm.value.u & 0xff) : 0;
		return xpv_soft_interrupt(v, n, insn.next_rip);
	}
	default:
		break;
	}
	if (!v->kernel_mode) {
		if (insn.d.mnemonic == ZYDIS_MNEMONIC_IN || insn.d.mnemonic == ZYDIS_MNEMONIC_OUT)
			return user_io(v, env, &insn, vector, error);
		return guest_exception(sv, env, vector, error);
	}

	switch (insn.d.mnemonic) {
	case ZYDIS_MNEMONIC_RDMSR:
	case ZYDIS_MNEMONIC_WRMSR:
		shadow_count_trap(sv->svm, STRAP_PRIVILEGED);
		return msr(sv, env, insn.d.mnemonic == ZYDIS_MNEMONIC_WRMSR, insn.next_rip);
	case ZYDIS_MNEMONIC_CLI:
	case ZYDIS_MNEMONIC_STI:
		r->rip = insn.next_rip;
		shadow_count_trap(sv->svm, STRAP_PRIVILEGED);
		shadow_count_mnemonic(sv->svm, insn.d.mnemonic == ZYDIS_MNEMONIC_CLI ? "cli" : "sti");
		return SHADOW_RESUME;
	case ZYDIS_MNEMONIC_IRETQ:
		shadow_count_trap(sv->svm, STRAP_PRIVILEGED);
		return kernel_iretq(sv, env, &insn);
	default:
		if (engine_may(&insn))
			return engine_emulate(sv, env, vector);
		return guest_exception(sv, env, vector, error);
	}
}
