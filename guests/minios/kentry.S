/* SPDX-License-Identifier: MIT */
/*
 * minios's ways into and out of the kernel, and the context switch.
 *
 * Every entry builds the same struct trapframe (lib/entry_path.h) on the
 * current process's kernel stack, calls trap(), and leaves through
 * trap_return: with sysretq when trap() left a syscall frame (vector
 * TRAP_VEC_SYSCALL: a native syscall, or the host-quirk #PF turned into
 * one), with iretq otherwise. The CPU pushes an error code for vectors 8,
 * 10-14, 17, 21, 29 and 30; the stubs push a 0 for the others.
 */
#include "syscall_frame.h"

#define USER_DS     (0x20 | 3)         /* minios.h's selectors */
#define USER_CS     (0x28 | 3)
#define VEC_SYSCALL 0x100

	.text
	.globl trap_common, trap_return
trap_common:
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%r11
	push	%r10
	push	%r9
	push	%r8
	push	%rbp
	push	%rdi
	push	%rsi
	push	%rdx
	push	%rcx
	push	%rbx
	push	%rax
	mov	%rsp, %rdi
	call	trap
trap_return:
	pop	%rax
	pop	%rbx
	pop	%rcx
	pop	%rdx
	pop	%rsi
	pop	%rdi
	pop	%rbp
	pop	%r8
	pop	%r9
	pop	%r10
	pop	%r11
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	cmpq	$VEC_SYSCALL, (%rsp)
	je	1f
	add	$16, %rsp			/* vector, error code */
	iretq
1:	add	$16, %rsp
	pop	%rcx				/* rip */
	add	$8, %rsp			/* cs */
	pop	%r11				/* rflags */
	pop	%rsp				/* the user's stack */
	sysretq

	/* 16 bytes per stub: vector v is at trap_stubs + 16 * v. */
	.balign 16
	.globl trap_stubs
trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
	.balign 16
	.if (\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
	nop
	nop
	.else
	pushq	$0
	.endif
	pushq	$\v
	jmp	trap_common
	.endr

	.balign 16
	.globl trap_stub_int80
trap_stub_int80:
	pushq	$0
	pushq	$0x80
	jmp	trap_common

	/*
	 * LSTAR. Entered at CPL0 with the user's rsp, rcx = return rip,
	 * r11 = rflags, IF masked by FMASK: build the frame an exception
	 * from user mode would have built, on this process's kernel stack.
	 * (On a host without VT-x, `syscall` never gets here: it faults at
	 * this address, and trap() finishes the job; lib/entry_path.c.)
	 */
	.balign 16
	.globl syscall_entry
syscall_entry:
	SYSCALL_FRAME USER_DS, USER_CS, VEC_SYSCALL, movq syscall_kernel_rsp(%rip), %rsp
	jmp	trap_common

	/*
	 * void swtch(uint64_t *save_ksp, uint64_t new_ksp): save the
	 * callee-saved registers on this kernel stack, store its pointer,
	 * continue on the other one. CR3 and TSS.rsp0 are proc.c's business.
	 */
	.globl swtch
swtch:
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, (%rdi)
	mov	%rsi, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret

	/* A new process's first switch lands here (proc.c builds the stack):
	 * finish the switch, then leave to user mode through its trap frame. */
	.globl proc_first_entry
proc_first_entry:
	call	proc_first_run
	jmp	trap_return

	.data
	.balign 8
	.globl syscall_kernel_rsp
syscall_user_rsp:	.quad 0
syscall_kernel_rsp:	.quad 0

	.section .note.GNU-stack, "", @progbits
