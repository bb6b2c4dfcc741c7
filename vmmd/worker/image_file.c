/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/worker/image_file.h"

static int check_regular(int fd, uint64_t max, uint64_t *ret_size, const char **why)
{
	struct stat st;

	if (fd < 0) {
		*why = "no file was given";
		return -EBADF;
	}
	if (fstat(fd, &st) < 0) {
		*why = "cannot stat the file";
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return -EINVAL;
	}
	if ((uint64_t) st.st_size > max) {
		*why = "file too large";
		return -EFBIG;
	}
	*ret_size = st.st_size;
	return 0;
}

static int read_exact(int fd, uint8_t *dst, uint64_t size, const char **why)
{
	uint64_t done = 0;
	while (done < size) {
		ssize_t n = pread(fd, dst + done, size - done, (off_t) done);
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

int image_file_size(int fd, uint64_t max, uint64_t *ret_size, const char **why)
{
	return check_regular(fd, max, ret_size, why);
}

int image_file_read(int fd, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t size;
	int r;

	r = check_regular(fd, max, &size, why);
	if (r < 0)
		return r;
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

int image_file_read_kernel(int fd, size_t max, uint8_t **ret_buf, size_t *ret_size, const char **why)
{
	int r = image_file_read(fd, max, ret_buf, ret_size, why);
	if (r == -EFBIG)
		*why = "kernel file too large";
	else if (r == -EINVAL)
		*why = "kernel is not a regular file";
	else if (r == -EIO)
		*why = "short read of the kernel file";
	else if (r == -EBADF)
		*why = "no kernel file was given";
	else if (r < 0)
		*why = "cannot read the kernel file";
	return r;
}

int image_file_read_into(int fd, void *dst, uint64_t size, const char **why)
{
	uint64_t actual;
	int r = check_regular(fd, UINT64_MAX, &actual, why);

	if (r < 0)
		return r;
	if (actual != size) {
		*why = "the file changed size while vmmd read it";
		return -EIO;
	}
	return read_exact(fd, dst, size, why);
}
