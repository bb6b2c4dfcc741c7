/* SPDX-License-Identifier: MIT */
/*
 * Guest entry points. One ELF, two loaders (guests/README.md):
 *
 *   _start       e_entry, for vmmd (abi/bootinfo.h): 64-bit mode, paging on
 *                with an identity map of the first 4 GiB, interrupts off,
 *                rdi = guest-physical address of struct vmm_boot_info.
 *                The vmmd path runs no privileged instruction before
 *                guest_start(): no cli, no lgdt, no segment loads (each one
 *                would trap in shadow mode). It keeps vmmd's GDT and CR3.
 *
 *   pvh_start32  the Xen PHYS32_ENTRY note, for QEMU -kernel: 32-bit
 *                protected mode, paging off, flat segments, ebx = physical
 *                address of struct hvm_start_info. Builds its own identity
 *                map of 4 GiB (2 MiB pages) and 64-bit GDT, enters long mode.
 *
 * Both continue at common64 with rdi = boot block, esi = enum guest_loader,
 * switch to the guest's own 16 KiB stack, zero .bss (not .noinit) and call
 * guest_start(), which never returns.
 */
#define GUEST_LOADER_VMMD 0
#define GUEST_LOADER_PVH  1

#define CR0_PE    0x00000001
#define CR0_PG    0x80000000
#define CR4_PAE   0x00000020
#define MSR_EFER  0xc0000080
#define EFER_LME  0x00000100
#define PTE_P     0x001
#define PTE_W     0x002
#define PTE_PS    0x080

#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define BOOT_STACK_SIZE (16 * 1024)

	.section .text.entry, "ax"

	.code64
	.globl _start
	.type _start, @function
_start:
	xorl	%esi, %esi			/* GUEST_LOADER_VMMD; rdi = vmm_boot_info */
	jmp	common64
	.size _start, . - _start

common64:
	cld
	leaq	boot_stack_top(%rip), %rsp
	xorl	%ebp, %ebp
	movq	%rdi, %r12
	movl	%esi, %r13d
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb
	movq	%r12, %rdi
	movl	%r13d, %esi
	call	guest_start
1:	hlt					/* not reached: guest_start is noreturn */
	jmp	1b

	.code32
	.globl pvh_start32
	.type pvh_start32, @function
pvh_start32:
	cli
	cld
	movl	%ebx, %esi			/* hvm_start_info, kept in esi */

	/* Page tables: 1 PML4 + 1 PDPT + 4 PDs, all zeroed first. */
	movl	$pvh_pml4, %edi
	movl	$(6 * 4096 / 4), %ecx
	xorl	%eax, %eax
	rep stosl

	movl	$(pvh_pdpt + PTE_P + PTE_W), pvh_pml4

	movl	$pvh_pdpt, %edi
	movl	$(pvh_pd + PTE_P + PTE_W), %eax
	movl	$4, %ecx
1:	movl	%eax, (%edi)
	addl	$4096, %eax
	addl	$8, %edi
	loop	1b

	/* 2048 PD entries: entry i maps [i * 2 MiB, (i + 1) * 2 MiB). */
	movl	$pvh_pd, %edi
	movl	$(PTE_P + PTE_W + PTE_PS), %eax
	movl	$2048, %ecx
2:	movl	%eax, (%edi)
	addl	$(2 * 1024 * 1024), %eax
	addl	$8, %edi
	loop	2b

	lgdt	pvh_gdt_desc

	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4

	movl	$pvh_pml4, %eax
	movl	%eax, %cr3

	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr

	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0

	ljmp	$0x08, $pvh_start64
	.size pvh_start32, . - pvh_start32

	.code64
pvh_start64:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	%esi, %edi			/* zero-extends: hvm_start_info */
	movl	$GUEST_LOADER_PVH, %esi
	jmp	common64

	.section .rodata.entry, "a"
	.balign 8
pvh_gdt:
	.quad	0				/* null */
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code, DPL 0 */
	.quad	0x00cf92000000ffff		/* 0x10: flat data, DPL 0 */
pvh_gdt_end:
	.balign 8
	.word	0				/* pad so the base is aligned */
pvh_gdt_desc:
	.word	pvh_gdt_end - pvh_gdt - 1
	.long	pvh_gdt

	/*
	 * PVH entry note. desc is 8 bytes: QEMU reads it as a size_t. Keep
	 * the section 4-aligned: QEMU pads the name to the PT_NOTE's p_align.
	 */
	.section .note.Xen, "a", @note
	.balign 4
	.long	4				/* namesz: "Xen\0" */
	.long	8				/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.balign 4
	.quad	pvh_start32

	/* Not zeroed at boot: the stack, and page tables the stub fills itself. */
	.section .noinit.boot, "aw", @nobits
	.balign 4096
pvh_pml4:	.skip 4096
pvh_pdpt:	.skip 4096
pvh_pd:		.skip 4 * 4096
	.balign 16
boot_stack:	.skip BOOT_STACK_SIZE
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
