/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/worker/image_file.h"

static int open_regular(const char *path, uint64_t max, uint64_t *ret_size, const char **why)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0) {
		*why = "cannot open the file";
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return -EINVAL;
	}
	if ((uint64_t) st.st_size > max) {
		*why = "file too large";
		return -EFBIG;
	}
	*ret_size = st.st_size;
	return TAKE_FD(fd);
}

static int read_exact(int fd, uint8_t *dst, uint64_t size, const char **why)
{
	uint64_t done = 0;
	while (done < size) {
		ssize_t n = read(fd, dst + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*why = "short read (did the file change?)";
			return -EIO;
		}
		done += n;
	}
	return 0;
}

int image_file_size(const char *path, uint64_t max, uint64_t *ret_size, const char **why)
{
	_cleanup_close_ int fd = open_regular(path, max, ret_size, why);

	return fd < 0 ? fd : 0;
}

int image_file_read(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	uint64_t size;
	int r;

	fd = open_regular(path, max, &size, why);
	if (fd < 0)
		return fd;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	r = read_exact(fd, buf, size, why);
	if (r < 0)
		return r;
	*ret_buf = TAKE_PTR(buf);
	*ret_size = size;
	return 0;
}

int image_file_read_kernel(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why)
{
	int r = image_file_read(path, max, ret_buf, ret_size, why);
	if (r == -EFBIG)
		*why = "kernel file too large";
	else if (r == -EINVAL)
		*why = "kernel is not a regular file";
	else if (r == -EIO)
		*why = "short read of the kernel file";
	else if (r < 0)
		*why = "cannot open the kernel file";
	return r;
}

int image_file_read_into(const char *path, void *dst, uint64_t size, const char **why)
{
	uint64_t actual;
	_cleanup_close_ int fd = open_regular(path, UINT64_MAX, &actual, why);

	if (fd < 0)
		return fd;
	if (actual != size) {
		*why = "the file changed size while vmmd read it";
		return -EIO;
	}
	return read_exact(fd, dst, size, why);
}
