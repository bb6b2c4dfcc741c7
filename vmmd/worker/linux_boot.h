/* SPDX-License-Identifier: MIT */
/*
 * Booting Linux in hw mode (docs/linux.md): the guest-physical layout vmmd
 * writes below 1 MiB, the e820 memory map, command line and initrd
 * placement shared by both loaders, and the loaders themselves:
 *   linux_pvh.c      ELF vmlinux through its Xen PHYS32_ENTRY note
 *                    (hvm_start_info, 32-bit protected mode, paging off)
 *   linux_bzimage.c  bzImage, boot protocol 2.12+ 64-bit entry (boot_params)
 * Kernel images come from the user and are checked field by field; nothing
 * is written outside guest RAM and every placement is checked against the
 * kernel's own limits (init_size, initrd_addr_max, cmdline_size).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config/vm_config.h"
#include "vmmd/worker/guest_memory.h"
#include "vmmd/worker/vcpu.h"
#include "vmmd/worker/vm_error.h"

/* Low memory, all below the EBDA: */
#define LINUX_GDT          0x0500ULL   /* null, null, 0x10 code, 0x18 data (__BOOT_CS, __BOOT_DS) */
#define LINUX_START_INFO   0x6000ULL   /* PVH hvm_start_info */
#define LINUX_MODLIST      0x6040ULL   /* PVH module list (the initrd) */
#define LINUX_MEMMAP       0x6100ULL   /* PVH memory map */
#define LINUX_BOOT_PARAMS  0x7000ULL   /* bzImage zero page */
#define LINUX_BOOT_STACK   0x8ff0ULL
#define LINUX_PML4         0x9000ULL   /* bzImage: identity map of 4 GiB, 2 MiB pages */
#define LINUX_PDPT         0xa000ULL
#define LINUX_PD           0xb000ULL   /* 4 pages */
#define LINUX_CMDLINE      0x20000ULL
#define LINUX_CMDLINE_MAX  2048        /* x86 COMMAND_LINE_SIZE, NUL included */
#define LINUX_EBDA         0x9fc00ULL  /* MP table (mptable.c); reserved in e820 */
#define LINUX_HIGH_MEMORY  0x100000ULL
#define LINUX_INITRD_MAX   (1ULL << 30)

#define E820_RAM      1
#define E820_RESERVED 2
#define LINUX_E820_MAX 8

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

struct linux_boot_params {
	enum vm_boot kind;             /* VM_BOOT_PVH or VM_BOOT_BZIMAGE */
	const uint8_t *kernel;
	size_t kernel_size;
	int initrd_fd;                 /* < 0: none (image_file.h) */
	const char *cmdline;           /* complete (linux_cmdline_compose) */
	unsigned vcpus;
};

/* What was placed where, for the log and for tests. */
struct linux_boot_layout {
	struct vcpu_entry entry;
	uint64_t kernel_start, kernel_end;   /* [start, end): what the kernel may use */
	uint64_t initrd_start, initrd_size;  /* size 0: none */
	size_t e820_entries;
	struct e820_entry e820[LINUX_E820_MAX];
};

/* bzImage when the file carries the boot protocol header, PVH when it is an
 * ELF whose entry is not a loaded address but that has a PVH note, vmmd's
 * own ABI for any other ELF. */
enum vm_boot linux_boot_detect(const uint8_t *image, size_t size);

/* Load the kernel, the initrd and every boot structure; fill out the boot
 * vCPU's entry. 0, or negative errno with err filled: WORKER_ERROR_INITRD
 * when the initrd is to blame, WORKER_ERROR_KERNEL for the kernel or what
 * it is given (memory, command line). */
int linux_boot_load(struct guest_memory *mem, const struct linux_boot_params *p,
		    struct linux_boot_layout *ret, struct vm_error *err);

/* The command line the kernel gets: the user's, then what the host profile
 * needs, then one virtio_mmio.device= per device. Returns a malloc'd string
 * or NULL (ENOMEM). */
char *linux_cmdline_compose(const char *user, const char *profile_extra, const char *const *devices,
			    size_t n_devices);

/* --- for the two loaders ------------------------------------------------------ */

/* The map both protocols hand over: RAM below the EBDA, the EBDA and BIOS
 * area reserved, RAM from 1 MiB to the end. */
size_t linux_e820_build(uint64_t memory_size, struct e820_entry *out, size_t max);
/* Place initrd below min(limit, memory end), page-aligned, not below floor.
 * Its failures are WORKER_ERROR_INITRD. */
int linux_initrd_place(struct guest_memory *mem, int fd, uint64_t floor, uint64_t limit,
		       uint64_t *ret_start, uint64_t *ret_size, struct vm_error *err);
/* Write the flat GDT at LINUX_GDT, with a 64-bit or a 32-bit code segment. */
void linux_write_gdt(struct guest_memory *mem, bool code64);

int linux_pvh_load(struct guest_memory *mem, const struct linux_boot_params *p,
		   struct linux_boot_layout *ret, struct vm_error *err);
int linux_bzimage_load(struct guest_memory *mem, const struct linux_boot_params *p,
		       struct linux_boot_layout *ret, struct vm_error *err);
