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

#endif
