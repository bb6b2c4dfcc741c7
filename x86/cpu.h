/* SPDX-License-Identifier: MIT */
/*
 * x86-64 architectural constants (Intel SDM vol. 3, AMD APM vol. 2): RFLAGS,
 * control registers, EFER, the MSRs vmmd touches, exception vectors, the
 * #PF error code, page-table entry bits and the descriptors vmmd builds.
 * The one place they are spelled: the worker (boot, inspection), the shadow
 * engine and the guest page walker all take them from here.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* RFLAGS */
#define X86_RFLAGS_CF    (1ULL << 0)
#define X86_RFLAGS_FIXED (1ULL << 1)    /* always 1 */
#define X86_RFLAGS_PF    (1ULL << 2)
#define X86_RFLAGS_AF    (1ULL << 4)
#define X86_RFLAGS_ZF    (1ULL << 6)
#define X86_RFLAGS_SF    (1ULL << 7)
#define X86_RFLAGS_TF    (1ULL << 8)
#define X86_RFLAGS_IF    (1ULL << 9)
#define X86_RFLAGS_DF    (1ULL << 10)
#define X86_RFLAGS_OF    (1ULL << 11)
#define X86_RFLAGS_IOPL  (3ULL << 12)
#define X86_RFLAGS_NT    (1ULL << 14)
#define X86_RFLAGS_RF    (1ULL << 16)
#define X86_RFLAGS_VM    (1ULL << 17)
#define X86_RFLAGS_AC    (1ULL << 18)
#define X86_RFLAGS_VIF   (1ULL << 19)
#define X86_RFLAGS_VIP   (1ULL << 20)
#define X86_RFLAGS_ID    (1ULL << 21)

/* CR0 */
#define X86_CR0_PE  (1ULL << 0)
#define X86_CR0_MP  (1ULL << 1)
#define X86_CR0_EM  (1ULL << 2)
#define X86_CR0_TS  (1ULL << 3)
#define X86_CR0_ET  (1ULL << 4)
#define X86_CR0_NE  (1ULL << 5)
#define X86_CR0_WP  (1ULL << 16)
#define X86_CR0_AM  (1ULL << 18)
#define X86_CR0_NW  (1ULL << 29)
#define X86_CR0_CD  (1ULL << 30)
#define X86_CR0_PG  (1ULL << 31)

/* CR4 */
#define X86_CR4_DE         (1ULL << 3)
#define X86_CR4_PSE        (1ULL << 4)
#define X86_CR4_PAE        (1ULL << 5)
#define X86_CR4_PGE        (1ULL << 7)
#define X86_CR4_UMIP       (1ULL << 11)
#define X86_CR4_LA57       (1ULL << 12)
#define X86_CR4_FSGSBASE   (1ULL << 16)
#define X86_CR4_PCIDE      (1ULL << 17)
#define X86_CR4_OSXSAVE    (1ULL << 18)
#define X86_CR4_SMEP       (1ULL << 20)
#define X86_CR4_SMAP       (1ULL << 21)
#define X86_CR4_PKE        (1ULL << 22)

/* EFER */
#define X86_EFER_SCE  (1ULL << 0)
#define X86_EFER_LME  (1ULL << 8)
#define X86_EFER_LMA  (1ULL << 10)
#define X86_EFER_NXE  (1ULL << 11)

/* Debug registers: what reads as fixed, what a write may set. */
#define X86_DR6_FIXED_1    0xffff0ff0ULL   /* bits 4-11 and 16-31 read as 1 (no RTM, no bus-lock detect) */
#define X86_DR6_VOLATILE   0x0000e00fULL   /* B0-B3, BD, BS, BT */
#define X86_DR7_FIXED_1    0x00000400ULL
#define X86_DR7_VOLATILE   0xffff2bffULL   /* bits 12, 14, 15 read as 0 */

/* The 64-bit state vmmd's boot contract enters guests in (abi/bootinfo.h). */
#define X86_CR0_BOOT  (X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG)
#define X86_CR4_BOOT  X86_CR4_PAE
#define X86_EFER_BOOT (X86_EFER_LME | X86_EFER_LMA)

/* MSRs */
#define X86_MSR_TSC             0x00000010u
#define X86_MSR_PLATFORM_INFO   0x000000ceu   /* bit 31: CPUID faulting supported */
#define X86_MSR_MISC_FEATURES   0x00000140u   /* bit 0: CPUID faulting enabled */
#define X86_MSR_EFER            0xc0000080u
#define X86_MSR_STAR            0xc0000081u
#define X86_MSR_LSTAR           0xc0000082u
#define X86_MSR_CSTAR           0xc0000083u
#define X86_MSR_SFMASK          0xc0000084u
#define X86_MSR_FS_BASE         0xc0000100u
#define X86_MSR_GS_BASE         0xc0000101u
#define X86_MSR_KERNEL_GS_BASE  0xc0000102u

/* Exception vectors */
enum x86_vector {
	X86_DE = 0, X86_DB = 1, X86_NMI = 2, X86_BP = 3, X86_OF = 4, X86_BR = 5, X86_UD = 6, X86_NM = 7,
	X86_DF = 8, X86_TS = 10, X86_NP = 11, X86_SS = 12, X86_GP = 13, X86_PF = 14, X86_MF = 16,
	X86_AC = 17, X86_MC = 18, X86_XM = 19,
};

/* Does this exception push an error code? */
static inline bool x86_vector_has_error(unsigned v)
{
	return v == X86_DF || (v >= X86_TS && v <= X86_PF) || v == X86_AC || v == 21 || v == 29 || v == 30;
}

/* 4-level paging: bits 63..47 of an address all equal. */
static inline bool x86_canonical(uint64_t va)
{
	return (uint64_t) ((int64_t) (va << 16) >> 16) == va;
}

/* #PF error code */
#define X86_PF_PROT   (1u << 0)   /* 0: not present; 1: protection or reserved bit */
#define X86_PF_WRITE  (1u << 1)
#define X86_PF_USER   (1u << 2)
#define X86_PF_RSVD   (1u << 3)
#define X86_PF_INSTR  (1u << 4)   /* instruction fetch (reported with EFER.NXE or CR4.SMEP) */

/* Page-table entries (4-level paging) */
#define X86_PTE_P     (1ULL << 0)
#define X86_PTE_W     (1ULL << 1)
#define X86_PTE_U     (1ULL << 2)
#define X86_PTE_PWT   (1ULL << 3)
#define X86_PTE_PCD   (1ULL << 4)
#define X86_PTE_A     (1ULL << 5)
#define X86_PTE_D     (1ULL << 6)
#define X86_PTE_PS    (1ULL << 7)    /* PAT in a 4 KiB PTE */
#define X86_PTE_G     (1ULL << 8)
#define X86_PTE_NX    (1ULL << 63)
#define X86_PTE_ADDR  0x000ffffffffff000ULL   /* bits 12..51 */
#define X86_CR3_ADDR  0x000ffffffffff000ULL

/* Segment descriptors: flat 64-bit ring-0 code and data (what vmmd's boot
 * GDT and the monitor hold). */
#define X86_DESC_CODE64_RING0 0x00af9a000000ffffULL
#define X86_DESC_DATA_RING0   0x00cf92000000ffffULL
#define X86_DESC_TYPE_TSS64   0x9       /* available 64-bit TSS */
#define X86_GATE_INTERRUPT    0xe
#define X86_GATE_TRAP         0xf
