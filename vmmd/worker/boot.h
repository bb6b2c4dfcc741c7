/* SPDX-License-Identifier: MIT */
/*
 * The 64-bit boot of vmmd's own guests (guests/abi/bootinfo.h): vmmd writes
 * a GDT, an identity map of the first 4 GiB with 2 MiB pages, the boot-info
 * block and the command line into low guest memory, then points the boot
 * vCPU at the ELF entry in long mode.
 */
#pragma once

#include <stdint.h>

#include "config/vm_config.h"
#include "vmmd/worker/guest_memory.h"

/* Write the boot structures; -ERANGE if memory is too small for them. */
int boot_write_tables(struct guest_memory *mem, const struct vm_config *config);
