/* SPDX-License-Identifier: MIT */
/*
 * Reading the files a VM boots from (kernel, initrd): regular files only,
 * with a size cap, read whole or straight into guest memory. The paths come
 * from the config, so everything the user could get wrong (missing file, a
 * directory, a device node, a file that grows or shrinks while read) gets
 * an error that says which.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Read path into a new malloc'd buffer (free()). Returns 0, -ENOENT etc.
 * from open, -EINVAL (not a regular file), -EFBIG (over max), -EIO (short
 * read), -ENOMEM; *why says which for the user. */
int image_file_read(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why);

/* image_file_read for the kernel: the same errors, with *why naming the kernel. */
int image_file_read_kernel(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why);

/* Size of a regular file, for placing it before reading: 0 or as above. */
int image_file_size(const char *path, uint64_t max, uint64_t *ret_size, const char **why);

/* Read exactly size bytes of path into dst (guest memory): 0, or as above. */
int image_file_read_into(const char *path, void *dst, uint64_t size, const char **why);
