/* SPDX-License-Identifier: MIT */
/*
 * Entering and leaving the PV kernel (XENPV.md 4; Xen's create_bounce_frame
 * in x86_64/entry.S and do_iret in pv/iret.c).
 *
 * A bounce frame is what Xen pushes on the guest kernel's stack before it
 * jumps to a registered entry point (trap table, syscall, event or failsafe
 * callback), highest address first:
 *
 *   SS, RSP, RFLAGS, CS | saved_upcall_mask << 32, RIP, [error code],
 *   [GS, FS, ES, DS: failsafe only], R11, RCX          <- new RSP
 *
 * From user mode the vCPU first toggles to kernel mode (kernel table, the
 * kernel's GS base, RSP = kernel_sp); from kernel mode the frame goes on the
 * current stack and the saved CS loses its RPL ("kernel context"). RFLAGS
 * in the frame carries IF = !upcall_mask, the guest's virtual IF.
 *
 * The toggle swaps the two GS bases the way swapgs would: in kernel mode
 * pcb.gs_base is the kernel's and pcb.kernel_gs_base the user's, in user
 * mode the other way round (Linux PV never runs swapgs itself).
 */
#include <string.h>

#include "vmmd/xenpv/xenpv_priv.h"
#include "x86/cpu.h"
#include "x86/guest_walk.h"

#define USER_CS   0x33
#define USER_DS   0x2b
#define KERNEL_CS 0x10
#define RFLAGS_CLEAR_ON_ENTRY (X86_RFLAGS_TF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_VM | X86_RFLAGS_AC)

static void toggle(struct xpv_vcpu *v, bool to_kernel)
{
	struct shadow_pcb *p = &v->sv->cpu.pcb;

	if (v->kernel_mode == to_kernel)
		return;
	uint64_t t = p->gs_base;
	p->gs_base = p->kernel_gs_base;
	p->kernel_gs_base = t;
	v->kernel_mode = to_kernel;
	xpv_load_tables(v);
}

static int bounce_frame(struct xpv_vcpu *v, uint64_t target, bool mask, const uint32_t *ec, bool failsafe)
{
	struct shadow_cpu *c = &v->sv->cpu;
	struct xen_vcpu_info *vi = xpv_vcpu_info(v);
	uint64_t frame[12], rsp, cs = c->pcb.cs, ss = c->pcb.ss;
	unsigned n = 0;

	if (!target)
		return -EINVAL;
	if (!v->kernel_mode) {
		toggle(v, true);
		rsp = v->kernel_sp;
	} else {
		rsp = c->regs.rsp;
		cs &= ~3ULL;   /* "indicate kernel context to guest" */
	}
	rsp &= ~15ULL;
	uint8_t saved_mask = vi ? __atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_ACQUIRE) : 1;
	uint64_t rflags = (c->regs.rflags & ~(X86_RFLAGS_IF | X86_RFLAGS_IOPL)) | X86_RFLAGS_FIXED |
			  (saved_mask ? 0 : X86_RFLAGS_IF);

	/* Lowest address first. */
	frame[n++] = c->regs.rcx;
	frame[n++] = c->regs.r11;
	if (failsafe) {
		frame[n++] = c->pcb.ds;
		frame[n++] = c->pcb.es;
		frame[n++] = c->pcb.fs;
		frame[n++] = c->pcb.gs;
	}
	if (ec)
		frame[n++] = *ec;
	frame[n++] = c->regs.rip;
	frame[n++] = cs | (uint64_t) saved_mask << 32;
	frame[n++] = rflags;
	frame[n++] = c->regs.rsp;
	frame[n++] = ss;
	rsp -= n * 8;
	if (xpv_copy_to_guest(v, rsp, frame, n * 8) < 0) {
		xpv_fail(v, "Xen PV: cannot write a bounce frame at %#llx (bad kernel stack), target %#llx",
			 (unsigned long long) rsp, (unsigned long long) target);
		return -EFAULT;
	}
	if (mask && vi)
		__atomic_store_n(&vi->evtchn_upcall_mask, 1, __ATOMIC_RELEASE);
	c->regs.rsp = rsp;
	c->regs.rip = target;
	c->regs.rflags = (c->regs.rflags & ~RFLAGS_CLEAR_ON_ENTRY) | X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	c->pcb.cs = XEN_FLAT_KERNEL_CS64;
	c->pcb.ss = XEN_FLAT_KERNEL_SS64;
	__atomic_fetch_add(&v->dom->stats.bounces, 1, __ATOMIC_RELAXED);
	return 0;
}

int xpv_bounce(struct xpv_vcpu *v, uint64_t target, bool mask, const uint32_t *ec)
{
	return bounce_frame(v, target, mask, ec, false);
}

/* --- exceptions --------------------------------------------------------------------------------- */

enum shadow_action xpv_exception(struct shadow_vcpu *sv, const struct shadow_env *env, unsigned vector,
				 bool has_error, uint32_t error, uint64_t cr2)
{
	struct xpv_vcpu *v = xpv_of(sv);
	const struct xpv_trap *t = vector < 256 ? &v->trap[vector] : NULL;

	if (!t || !t->address)
		return xpv_fail(v, "Xen PV: unhandled %s %u at rip %#llx (no trap table entry)",
				vector < 32 ? "exception" : "trap", vector, (unsigned long long) sv->cpu.regs.rip);
	if (vector == X86_PF) {
		struct xen_vcpu_info *vi = xpv_vcpu_info(v);
		if (vi)
			__atomic_store_n(&vi->arch.cr2, cr2, __ATOMIC_RELEASE);
		sv->cpu.pcb.cr2 = cr2;
		/* The real error code always has U (the kernel runs at CPL3): the guest's says which mode. */
		error = (error & ~4u) | (v->kernel_mode ? 0 : 4u);
	}
	if (xpv_bounce(v, t->address, t->flags & XEN_TI_IF, has_error ? &error : NULL) < 0)
		return SHADOW_HOST_REFUSED;
	return SHADOW_RESUME;
}

/* int n / int3: this host raises #UD for them at CPL3, the engine decoded
 * them. A gate the caller's privilege may not use is #GP(vector*8+2). */
enum shadow_action xpv_soft_interrupt(struct xpv_vcpu *v, unsigned vector, uint64_t next_rip)
{
	struct shadow_vcpu *sv = v->sv;
	const struct xpv_trap *t = &v->trap[vector & 0xff];
	unsigned cpl = v->kernel_mode ? 1 : 3;   /* Xen treats the PV kernel as ring 1 for gates */
	struct shadow_env env;

	shadow_vcpu_env(sv, &env);
	if (!t->address || XEN_TI_DPL(t->flags) < cpl)
		return shadow_reflect_exception(sv, &env, X86_GP, true, (vector & 0xff) * 8 + 2, 0);
	sv->cpu.regs.rip = next_rip;
	if (xpv_bounce(v, t->address, t->flags & XEN_TI_IF, NULL) < 0)
		return SHADOW_HOST_REFUSED;
	shadow_count_trap(sv->svm, STRAP_SYSCALL);
	return SHADOW_RESUME;
}

/* The user's `syscall`: the syscall callback, with a frame whose RIP is
 * the return address and RFLAGS the user's (the CPU saved both in rcx and
 * r11, which xpv_on_syscall restored). */
enum shadow_action xpv_syscall_callback(struct xpv_vcpu *v)
{
	struct shadow_vcpu *sv = v->sv;
	const struct xpv_callback *cb = &v->callback[XEN_CALLBACKTYPE_syscall];

	shadow_count_trap(sv->svm, STRAP_SYSCALL);
	__atomic_fetch_add(&v->dom->stats.syscalls, 1, __ATOMIC_RELAXED);
	if (!cb->address) {
		/* No callback: Xen delivers #UD, as a CPU without syscall would. */
		struct shadow_env env;
		shadow_vcpu_env(sv, &env);
		sv->cpu.regs.rip -= 2;
		return shadow_reflect_exception(sv, &env, X86_UD, false, 0, 0);
	}
	if (xpv_bounce(v, cb->address, cb->flags & XEN_CALLBACKF_mask_events, NULL) < 0)
		return SHADOW_HOST_REFUSED;
	sv->cpu.regs.rflags &= ~X86_RFLAGS_DF;
	return SHADOW_RESUME;
}

/* --- iret ------------------------------------------------------------------------------------------ */

/* Selectors vmmd can load for a return: Xen's flat ones and Linux's GDT
 * selectors for 64-bit code (the real descriptors are synthesised). */
static bool code_selector_ok(uint64_t cs, bool user)
{
	cs |= 3;
	if (user)
		return cs == USER_CS || cs == XEN_FLAT_USER_CS64;
	return cs == XEN_FLAT_KERNEL_CS64 || cs == (KERNEL_CS | 3);
}

/* The failsafe callback: Xen's answer to a return whose segments cannot be
 * loaded. The guest gets its selectors in the frame and repairs them. */
static long failsafe(struct xpv_vcpu *v)
{
	const struct xpv_callback *cb = &v->callback[XEN_CALLBACKTYPE_failsafe];

	__atomic_fetch_add(&v->dom->stats.failsafe, 1, __ATOMIC_RELAXED);
	if (!cb->address) {
		xpv_fail(v, "Xen PV: iret to cs %#x rip %#llx, which cannot be loaded, and no failsafe callback",
			 v->sv->cpu.pcb.cs, (unsigned long long) v->sv->cpu.regs.rip);
		return -EINVAL;
	}
	if (bounce_frame(v, cb->address, cb->flags & XEN_CALLBACKF_mask_events, NULL, true) < 0)
		return -EFAULT;
	return 0;
}

long xpv_hc_iret(struct xpv_vcpu *v, const uint64_t a[5])
{
	struct shadow_cpu *c = &v->sv->cpu;
	struct xen_iret_context f;

	v->after.no_result = true;
	__atomic_fetch_add(&v->dom->stats.irets, 1, __ATOMIC_RELAXED);
	if (xpv_copy_from_guest(v, c->regs.rsp, &f, sizeof(f)) < 0) {
		xpv_fail(v, "Xen PV: iret frame at %#llx unreadable", (unsigned long long) c->regs.rsp);
		return -EFAULT;
	}
	/* Xen: RPL 3 returns to user mode (its flat user and kernel CS are the
	 * same 0xe033; a return to the kernel carries the RPL 0 of the frame
	 * the bounce pushed). */
	/* Bits 32-39 of the CS slot are the upcall mask the bounce saved: Xen's
	 * frame keeps CS in 16 bits. */
	f.cs &= 0xffff;
	f.ss &= 0xffff;
	bool to_user = (f.cs & 3) == 3;
	bool loadable = x86_canonical(f.rip) && code_selector_ok(f.cs, to_user);
	if (to_user && loadable) {
		if (!v->user_cr3) {
			xpv_fail(v, "Xen PV: iret to user mode without a user page table");
			return -EINVAL;
		}
		toggle(v, false);
	}
	c->regs.rip = f.rip;
	c->regs.rsp = f.rsp;
	c->regs.rflags = (f.rflags & ~(X86_RFLAGS_IOPL | X86_RFLAGS_VM)) | X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	c->pcb.cs = (uint16_t) (f.cs | 3);
	c->pcb.ss = (uint16_t) (f.ss | 3);
	if (!(f.flags & XEN_VGCF_in_syscall)) {
		c->regs.r11 = f.r11;
		c->regs.rcx = f.rcx;
	}
	c->regs.rax = f.rax;
	if (!loadable) {
		/* The return would fault on its code segment or RIP: the guest's failsafe callback repairs it. */
		failsafe(v);
		return 0;
	}
	struct xen_vcpu_info *vi = xpv_vcpu_info(v);
	if (vi)
		__atomic_store_n(&vi->evtchn_upcall_mask, (f.rflags & X86_RFLAGS_IF) ? 0 : 1, __ATOMIC_RELEASE);
	return 0;
}
