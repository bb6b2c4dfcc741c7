/* SPDX-License-Identifier: MIT */
/*
 * Reflection (seed: "reflect exceptions/interrupts into guest os"): an
 * exception, software interrupt, device interrupt or syscall that the guest
 * must handle itself is delivered to its *virtual* IDT (or LSTAR) the way
 * the hardware would: a 64-bit frame on the guest kernel stack (switching to
 * TSS.rsp0 from virtual CPL3, or IST), CS/SS with the guest's own selectors
 * and RPL, virtual IF cleared for interrupt gates, error code and virtual
 * CR2 for #PF, and the virtual CPL set to 0 — after which the shadow engine
 * loads the kernel shadow root.
 */
#pragma once

#include "vmmd/shadow/vcpu_model.h"

enum reflect_kind {
	REFLECT_EXCEPTION,   /* a fault/trap of the guest's own making */
	REFLECT_SOFTWARE,    /* int n: gate DPL must be >= virtual CPL, else #GP(n*8+2) */
	REFLECT_EXTERNAL,    /* a virtual device interrupt (only when vif = 1) */
};

struct reflect_request {
	enum reflect_kind kind;
	unsigned vector;
	bool has_error;
	uint32_t error;
	uint64_t cr2;                /* #PF: becomes pcb.cr2 */
	uint64_t return_rip;         /* where iretq returns (int n: after the instruction) */
};

/*
 * Deliver. Returns 0, or -EFAULT if delivery itself faulted in a way that
 * escalates (to #DF and then a triple fault, which ends the VM: the caller
 * reports "triple-fault"); nested faults during delivery are converted like
 * hardware does (#PF while pushing → #DF, a bad gate → #GP(vector*8+2)).
 * A nested fault is reported at regs.rip (for int n: the int itself).
 * The handler always runs at virtual CPL0 (the gate's CS descriptor is not
 * read). Stack switches read TSS.rsp0/IST within pcb.tss_limit (else #TS).
 * The caller decides whether an external interrupt may be taken (vif);
 * -EINVAL only for vector > 255. Never calls env->count.
 */
int reflect_deliver(struct shadow_cpu *cpu, const struct shadow_env *env, const struct reflect_request *req);

/* `syscall` from virtual CPL3: rcx = return rip, r11 = rflags, rflags &=
 * ~SFMASK, CS/SS from STAR, virtual CPL 0, rip = LSTAR. return_rip is the
 * instruction after the syscall. 0, or -EFAULT with the #UD to reflect in
 * *ret_fault when EFER.SCE is 0 (its return_rip: return_rip - 2, the
 * 2-byte syscall). At virtual CPL0 the same. */
int reflect_syscall(struct shadow_cpu *cpu, const struct shadow_env *env, uint64_t return_rip,
		    struct reflect_request *ret_fault);
