/* SPDX-License-Identifier: MIT */
/*
 * An LSTAR entry's first half, for the guests' .S files (isa's entry.S,
 * minios's kentry.S): `syscall` leaves the user's RSP in place and the
 * return RIP and RFLAGS in RCX and R11, so the entry saves the user's
 * RSP, moves to a kernel stack, and builds there the frame an exception
 * from user mode would have pushed (SS, RSP, RFLAGS, CS, RIP), then error
 * code 0 and the vector. The common trap path then treats both alike.
 *
 *   SYSCALL_FRAME user_ds, user_cs, vector, insn...
 *
 * insn is the instruction that loads the kernel's RSP (a fixed stack:
 * `leaq top(%rip), %rsp`; a per-process one: `movq var(%rip), %rsp`). The
 * user's RSP waits in syscall_user_rsp, a quadword the guest defines.
 */
#ifndef GUEST_SYSCALL_FRAME_H
#define GUEST_SYSCALL_FRAME_H

#ifdef __ASSEMBLER__
.macro SYSCALL_FRAME user_ds, user_cs, vector, load_rsp:vararg
	movq	%rsp, syscall_user_rsp(%rip)
	\load_rsp
	pushq	$\user_ds
	pushq	syscall_user_rsp(%rip)
	pushq	%r11
	pushq	$\user_cs
	pushq	%rcx
	pushq	$0
	pushq	$\vector
.endm
#endif

#endif
