// SPDX-License-Identifier: MIT
/* Exception entry and the switch to user mode: see trap_entry.h. */
#include "boot.h"
#include "trap_entry.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The CPU pushes an error code for 8, 10-14, 17, 21, 29 and 30. The stack
 * is 16-byte aligned at the call: 5 words of CPU frame, error, vector and
 * 15 registers. */
__asm__(
	".text\n"
	".globl trap_entry_common, trap_entry_stubs, run_user_mode, user_return\n"
	"trap_entry_common:\n"
	"	push %r15\n	push %r14\n	push %r13\n	push %r12\n"
	"	push %r11\n	push %r10\n	push %r9\n	push %r8\n"
	"	push %rbp\n	push %rdi\n	push %rsi\n	push %rdx\n"
	"	push %rcx\n	push %rbx\n	push %rax\n"
	"	cld\n"                          /* the C ABI: the trapped code may have set DF */
	"	mov %rsp, %rdi\n"
	"	call trap\n"
	"	pop %rax\n	pop %rbx\n	pop %rcx\n	pop %rdx\n"
	"	pop %rsi\n	pop %rdi\n	pop %rbp\n	pop %r8\n"
	"	pop %r9\n	pop %r10\n	pop %r11\n	pop %r12\n"
	"	pop %r13\n	pop %r14\n	pop %r15\n"
	"	cmpq $" STR(TRAP_VEC_SYSCALL) ", (%rsp)\n"
	"	je 1f\n"
	"	add $16, %rsp\n"
	"	iretq\n"
	"1:	add $16, %rsp\n"
	"	pop %rcx\n"                     /* rip */
	"	add $8, %rsp\n"                 /* cs */
	"	pop %r11\n"                     /* rflags */
	"	pop %rsp\n"                     /* the user's stack */
	"	sysretq\n"

	"	.balign 16\n"
	"trap_entry_stubs:\n"
	"	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	"	.balign 16\n"
	"	.if (\\v == 8 || (\\v >= 10 && \\v <= 14) || \\v == 17 || \\v == 21 || \\v == 29 || \\v == 30)\n"
	"	nop\n	nop\n"
	"	.else\n"
	"	pushq $0\n"
	"	.endif\n"
	"	pushq $\\v\n"
	"	jmp trap_entry_common\n"
	"	.endr\n"

	/* rdi rip, rsi rsp, rdx cs, rcx ss, r8 rflags */
	"run_user_mode:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rsp, kernel_ctx_rsp(%rip)\n"
	"	pushq %rcx\n	pushq %rsi\n	pushq %r8\n	pushq %rdx\n	pushq %rdi\n"
	"	xor %eax, %eax\n	xor %ebx, %ebx\n	xor %ecx, %ecx\n	xor %edx, %edx\n"
	"	xor %esi, %esi\n	xor %edi, %edi\n	xor %ebp, %ebp\n	xor %r8d, %r8d\n"
	"	xor %r9d, %r9d\n	xor %r10d, %r10d\n	xor %r11d, %r11d\n	xor %r12d, %r12d\n"
	"	xor %r13d, %r13d\n	xor %r14d, %r14d\n	xor %r15d, %r15d\n"
	"	iretq\n"
	"user_return:\n"
	"	mov %rdi, %rax\n"
	"	mov kernel_ctx_rsp(%rip), %rsp\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".bss\n"
	".balign 8\n"
	"kernel_ctx_rsp: .quad 0\n"
	".text\n");

/* For guests that never install trap_entry_stubs: unreachable, and fatal if not. */
__attribute__((weak)) void trap(struct trapframe *tf)
{
	(void) tf;
	halt_forever();
}
