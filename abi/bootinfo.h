/* SPDX-License-Identifier: MIT */
/*
 * The boot contract between vmmd and its own guests (DESIGN.md "Guest boot").
 *
 * vmmd enters a guest ELF at e_entry in 64-bit mode: paging on with an
 * identity map of the first 4 GiB (2 MiB pages), interrupts off, flat
 * 64-bit code/data segments, rsp = VMM_BOOT_STACK_TOP, and
 * rdi = guest-physical address of a struct vmm_boot_info.
 *
 * Guest-physical memory below VMM_LOAD_MIN is vmmd's: page tables, GDT, the
 * boot-info block and the command line live there. PT_LOAD segments must lie
 * in [VMM_LOAD_MIN, memory size).
 *
 * This header is shared by vmmd (C, hosted) and the guests (freestanding):
 * fixed-width fields only, no padding surprises.
 */
#ifndef VMM_ABI_BOOTINFO_H
#define VMM_ABI_BOOTINFO_H

#define VMM_BOOT_MAGIC        0x544f4f42444d4d56ULL /* "VMMDBOOT" little-endian */
#define VMM_BOOT_VERSION      1

#define VMM_BOOT_GDT          0x1000ULL
#define VMM_BOOT_PML4         0x2000ULL
#define VMM_BOOT_PDPT         0x3000ULL
#define VMM_BOOT_PD           0x4000ULL   /* 4 pages: 0x4000..0x7fff */
#define VMM_BOOT_INFO         0x8000ULL
#define VMM_BOOT_CMDLINE      0x9000ULL
#define VMM_BOOT_CMDLINE_MAX  4096
#define VMM_BOOT_STACK_TOP    0x80000ULL  /* a scratch stack; guests may set their own */
#define VMM_LOAD_MIN          0x100000ULL

#define VMM_BOOT_MODE_HW      0
#define VMM_BOOT_MODE_SHADOW  1

#ifdef __ASSEMBLER__
#else
#ifdef __STDC_HOSTED__
#if __STDC_HOSTED__
#include <stdint.h>
#else
typedef unsigned long long uint64_t;
typedef unsigned int uint32_t;
#endif
#endif

struct vmm_boot_info {
	uint64_t magic;         /* VMM_BOOT_MAGIC */
	uint32_t version;       /* VMM_BOOT_VERSION */
	uint32_t size;          /* sizeof(struct vmm_boot_info) */
	uint64_t memory_bytes;  /* guest-physical memory: [0, memory_bytes) */
	uint32_t vcpus;
	uint32_t mode;          /* VMM_BOOT_MODE_* */
	uint64_t cmdline;       /* guest-physical address of a NUL-terminated string */
	uint32_t cmdline_len;   /* without the NUL */
	uint32_t reserved;
};
#endif

/* I/O ports every vmmd platform has (QEMU-compatible). */
#define VMM_PORT_COM1         0x3f8
#define VMM_IRQ_COM1          4
#define VMM_PORT_DEBUG_EXIT   0xf4  /* write v: VM exits with status (v << 1) | 1 */

/*
 * Shadow mode's paravirtual interface (docs/shadow.md, "Hypercalls"), for
 * guest kernel code only: `out %al, $VMM_PORT_HYPERCALL` with rax = the
 * function and rdi its argument; rax holds the result. The port is open in
 * the monitor's I/O bitmap, so this is the cheapest way out of the guest.
 * The same from guest user mode is a #GP; in hw mode the port is unclaimed.
 * The older form: wrmsr to VMM_MSR_HYPERCALL (eax = 0 or 1: restore IF).
 */
#define VMM_PORT_HYPERCALL    0xef
#define VMM_MSR_HYPERCALL     0x4b564d00
#define VMM_HC_RESTORE_IF     0     /* rdi = IF (0 or 1); rax = IF before; -22 for another rdi */
#define VMM_HC_ENOSYS         (-38) /* rax for an unknown function */

/*
 * vmmd's info page, an MMIO device every vmmd VM has (devices/vmm_info.c),
 * there so guests can exercise memory-mapped I/O the same way in both modes:
 * in hw mode KVM exits on the access, in shadow mode it is the seed's
 * "second kind of page fault". Registers are 32-bit.
 */
#define VMM_INFO_MMIO_BASE    0xfebff000ULL
#define VMM_INFO_MAGIC        0x00   /* RO: 0x444d4d56 "VMMD" */
#define VMM_INFO_VERSION      0x04   /* RO: 1 */
#define VMM_INFO_SCRATCH      0x08   /* RW: holds what was written */
#define VMM_INFO_ACCESSES     0x0c   /* RO: accesses to this page so far (this read included) */
#define VMM_INFO_MAGIC_VALUE  0x444d4d56u

#endif
