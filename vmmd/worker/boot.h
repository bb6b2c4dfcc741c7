/* SPDX-License-Identifier: MIT */
/*
 * The 64-bit boot of vmmd's own guests (abi/bootinfo.h): vmmd writes
 * a GDT, an identity map of the first 4 GiB with 2 MiB pages, the boot-info
 * block and the command line into low guest memory, then points the boot
 * vCPU at the ELF entry in long mode.
 */
#pragma once

#include <stdint.h>

#include "config/vm_config.h"
#include "vmmd/worker/guest_memory.h"

/* PML4[0] -> PDPT; PDPT[0..3] -> four PDs (pd .. pd + 0x3fff) of 2 MiB
 * pages: an identity map of the first 4 GiB, written into low memory (the
 * guest-physical offsets are below the end of low). vmmd's guests and the
 * bzImage 64-bit entry both start on it. */
void boot_write_identity_map(uint8_t *low, uint64_t pml4, uint64_t pdpt, uint64_t pd);

/* Write the boot structures; -ERANGE if memory is too small for them. */
int boot_write_tables(struct guest_memory *mem, const struct vm_config *config);
