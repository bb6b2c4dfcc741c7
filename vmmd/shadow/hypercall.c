/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "vmmd/shadow/engine.h"
#include "vmmd/shadow/hypercall.h"
#include "x86/cpu.h"

static void restore_if(struct shadow_vcpu *sv)
{
	struct shadow_cpu *c = &sv->cpu;
	bool was = c->pcb.vif;

	if (c->regs.rdi > 1) {
		c->regs.rax = (uint64_t) -EINVAL;   /* as the MSR form's #GP, without a fault */
		return;
	}
	c->pcb.vif = c->regs.rdi == 1;
	c->regs.rflags = (c->regs.rflags & ~X86_RFLAGS_IF) | (c->pcb.vif ? X86_RFLAGS_IF : 0);
	c->regs.rax = was;
}

static void (*const native[])(struct shadow_vcpu *sv) = {
	[VMM_HC_RESTORE_IF] = restore_if,
};

enum shadow_action shadow_hypercall_native(struct shadow_vcpu *sv)
{
	uint64_t fn = sv->cpu.regs.rax;

	if (fn < sizeof(native) / sizeof(native[0]) && native[fn])
		native[fn](sv);
	else
		sv->cpu.regs.rax = (uint64_t) (int64_t) VMM_HC_ENOSYS;
	return SHADOW_RESUME;
}
