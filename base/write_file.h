/* SPDX-License-Identifier: MIT */
/*
 * Write a short text into a kernel control file: /proc/self/uid_map and
 * gid_map, /proc/self/setgroups, cgroup files (memory.max, cgroup.procs).
 * Such files take a value per write() call, not a byte stream: the kernel
 * parses each write on its own (uid_map accepts exactly one write in its
 * lifetime), so the text goes out in one write(), and a short write is an
 * error (-EIO), never continued.
 *
 * WRITE_FILE_TRUNCATE opens with O_TRUNC, as the shell's `echo >` does,
 * for files that accept it (cgroupfs). Proc's id maps are written
 * without it: they are not regular files, and a truncation means nothing
 * there. Like systemd's write_string_file() with
 * WRITE_STRING_FILE_DISABLE_BUFFER.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"

enum write_file_flags {
	WRITE_FILE_TRUNCATE = 1 << 0,   /* O_TRUNC: cgroup files, as `echo >` */
};

/* 0, or -errno (-EIO for a short write). name is relative to dirfd
 * (AT_FDCWD: to the working directory, or absolute). */
static inline int write_file_at(int dirfd, const char *name, const char *text, unsigned flags)
{
	int mode = O_WRONLY | O_CLOEXEC | O_NOCTTY | ((flags & WRITE_FILE_TRUNCATE) ? O_TRUNC : 0);
	_cleanup_close_ int fd = openat(dirfd, name, mode);
	size_t n = strlen(text);
	ssize_t k;

	if (fd < 0)
		return -errno;
	k = write(fd, text, n);
	if (k < 0)
		return -errno;
	return (size_t) k == n ? 0 : -EIO;
}
