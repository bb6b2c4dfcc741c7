/* SPDX-License-Identifier: MIT */
/*
 * The instructions under test, each twice: k_NAME in kernel text, run by
 * ktry() at CPL0 (ends with ret), and u_NAME in the user page, entered by
 * run_user() at CPL3 (ends with syscall, so the kernel sees every register
 * as the instruction left it). Operands come in registers set by the case:
 * rax/rbx/rcx/rdx data, rsi/rdi addresses, rbp the stack-relative operand.
 *
 * ktry(snippet, regs): load every general register and the status flags
 * from struct uregs, call the snippet, store every register and RFLAGS
 * back. A fault inside lands at ktry_fault (isa_recover), which stores the
 * registers as the fault left them and returns 1; else 0. DF is cleared
 * and the kernel's RSP restored on the way out either way.
 */
#include "isa_asm.h"

/* One line after cpp, its statements separated by ';' (a gas macro would
 * take only the first of them). */
#define SNIP(name, ...) \
	.text; .globl k_##name; k_##name: __VA_ARGS__; ret; \
	.section .text.user, "ax", @progbits; .globl u_##name; u_##name: __VA_ARGS__; syscall

	/* The user page(s): one section, page aligned, mapped at ISA_USER_CODE. */
	.section .text.user, "ax", @progbits
	.balign 4096
	.globl user_text_start
user_text_start:
	.globl u_probe
u_probe:
	syscall
	int $0x80
	ud2

/* --- control and debug registers, MSRs, descriptor tables --------------------------- */
	SNIP(cr0_write, mov %rax, %cr0; mov %cr0, %rbx)
	SNIP(cr4_write, mov %rax, %cr4; mov %cr4, %rbx)
	SNIP(cr3_write, mov %rax, %cr3; mov %cr3, %rbx; mov (%rsi), %rcx)
	SNIP(cr8_write, mov %rax, %cr8; mov %cr8, %rbx)
	SNIP(cr2_write, mov %rax, %cr2; mov %cr2, %rbx)
	SNIP(cr0_read, mov %cr0, %rbx)
	SNIP(dr7_write, mov %rax, %dr7; mov %dr7, %rbx)
	SNIP(dr0_write, mov %rax, %dr0; mov %dr0, %rbx)
	SNIP(rdmsr, rdmsr)
	SNIP(wrmsr, wrmsr; rdmsr)
	SNIP(lgdt, lgdt (%rsi); sgdt (%rdi))
	SNIP(lidt, lidt (%rsi); sidt (%rdi))
	SNIP(sgdt, sgdt (%rdi))
	SNIP(sidt, sidt (%rdi))
	SNIP(str, str %rbx)
	SNIP(sldt, sldt %rbx)
	SNIP(smsw, smsw %rbx)
	SNIP(lmsw, lmsw %ax; mov %cr0, %rbx)
	SNIP(clts, clts; mov %cr0, %rbx)
	SNIP(ltr, ltr %ax)
	SNIP(lldt, lldt %ax; sldt %rbx)
	SNIP(swapgs, swapgs)
	SNIP(cpuid, cpuid)
	SNIP(invlpg, invlpg (%rsi))
	SNIP(wbinvd, wbinvd)
	SNIP(hlt, hlt)
	SNIP(cli, cli)
	SNIP(sti, sti)

/* --- port I/O ------------------------------------------------------------------------ */
	SNIP(outb_inb, outb %al, %dx; inb %dx, %al)
	SNIP(inb, inb %dx, %al)
	SNIP(rep_outsb, rep outsb)
	SNIP(rep_insb, rep insb)
	SNIP(outsb, outsb)
	SNIP(inb_imm, inb $0xff, %al)

/* --- exceptions ---------------------------------------------------------------------- */
	SNIP(div, div %rcx)
	SNIP(idiv, idiv %rcx)
	SNIP(ud2, ud2)
	SNIP(load, mov (%rsi), %rax)
	SNIP(store, mov %rax, (%rdi))
	SNIP(load_rbp, mov (%rbp), %rax)
	SNIP(int3, int3)
	SNIP(int80, int $0x80)
	SNIP(int81, int $0x81)
	SNIP(int82, int $0x82)
	SNIP(int83, int $0x83)
	SNIP(int_high, int $0xf0)
	SNIP(into, .byte 0xce)
	SNIP(misaligned, mov 1(%rsi), %rax)

	.text
	.globl k_fetch
k_fetch:
	call *%rsi
	ret
	.section .text.user, "ax", @progbits
	.globl u_fetch
u_fetch:
	jmp *%rsi


/* --- user-mode entries and returns ------------------------------------------------------ */
	SNIP(pushf, pushfq; pop %rax)
	SNIP(syscall_only, nop)
	SNIP(ac_load, push %rbx; popfq; mov 1(%rsi), %rax; pushfq; pop %rbx)

/* iretq to the same level: ss in rdx, rflags in rax, cs in rcx; afterwards
 * rax = RFLAGS; the kernel copy puts CS/SS back with a second iretq. r8 is
 * the RFLAGS to iretq with (NT matters). */
	.text
	.globl k_iret_same
k_iret_same:
	IRET_SAME_TO_1
1:	pushfq
	pop %rax
	mov %rsp, %rbx
	KERNEL_IRET_SELF(%rbx)
	ret
	.section .text.user, "ax", @progbits
	.globl u_iret_same
u_iret_same:
	IRET_SAME_TO_1
1:	pushfq
	pop %rax
	syscall

/* Far returns to the same level: cs in rdx; afterwards CS is put back with
 * lretq (the kernel copy). q: 8-byte pops, l: 4-byte pops (the target is
 * below 4 GiB). */
	.text
	.globl k_lretq, k_lretl
k_lretq:
	push %rdx
	leaq 1f(%rip), %rbx
	push %rbx
	lretq
1:	jmp far_restore
k_lretl:
	sub $8, %rsp
	leaq 1f(%rip), %rbx
	movl %ebx, (%rsp)
	movl %edx, 4(%rsp)
	lretl
1:	jmp far_restore
/* ljmp/lcall through a far pointer at (%rsi): offset, then selector. */
	.globl k_ljmpq, k_ljmpl, k_lcallq, k_lcalll
k_ljmpq:
	leaq 1f(%rip), %rbx
	mov %rbx, (%rsi)
	mov %dx, 8(%rsi)
	rex64 ljmp *(%rsi)
1:	jmp far_restore
k_ljmpl:
	leaq 1f(%rip), %rbx
	mov %ebx, (%rsi)
	mov %dx, 4(%rsi)
	ljmpl *(%rsi)
1:	jmp far_restore
k_lcallq:
	leaq 1f(%rip), %rbx
	mov %rbx, (%rsi)
	mov %dx, 8(%rsi)
	mov %rsp, %rbp
	rex64 lcall *(%rsi)
1:	mov (%rsp), %r9			/* the pushed rip */
	mov 8(%rsp), %r10		/* the pushed cs */
	mov %rbp, %rsp
	jmp far_restore
k_lcalll:
	leaq 1f(%rip), %rbx
	mov %ebx, (%rsi)
	mov %dx, 4(%rsi)
	mov %rsp, %rbp
	lcalll *(%rsi)
1:	movl (%rsp), %r9d
	movl 4(%rsp), %r10d
	mov %rbp, %rsp
	jmp far_restore
far_restore:
	pushq $0x08
	leaq 1f(%rip), %rbx
	push %rbx
	lretq
1:	ret

/* Segment loads: the selector in rax (or at (%rsi) for lss/lfs/lgs, an
 * m16:32: 4 bytes of offset, then the selector; REX.W's m16:64 is Intel's
 * only). The kernel copy's caller puts the registers back. */
	SNIP(mov_ds, mov %ax, %ds)
	SNIP(mov_es, mov %ax, %es)
	SNIP(mov_fs, mov %ax, %fs)
	SNIP(mov_gs, mov %ax, %gs)
	SNIP(mov_ss, mov %ax, %ss)
	SNIP(pop_fs, push %rax; pop %fs)
	SNIP(pop_gs, push %rax; pop %gs)
	SNIP(lfs, lfs (%rsi), %ebx)
	SNIP(lgs, lgs (%rsi), %ebx)
	SNIP(lss, lss (%rsi), %ebx)

	.text
	.globl k_seg_restore
k_seg_restore:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	ret

/* --- page-table edits: the PTE at (%rdi), its neighbour at 8(%rdi) ------------------------ */
	SNIP(pt_mov, mov %rax, (%rdi))
	SNIP(pt_mov32, mov %eax, (%rdi))
	SNIP(pt_mov8, mov %al, (%rdi))
	SNIP(pt_mov_imm, movq $0x580067, (%rdi))
	SNIP(pt_movsq, movsq)
	SNIP(pt_rep_movsq, rep movsq)
	SNIP(pt_stosq, stosq)
	SNIP(pt_rep_stosq, rep stosq)
	SNIP(pt_stosl, stosl)
	SNIP(pt_stosb, stosb)
	SNIP(pt_xchg, xchg %rax, (%rdi))
	SNIP(pt_cmpxchg, cmpxchg %rbx, (%rdi))
	SNIP(pt_lock_cmpxchg, lock cmpxchg %rbx, (%rdi))
	SNIP(pt_cmpxchg8b, cmpxchg8b (%rdi))
	SNIP(pt_lock_cmpxchg8b, lock cmpxchg8b (%rdi))
	SNIP(pt_cmpxchg16b, cmpxchg16b (%rdi))
	SNIP(pt_lock_cmpxchg16b, lock cmpxchg16b (%rdi))
	SNIP(pt_add, add %rax, (%rdi))
	SNIP(pt_sub, sub %rax, (%rdi))
	SNIP(pt_and, and %rax, (%rdi))
	SNIP(pt_or, or %rax, (%rdi))
	SNIP(pt_xor, xor %rax, (%rdi))
	SNIP(pt_lock_add, lock add %rax, (%rdi))
	SNIP(pt_lock_and, lock and %rax, (%rdi))
	SNIP(pt_lock_or, lock or %rax, (%rdi))
	SNIP(pt_lock_xor, lock xor %rax, (%rdi))
	SNIP(pt_add_imm, addq $0x1000, (%rdi))
	SNIP(pt_and_imm, andq $-3, (%rdi))
	SNIP(pt_or_imm8, orb $0x40, (%rdi))
	SNIP(pt_inc, incq (%rdi))
	SNIP(pt_dec, decq (%rdi))
	SNIP(pt_lock_inc, lock incq (%rdi))
	SNIP(pt_not, notq (%rdi))
	SNIP(pt_neg, negq (%rdi))
	SNIP(pt_adc, adc %rax, (%rdi))
	SNIP(pt_sbb, sbb %rax, (%rdi))
	SNIP(pt_bts, bts %rax, (%rdi))
	SNIP(pt_btr, btr %rax, (%rdi))
	SNIP(pt_btc, btc %rax, (%rdi))
	SNIP(pt_lock_bts, lock bts %rax, (%rdi))
	SNIP(pt_lock_btr, lock btr %rax, (%rdi))
	SNIP(pt_bts_imm, btsq $1, (%rdi))
	SNIP(pt_btr_imm, btrq $63, (%rdi))
	SNIP(pt_btc_imm, btcq $2, (%rdi))
	SNIP(pt_lock_btr_imm, lock btrq $0, (%rdi))
	SNIP(pt_setc, setc (%rdi))
	SNIP(pt_setz, setz 1(%rdi))
	SNIP(pt_push, xchg %rsp, %rdi; push %rax; xchg %rsp, %rdi)
	SNIP(pt_call, xchg %rsp, %rdi; call 1f; 1: xchg %rsp, %rdi)
	SNIP(pt_xadd, xadd %rax, (%rdi))

/* --- kernel side: the trampoline ------------------------------------------------------ */
	.text
	.globl ktry, ktry_fault
ktry:
	PUSH_CALLEE_SAVED
	push %rsi
	mov %rsp, ktry_rsp(%rip)
	mov %rdi, ktry_target(%rip)
	leaq ktry_fault(%rip), %rax
	mov %rax, isa_recover(%rip)
	mov %rsi, %rdi
	pushq 17*8(%rdi)
	andq $0xcd5, (%rsp)		/* status flags and DF only: never IF, TF, AC, NT */
	popfq
	call load_uregs			/* movs only: the flags stay */
	mov 5*8(%rdi), %rdi
	call *ktry_target(%rip)
	pushfq
	call ktry_store
	xor %eax, %eax
	jmp 1f
ktry_fault:
	/* On the kernel stack below ktry's frame, whatever rsp the fault left,
	 * and with the kernel's CS, SS and RFLAGS, whatever the case loaded
	 * before it faulted (a far transfer, an iretq that worked). */
	mov %rax, ktry_rax(%rip)
	mov ktry_rsp(%rip), %rsp
	sub $256, %rsp
	mov %rsp, %rax
	KERNEL_IRET_SELF(%rax)
	mov ktry_rax(%rip), %rax
	pushfq
	call ktry_store
	mov $1, %eax
1:	mov ktry_rsp(%rip), %rsp
	movq $0, isa_recover(%rip)
	cld
	pop %rsi
	POP_CALLEE_SAVED
	ret

/* Store the registers into the struct uregs ktry was given; the flags the
 * caller pushed are at 8(%rsp). Clobbers nothing but the stack slot. */
ktry_store:
	push %rdi
	mov ktry_rsp(%rip), %rdi
	mov (%rdi), %rdi		/* the saved rsi: struct uregs * */
	mov %rax, 0*8(%rdi)
	mov %rbx, 1*8(%rdi)
	mov %rcx, 2*8(%rdi)
	mov %rdx, 3*8(%rdi)
	mov %rsi, 4*8(%rdi)
	mov %rbp, 6*8(%rdi)
	mov %r8, 7*8(%rdi)
	mov %r9, 8*8(%rdi)
	mov %r10, 9*8(%rdi)
	mov %r11, 10*8(%rdi)
	mov %r12, 11*8(%rdi)
	mov %r13, 12*8(%rdi)
	mov %r14, 13*8(%rdi)
	mov %r15, 14*8(%rdi)
	mov 16(%rsp), %rax
	mov %rax, 17*8(%rdi)		/* rflags */
	mov %rdi, %rax
	pop %rdi
	mov %rdi, 5*8(%rax)
	mov 0*8(%rax), %rax
	ret

	.bss
	.balign 8
	.globl isa_recover
isa_recover:	.quad 0
ktry_rsp:	.quad 0
ktry_target:	.quad 0
ktry_rax:	.quad 0

	.section .text.user, "ax", @progbits
	.balign 4096
	.globl user_text_end
user_text_end:

	.section .note.GNU-stack, "", @progbits
