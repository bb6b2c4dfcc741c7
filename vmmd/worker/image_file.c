/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmmd/worker/image_file.h"

static int open_regular(const char *path, uint64_t max, uint64_t *ret_size, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*why = "cannot open the file";
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -EINVAL;
	}
	if ((uint64_t) st.st_size > max) {
		close(fd);
		*why = "file too large";
		return -EFBIG;
	}
	*ret_size = st.st_size;
	return fd;
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
	int fd = open_regular(path, max, ret_size, why);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int image_file_read(const char *path, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why)
{
	uint64_t size;
	int fd = open_regular(path, max, &size, why);
	if (fd < 0)
		return fd;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	int r = read_exact(fd, buf, size, why);
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_buf = buf;
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
	int fd = open_regular(path, UINT64_MAX, &actual, why);
	if (fd < 0)
		return fd;
	int r = actual == size ? read_exact(fd, dst, size, why) : -EIO;
	if (actual != size)
		*why = "the file changed size while vmmd read it";
	close(fd);
	return r;
}
