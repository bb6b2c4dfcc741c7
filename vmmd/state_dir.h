/* SPDX-License-Identifier: MIT */
/*
 * The state directory's files, written so that neither a crash, a power
 * cut nor another user can leave a definition half-written or make vmmd
 * write somewhere else (issue 14 finding 5):
 *
 *   - the directory must belong to vmmd's user and not be writable by
 *     group or others (else anyone who may write it could plant a link
 *     where vmmd writes, or replace a definition);
 *   - a file is replaced whole: write NAME.tmp (created O_EXCL|O_NOFOLLOW),
 *     fsync it, rename it over NAME, and for a change that must survive a
 *     power cut, fsync the directory (what the kernel documents as
 *     durable: rename(2), fsync(2)); without that last step a power cut
 *     may leave the previous version, never an empty or partial file;
 *   - a file is read with a size bound and never through a link or from
 *     anything but a regular file.
 *
 * All relative to the directory's descriptor, opened once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Open dir and check it: 0 with *ret_fd, or -errno with *why saying what
 * is wrong for people (-EPERM: another owner, -EACCES: writable by others,
 * -ENOTDIR, or open's error). */
int state_dir_open(const char *path, int *ret_fd, const char **why);

/* Replace dir_fd/name with len bytes of data, whole; durably with
 * sync_dir (each fsync costs ~5 ms on this project's disks). 0 or -errno
 * (-ENOSPC on a full disk: the old file is then left as it was). */
int state_file_write(int dir_fd, const char *name, const void *data, size_t len, bool sync_dir);

/* Read dir_fd/name whole into a NUL-terminated malloc'd buffer: 0, or
 * -errno: -ENOENT, -ELOOP (a link), -EINVAL (not a regular file), -EFBIG
 * (over max bytes), or read's error. */
int state_file_read(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len);
