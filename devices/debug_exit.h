/* SPDX-License-Identifier: MIT */
/*
 * QEMU isa-debug-exit semantics on one port (0xf4 on vmmd's platform): a
 * write of value v (1, 2 or 4 bytes, little-endian) ends the VM with exit
 * status (v << 1) | 1, truncated to 31 bits so it is never negative. Reads
 * return 0. Other sizes: -EINVAL.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct debug_exit {
	void (*on_exit)(void *userdata, int status);
	void *userdata;
};

/* bus_io_fn; opaque is a struct debug_exit. */
int debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
