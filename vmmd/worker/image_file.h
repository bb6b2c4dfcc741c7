/* SPDX-License-Identifier: MIT */
/*
 * Reading the files a VM boots from (kernel, initrd), from the descriptors
 * the supervisor hands the worker (worker.boot's files, config/vm_files.h):
 * the worker opens no path of the user's, so every boot path (vmmd's own
 * ELF, PVH, bzImage, Xen PV) reads with the rights of whoever opened the
 * file (issue 14 finding 4). Regular files only, with a size cap, read
 * whole or straight into guest memory, always from offset 0 with pread:
 * the same descriptor serves every start of the VM. Everything the user
 * could get wrong (a directory, a device node, a file that grows or
 * shrinks while read) gets an error that says which.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Read fd whole into a new malloc'd buffer (free()). Returns 0, -EBADF (no
 * descriptor), -EINVAL (not a regular file), -EFBIG (over max), -EIO
 * (short read), -ENOMEM; *why says which for the user. */
int image_file_read(int fd, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why);

/* image_file_read for the kernel: the same errors, with *why naming the kernel. */
int image_file_read_kernel(int fd, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why);

/* Size of a regular file, for placing it before reading: 0 or as above. */
int image_file_size(int fd, uint64_t max, uint64_t *ret_size, const char **why);

/* Read exactly size bytes of fd into dst (guest memory): 0, or as above. */
int image_file_read_into(int fd, void *dst, uint64_t size, const char **why);
