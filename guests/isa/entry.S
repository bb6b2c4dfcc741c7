/* SPDX-License-Identifier: MIT */
/*
 * isa's way into the kernel and out to user mode (see isa.h).
 *
 *   trap_stubs   vectors 0-31 and the gates of isa.h, 16 bytes apart; the
 *                CPU pushes an error code for 8, 10-14, 17, 21, 29, 30,
 *                the stubs push a 0 for the others, then the vector
 *   trap_common  saves the registers as struct trapframe (lib/entry_path.h),
 *                calls trap(), and returns with iretq: trap() either
 *                resumes a kernel case at its recovery label or leaves for
 *                the kernel context with isa_user_return()
 *   syscall_entry  LSTAR: builds the frame an exception from user mode
 *                would (vector 0x100, rip = RCX, rflags = R11) on its own
 *                stack and joins trap_common
 *   run_user     iretq into user mode with every register from a struct
 *                uregs; isa_user_return() comes back to its caller
 */
#define VEC_SYSCALL 0x100
#define SEL_UCODE   0x2b
#define SEL_UDATA   0x23

	.text
	.globl trap_common
trap_common:
	push %r15
	push %r14
	push %r13
	push %r12
	push %r11
	push %r10
	push %r9
	push %r8
	push %rbp
	push %rdi
	push %rsi
	push %rdx
	push %rcx
	push %rbx
	push %rax
	cld				/* the C ABI: the case may have run with DF = 1 */
	mov %rsp, %rdi
	call trap
	pop %rax
	pop %rbx
	pop %rcx
	pop %rdx
	pop %rsi
	pop %rdi
	pop %rbp
	pop %r8
	pop %r9
	pop %r10
	pop %r11
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	add $16, %rsp
	iretq

	.balign 16
	.globl trap_stubs
trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,128,129,130,131
	.balign 16
	.if (\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
	nop
	nop
	.else
	pushq $0
	.endif
	pushq $\v
	jmp trap_common
	.endr

	.balign 16
	.globl syscall_entry
syscall_entry:
	movq %rsp, syscall_user_rsp(%rip)
	leaq syscall_stack_top(%rip), %rsp
	pushq $SEL_UDATA
	pushq syscall_user_rsp(%rip)
	pushq %r11
	pushq $SEL_UCODE
	pushq %rcx
	pushq $0
	pushq $VEC_SYSCALL
	jmp trap_common

/* int run_user(const struct uregs *r) and run_user_sysret(r): enter user
 * mode through iretq with r's frame, or through sysretq (RCX = r->rip,
 * R11 = r->rflags, RSP = r->rsp). 0 when user mode ran and came back
 * (isa_user_return), 1 when the iretq/sysretq itself faulted in the kernel
 * (k.last has that frame). Offsets follow struct uregs. */
	.globl run_user, run_user_sysret, isa_user_return
run_user:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, kernel_ctx_rsp(%rip)
	leaq user_entry_fault(%rip), %rax
	mov %rax, isa_recover(%rip)
	pushq 19*8(%rdi)		/* ss */
	pushq 18*8(%rdi)		/* rsp */
	pushq 17*8(%rdi)		/* rflags */
	pushq 16*8(%rdi)		/* cs */
	pushq 15*8(%rdi)		/* rip */
	call load_uregs
	mov 5*8(%rdi), %rdi
	iretq
run_user_sysret:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, kernel_ctx_rsp(%rip)
	leaq user_entry_fault(%rip), %rax
	mov %rax, isa_recover(%rip)
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
	mov kernel_ctx_rsp(%rip), %rsp
	mov $1, %eax
	jmp 1f
isa_user_return:
	mov kernel_ctx_rsp(%rip), %rsp
	/* The kernel's own SS and RFLAGS, whichever way the entry came: SS is
	 * null after an exception from user mode and STAR's after syscall; a
	 * trap gate keeps IF, every entry but syscall (FMASK) keeps AC. */
	mov %rsp, %rax
	pushq $0x10
	pushq %rax
	pushq $0x2
	pushq $0x08
	leaq 2f(%rip), %rax
	pushq %rax
	iretq
2:	xor %eax, %eax
1:	movq $0, isa_recover(%rip)
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

	.bss
	.balign 16
	.globl syscall_user_rsp, kernel_ctx_rsp
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
