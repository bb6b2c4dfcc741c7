/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/state_dir.h"

int state_dir_open(const char *path, int *ret_fd, const char **why)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		*why = errno == ENOTDIR ? "not a directory" : "cannot open it";
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		*why = "cannot stat it";
		return -errno;
	}
	if (st.st_uid != geteuid()) {
		*why = "it belongs to another user";
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*why = "group or others may write it";
		return -EACCES;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

int state_file_write(int dir_fd, const char *name, const void *data, size_t len, bool sync_dir)
{
	char tmp[512];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	if (n < 0 || (size_t) n >= sizeof(tmp))
		return -ENAMETOOLONG;

	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	_cleanup_close_ int fd = openat(dir_fd, tmp, flags, 0640);
	if (fd < 0 && errno == EEXIST) {
		/* A crash's leftover (the directory is ours alone): remove the
		 * name itself, never what a link there points to. */
		(void) unlinkat(dir_fd, tmp, 0);
		fd = openat(dir_fd, tmp, flags, 0640);
	}
	if (fd < 0)
		return -errno;
	int r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && close(TAKE_FD(fd)) < 0)
		r = -errno;
	if (r == 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void) unlinkat(dir_fd, tmp, 0);
		return r;
	}
	/* The rename itself is durable only once the directory is. */
	return sync_dir && fsync(dir_fd) < 0 ? -errno : 0;
}

int state_file_read(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t) st.st_size > max)
		return -EFBIG;
	_cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t len = 0;
	for (;;) {
		ssize_t k = read(fd, buf + len, (size_t) st.st_size - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0 || (len += (size_t) k) == (size_t) st.st_size)
			break;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}
