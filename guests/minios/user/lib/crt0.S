/* SPDX-License-Identifier: MIT */
/*
 * A user program's entry: the kernel starts it here with rsp 16-aligned on
 * its stack and rdi = its argument string (the command line after the
 * program's name). main's return value is the exit status.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	xorl	%ebp, %ebp
	call	main
	movl	%eax, %edi
	call	exit
	ud2

	.section .note.GNU-stack, "", @progbits
