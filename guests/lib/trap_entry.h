/* SPDX-License-Identifier: MIT */
/*
 * Exception entry and the switch to user mode for guests with their own
 * IDT and user processes (pt, realhw):
 *
 *   trap_entry_stubs   vectors 0-31, 16 bytes apart (idt_set_stubs): each pushes
 *                a 0 where the CPU pushes no error code, then its vector,
 *                and jumps to trap_entry_common;
 *   trap_entry_common  saves the general registers (struct trapframe,
 *                entry_path.h), calls the guest's trap(tf), restores them
 *                and returns with iretq — or with sysretq when trap() left
 *                a syscall frame (vector TRAP_VEC_SYSCALL: a guest's LSTAR
 *                entry builds one and jumps to trap_entry_common too);
 *   run_user_mode(rip, rsp, cs, ss, rflags)
 *                keeps the kernel's callee-saved registers and stack, clears
 *                the others and enters user mode with iretq; it returns the
 *                status a trap handler passes to user_return(), which goes
 *                back to that saved kernel context (the syscall, or fault,
 *                never returns to user mode).
 *
 * A guest that uses them defines void trap(struct trapframe *tf); the
 * library's weak one, for guests that do not, stops the VM.
 */
#ifndef GUEST_TRAP_ENTRY_H
#define GUEST_TRAP_ENTRY_H

#include "entry_path.h"
#include "types.h"

extern char trap_entry_stubs[], trap_entry_common[];

void trap(struct trapframe *tf);
long run_user_mode(uint64_t rip, uint64_t rsp, uint64_t cs, uint64_t ss, uint64_t rflags);
__noreturn void user_return(long status);

#endif
