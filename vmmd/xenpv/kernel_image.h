/* SPDX-License-Identifier: MIT */
/*
 * The ELF inside a kernel file (XENPV.md 1.2): a PV kernel is entered at
 * its Xen ENTRY note, never through the bzImage's decompressor, so the
 * loader needs the ELF vmlinux. A file that is an ELF is used as it is; a
 * bzImage (boot protocol 2.08 or later) names its compressed payload in the
 * setup header (payload_offset, payload_length), and the payload's magic
 * says the format: xz (Debian), gzip, zstd or lz4 (the kernel's legacy
 * frame, as the Linux tier's kernel has), through liblzma, zlib, libzstd and
 * liblz4. The output is bounded; a payload that decodes to more, or is
 * truncated or corrupt, is refused with the reason; a format vmmd does not
 * unpack (bzip2, lzo, lzma) or no known magic is -EOPNOTSUPP.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ELF of a kernel file. *ret_elf points into image (owned false) or
 * to a malloc'd buffer (owned true: free it). 0, or -ENOEXEC / -EINVAL /
 * -EOPNOTSUPP / -EFBIG / -ENOMEM with *why. */
int xpv_kernel_elf(const uint8_t *image, size_t size, size_t max_out, const uint8_t **ret_elf, size_t *ret_size,
		   bool *ret_owned, const char **why);

/* The compression format a payload starts with, or NULL. */
const char *xpv_payload_format(const uint8_t *p, size_t len);
