/* SPDX-License-Identifier: MIT */
/* Assembly shared by isa's entry.S and snippets.S. */
#ifndef ISA_ASM_H
#define ISA_ASM_H

/*
 * Continue at the next instruction with the kernel's CS (0x08), SS (0x10),
 * RFLAGS 0x2 (IF, AC, NT, DF clear) and RSP = reg, through an iretq to
 * itself: whatever CS/SS a case or an entry left (null SS after an
 * exception from user mode, STAR's after syscall, another code segment
 * after a far transfer). NT goes first (with NT set iretq is a task return:
 * #GP). Clobbers reg. Not pushfq: in shadow mode its IF is no virtual IF
 * (docs/shadow.md).
 */
#define KERNEL_IRET_SELF(reg) \
	pushq $0x2; popfq; \
	pushq $0x10; push reg; pushq $0x2; pushq $0x08; leaq 8f(%rip), reg; push reg; iretq; 8:

/* The callee-saved registers of the C ABI, around a context the kernel
 * leaves and comes back to (run_user, ktry). */
#define PUSH_CALLEE_SAVED push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15
#define POP_CALLEE_SAVED pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx

/* iretq to 1: at the same level with the frame SS = rdx, RSP = now,
 * RFLAGS = rax, CS = rcx, run with RFLAGS = r8 (NT there makes it a task
 * return); clobbers rbx. The iret_same snippets, kernel and user. */
#define IRET_SAME_TO_1 \
	mov %rsp, %rbx; push %rdx; push %rbx; push %rax; push %rcx; leaq 1f(%rip), %rbx; push %rbx; \
	push %r8; popfq; iretq

#endif
