/* SPDX-License-Identifier: MIT */
/*
 * QEMU isa-debug-exit: the value written, of any width the port accepts,
 * becomes the exit status (v << 1) | 1, so a guest can never report plain
 * success (0) by accident. Like QEMU, the offset inside the port is ignored.
 */
#include "devices/debug_exit.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	const struct debug_exit *dev = opaque;
	uint64_t v = 0;
	unsigned i;

	if (!dev || !dev->on_exit || !data)
		return -EINVAL;
	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;

	if (!is_write) {
		memset(data, 0, size);
		return 0;
	}

	for (i = 0; i < size; i++)
		v |= (uint64_t) data[i] << (8 * i);
	/* A 4-byte value makes a 33-bit status; keep the low 31 bits so the
	 * status is never negative (callers must not mistake it for an errno).
	 * A process exit code only keeps the low 8 bits anyway, as with QEMU. */
	dev->on_exit(dev->userdata, (int) (((v << 1) | 1) & INT_MAX));
	return 0;
}
