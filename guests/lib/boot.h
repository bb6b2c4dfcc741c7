/* SPDX-License-Identifier: MIT */
/*
 * What a guest learns at boot, the same whichever loader started it.
 *
 * entry.S has two ways in (see guests/README.md):
 *   _start      (ELF e_entry) vmmd, 64-bit, rdi = struct vmm_boot_info *
 *   pvh_start32 (Xen PHYS32_ENTRY note) QEMU -kernel, 32-bit, ebx = hvm_start_info *
 * Both switch to the guest's own stack, zero .bss, and call guest_start(),
 * which fills struct guest_boot, initializes COM1 and calls guest_main().
 */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include "abi/bootinfo.h"
#include "types.h"

enum guest_loader {
	GUEST_LOADER_VMMD = 0,
	GUEST_LOADER_PVH  = 1,
};

struct guest_boot {
	uint64_t memory_bytes;  /* guest RAM: vmmd's memory_bytes, PVH: top of RAM in the memmap */
	uint32_t vcpus;         /* vmmd's vcpus, PVH: enabled CPUs in the ACPI MADT (1 if none) */
	uint32_t mode;          /* VMM_BOOT_MODE_*; PVH: always VMM_BOOT_MODE_HW */
	uint32_t loader;        /* enum guest_loader */
	uint32_t reserved;
	const char *cmdline;    /* guest-owned copy, never NULL ("" if none) */
	uint64_t info_paddr;    /* the loader's boot block (vmm_boot_info or hvm_start_info) */
};

/* Exit status used when vmmd's boot info is unusable (bad magic or size). */
#define GUEST_EXIT_BAD_BOOT 0x7f

/* Each guest defines this. Returning from it exits with code 0. */
void guest_main(const struct guest_boot *b);

/* The normalized boot info (valid once guest_main is called). */
const struct guest_boot *guest_boot(void);
const char *guest_mode_name(uint32_t mode);

/* Write code to the debug-exit port 0xf4 (status (code << 1) | 1), then cli;hlt forever. */
__noreturn void vmm_exit(int code);
/* cli; hlt forever. */
__noreturn void halt_forever(void);

/* Called by entry.S only. */
__noreturn void guest_start(uint64_t info_paddr, uint32_t loader);

/* pvh.c: fill b from a struct hvm_start_info; false if the magic is wrong. */
bool pvh_parse(struct guest_boot *b, uint64_t start_info_paddr, char *cmdline_buf, size_t size);

#endif
