/* SPDX-License-Identifier: MIT */
/*
 * isa's way into the kernel and out to user mode (see isa.h). Exceptions
 * 0-31 go through guests/lib's trap_entry_stubs and trap_entry_common
 * (struct trapframe, lib/entry_path.h) to trap(), which resumes a kernel
 * case at its recovery label or leaves for the kernel context with
 * isa_user_return(); here only what isa adds:
 *
 *   isa_stubs      the gates of isa.h past 31 (0x80-0x83), 16 bytes apart
 *   syscall_entry  LSTAR: builds the frame an exception from user mode
 *                  would (vector 0x100, rip = RCX, rflags = R11) on its own
 *                  stack and joins trap_entry_common
 *   run_user, run_user_sysret
 *                  iretq or sysretq into user mode with every register
 *                  from a struct uregs; isa_user_return() comes back
 */
#include "isa_asm.h"
#include "syscall_frame.h"

#define VEC_SYSCALL 0x100
#define SEL_UCODE   0x2b
#define SEL_UDATA   0x23

	.text
	.balign 16
	.globl isa_stubs
isa_stubs:
	.irp v, 128,129,130,131
	.balign 16
	pushq $0
	pushq $\v
	jmp trap_entry_common
	.endr

	.balign 16
	.globl syscall_entry
syscall_entry:
	SYSCALL_FRAME SEL_UDATA, SEL_UCODE, VEC_SYSCALL, leaq syscall_stack_top(%rip), %rsp
	jmp trap_entry_common

/* int run_user(const struct uregs *r) and run_user_sysret(r): enter user
 * mode through iretq with r's frame, or through sysretq (RCX = r->rip,
 * R11 = r->rflags, RSP = r->rsp). 0 when user mode ran and came back
 * (isa_user_return), 1 when the iretq/sysretq itself faulted in the kernel
 * (k.last has that frame). Offsets follow struct uregs. */
	.globl run_user, run_user_sysret, isa_user_return, load_uregs
/* Keep the kernel's callee-saved registers and stack for isa_user_return,
 * and have a fault of the entry itself come back to user_entry_fault. */
.macro save_kernel_context
	PUSH_CALLEE_SAVED
	mov %rsp, kernel_ctx_rsp(%rip)
	leaq user_entry_fault(%rip), %rax
	mov %rax, isa_recover(%rip)
.endm

run_user:
	save_kernel_context
	pushq 19*8(%rdi)		/* ss */
	pushq 18*8(%rdi)		/* rsp */
	pushq 17*8(%rdi)		/* rflags */
	pushq 16*8(%rdi)		/* cs */
	pushq 15*8(%rdi)		/* rip */
	call load_uregs
	mov 5*8(%rdi), %rdi
	iretq
run_user_sysret:
	save_kernel_context
	call load_uregs
	mov 15*8(%rdi), %rcx
	mov 17*8(%rdi), %r11
	mov 18*8(%rdi), %rsp
	mov 5*8(%rdi), %rdi
	sysretq
/* Every register but rdi (the pointer, loaded last by the caller) from (%rdi). */
load_uregs:
	mov 0*8(%rdi), %rax
	mov 1*8(%rdi), %rbx
	mov 3*8(%rdi), %rdx
	mov 4*8(%rdi), %rsi
	mov 6*8(%rdi), %rbp
	mov 7*8(%rdi), %r8
	mov 8*8(%rdi), %r9
	mov 9*8(%rdi), %r10
	mov 11*8(%rdi), %r12
	mov 12*8(%rdi), %r13
	mov 13*8(%rdi), %r14
	mov 14*8(%rdi), %r15
	mov 2*8(%rdi), %rcx
	mov 10*8(%rdi), %r11
	ret
user_entry_fault:
	mov $1, %ebx
	jmp 1f
isa_user_return:
	xor %ebx, %ebx
1:	mov kernel_ctx_rsp(%rip), %rsp
	/* The kernel's own CS, SS and RFLAGS, whichever way the entry came: SS
	 * is null after an exception from user mode and STAR's after syscall; a
	 * trap gate keeps IF, every entry but syscall (FMASK) keeps AC; an
	 * iretq that faulted only after it returned to kernel level (at a bad
	 * RIP) left the frame's SS and RFLAGS. An iretq, not popf, so that IF
	 * is cleared in shadow mode too (docs/shadow.md, the guest contract). */
	mov %rsp, %rax
	KERNEL_IRET_SELF(%rax)
	mov %ebx, %eax
	movq $0, isa_recover(%rip)
	POP_CALLEE_SAVED
	ret

	.bss
	.balign 16
syscall_user_rsp:	.quad 0
kernel_ctx_rsp:		.quad 0
	.section .noinit.isa_stacks, "aw", @nobits
	.balign 4096
	.globl trap_stack_top, syscall_stack_top, df_stack_top
	.skip 16384
trap_stack_top:
	.skip 8192
syscall_stack_top:
	.skip 4096
df_stack_top:

	.section .note.GNU-stack, "", @progbits
