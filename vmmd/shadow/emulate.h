/* SPDX-License-Identifier: MIT */
/*
 * Trap-and-emulate (seed: "force instruction to cause a fault; fault
 * handler does what instruction would do"): the guest kernel runs at real
 * CPL3, so each privileged instruction it executes faults (#GP, #UD, #NP
 * or #SS); vmmd decodes it with Zydis and does what it would have done to
 * the *virtual* CPU (struct shadow_cpu), then advances RIP.
 *
 * Emulated at virtual CPL0: cli, sti, hlt, mov to/from CR0/CR2/CR3/CR4/CR8/DRn,
 * lgdt, lidt, lldt, ltr, lmsw, invlpg, rdmsr/wrmsr (EFER, STAR, LSTAR,
 * CSTAR, SFMASK, FS/GS/KERNEL_GS base, TSC read-only, and the vmmd
 * hypercall MSR), in/out/ins/outs (device bus; rep bounded to 64 KiB per
 * trap), sysretq, swapgs, wbinvd/invd (no-ops), clts. At any virtual CPL:
 * cpuid (env->cpuid), sgdt/sidt/str/sldt/smsw (#GP at CPL3 when the
 * virtual CR4.UMIP is set), and against the guest's virtual GDT/LDT with
 * hardware's checks (emulate_seg.c): mov/pop to DS/ES/FS/GS/SS, lss/lfs/
 * lgs, far ret, far jmp/call through memory, iret in every operand size;
 * and port I/O where the guest's TSS I/O bitmap grants it (io_permission.c).
 * At virtual CPL3 a privileged instruction is the guest's own #GP to
 * handle (reflected, see reflect.h). An instruction Zydis cannot decode
 * becomes #UD in the guest's IDT — never a vmmd crash.
 */
#pragma once

#include "vmmd/shadow/vcpu_model.h"

enum emu_status {
	EMU_DONE,        /* emulated; regs/pcb updated (RIP advanced or changed) */
	EMU_HALT,        /* hlt emulated: RIP advanced, wait for a virtual interrupt */
	EMU_EXCEPTION,   /* deliver out->vector/out->error to the guest (reflect.h) */
	EMU_NOT_PRIVILEGED, /* not an instruction the trap is about: reflect the original exception */
	EMU_NOT_EMULATED,   /* valid, but not emulated here: let it run natively (emulate_data.h) */
	EMU_UNSUPPORTED,    /* valid, but shadow mode cannot run it (reason): the VM must end */
};

struct emu_outcome {
	enum emu_status status;
	unsigned vector;
	bool has_error;
	uint32_t error;
	uint64_t cr2;              /* for #PF outcomes */
	char mnemonic[16];         /* what was decoded, for stats and logs ("cli", "mov cr3") */
	bool cpl_changed;          /* iretq/sysretq switched virtual CPL (0 <-> 3) */
	uint64_t next_rip;         /* the instruction after the decoded one (int n: return_rip) */
	bool irq_shadow;           /* sti enabled IF (or mov ss): no interrupt before the next instruction */
	const char *reason;        /* EMU_UNSUPPORTED: what shadow mode cannot do (a static string) */
};

/*
 * The guest faulted with `vector` (#GP or #UD, or #NP/#SS from a segment
 * load) at regs.rip. Decode the instruction there (fetched with
 * env->read_virt, SHADOW_ACC_FETCH) and emulate it if it is privileged.
 *
 * Outcomes: EMU_DONE/EMU_HALT (RIP advanced, or set by a far transfer,
 * or left on an unfinished rep ins/outs so it traps again); EMU_EXCEPTION
 * (a fetch #PF with cr2, #UD for undecodable bytes, #GP(0) for a
 * privileged instruction at virtual CPL3, #GP/#NP/#SS(selector) for a bad
 * descriptor; nothing committed); EMU_UNSUPPORTED (a far transfer to
 * 16/32-bit code, CPL 1/2 or a call gate: reason says which; nothing
 * committed); EMU_NOT_PRIVILEGED (reflect the original exception) — except
 * `int n` / `int3`, reported as EMU_NOT_PRIVILEGED with mnemonic "int",
 * vector n and next_rip: reflect those as REFLECT_SOFTWARE returning to
 * next_rip. emulate.c never calls env->count: the caller counts mnemonic.
 */
void emu_privileged(struct shadow_cpu *cpu, const struct shadow_env *env, unsigned vector,
		    struct emu_outcome *out);

/* The vmmd hypercall MSR (guest contract, docs/shadow.md): wrmsr of
 * SHADOW_HC_RESTORE_IF with eax = 0/1 sets the virtual IF — the paravirtual
 * replacement for `popf`, which cannot be made to trap. */
#define SHADOW_HC_MSR         0x4b564d00u   /* "KVM\0"-like, in the hypervisor MSR range */
#define SHADOW_HC_RESTORE_IF  0
