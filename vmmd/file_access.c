/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/file_access.h"

/* err for f's field: "FIELD: message"; returns r. */
__attribute__((format(printf, 5, 6)))
static int fail(struct rpc_error *err, int code, const struct vm_file *f, int r, const char *fmt, ...)
{
	char name[VM_FILE_NAME_MAX], message[sizeof(err->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	const char *field = vm_file_slot_name(f->slot, name);
	rpc_error_set_field(err, code, field, "%s: %s", field, message);
	return r;
}

const char *file_access_path(const struct vm_config *c, const struct vm_file *f, char *buf, size_t size)
{
	if (f->path)
		return f->path;
	snprintf(buf, size, "%s.%d", c->console_log ? c->console_log : "", f->slot - VM_FILE_LOG_PART + 1);
	return buf;
}

static int open_flags(enum vm_file_use use, bool probe)
{
	int nofollow = use == VM_FILE_USE_LOG ? O_NOFOLLOW : 0;

	if (probe)
		return O_PATH | O_CLOEXEC | nofollow;
	switch (use) {
	case VM_FILE_USE_LOG:
		return O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	case VM_FILE_USE_DISK_RW:
		return O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	default:
		return O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	}
}

static bool is_disk(enum vm_file_use use)
{
	return use == VM_FILE_USE_DISK_RO || use == VM_FILE_USE_DISK_RW;
}

/* Is what fd refers to what f needs? */
static int check_type(const struct vm_file *f, int fd, const char *path, struct rpc_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return fail(err, RPC_CONFIG_INVALID, f, -errno, "%s: cannot stat: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode))   /* an O_PATH|O_NOFOLLOW probe of a link */
		return fail(err, RPC_CONFIG_INVALID, f, -ELOOP, "%s is a symbolic link, which vmmd does not follow "
			    "for a log", path);
	if (S_ISREG(st.st_mode) || (is_disk(f->use) && S_ISBLK(st.st_mode)))
		return 0;
	return fail(err, RPC_CONFIG_INVALID, f, -EINVAL, "%s is not a regular file%s", path,
		    is_disk(f->use) ? " or block device" : "");
}

/* For a user: the path relative to the path_dirs folder it lies in, or
 * NULL. Judged by its text ("." and ".." refused: only openat2 decides
 * where a link leads, and it refuses leaving the folder). */
static const char *beneath(const struct daemon_config *cfg, const char *path, size_t *ret_dir)
{
	for (size_t i = 0; i < cfg->n_path_dirs; i++) {
		size_t len = strlen(cfg->path_dirs[i]);
		if (strncmp(path, cfg->path_dirs[i], len) != 0 || path[len] != '/')
			continue;
		const char *rel = path + len + 1;
		for (const char *p = rel; ; ) {
			const char *end = strchrnul(p, '/');
			size_t n = (size_t) (end - p);
			if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
				return NULL;
			if (!*end)
				break;
			p = end + 1;
		}
		*ret_dir = i;
		return rel;
	}
	return NULL;
}

static int open_beneath(const char *dir, const char *rel, const struct vm_file *f, int flags)
{
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct open_how how = {
		.flags = (uint64_t) flags,
		.mode = flags & O_CREAT ? 0640 : 0,
		/* A log never through a link; nothing out of the folder, nor through /proc's magic links. */
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (f->use == VM_FILE_USE_LOG ? RESOLVE_NO_SYMLINKS : 0),
	};

	if (dfd < 0)
		return -errno;
	int fd = (int) syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* Open (or probe, O_PATH) path for f as origin may: the descriptor; 0 for
 * a probe of a log that does not exist yet; -errno with err filled. */
static int open_as(const struct daemon_config *cfg, enum file_origin origin, const struct vm_file *f,
		   const char *path, bool probe, struct rpc_error *err)
{
	int flags = open_flags(f->use, probe), fd;
	size_t dir = 0;

	if (origin == FILE_FROM_ROOT) {
		fd = open(path, flags, 0640);
		if (fd < 0)
			fd = -errno;
	} else {
		const char *rel = beneath(cfg, path, &dir);
		if (!rel)
			return fail(err, RPC_PERMISSION_DENIED, f, -EPERM, "vmmd opens a path only for root, or inside "
				    "files.path_dirs (of the daemon config); pass the file itself (vmmctl does)");
		fd = open_beneath(cfg->path_dirs[dir], rel, f, flags);
		if (fd == -EXDEV || (fd == -ELOOP && f->use != VM_FILE_USE_LOG))
			return fail(err, RPC_PERMISSION_DENIED, f, fd, "%s leads out of %s (files.path_dirs)", path,
				    cfg->path_dirs[dir]);
	}
	if (fd == -ENOENT && probe && f->use == VM_FILE_USE_LOG)
		return 0;   /* created when the VM starts */
	if (fd == -ELOOP && f->use == VM_FILE_USE_LOG)
		return fail(err, RPC_CONFIG_INVALID, f, fd, "%s is a symbolic link, which vmmd does not follow for "
			    "a log", path);
	if (fd == -ENXIO)   /* a FIFO without a reader, a socket */
		return fail(err, RPC_CONFIG_INVALID, f, fd, "%s is not a regular file%s", path,
			    is_disk(f->use) ? " or block device" : "");
	if (fd < 0)
		return fail(err, RPC_CONFIG_INVALID, f, fd, "%s: %s", path, strerror(-fd));
	int r = check_type(f, fd, path, err);
	if (r == 0 && !probe && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		r = fail(err, RPC_CONFIG_INVALID, f, -errno, "%s: %s", path, strerror(errno));
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int file_access_check_path(const struct daemon_config *cfg, enum file_origin origin, const struct vm_file *f,
			   const char *path, struct rpc_error *err)
{
	int fd = open_as(cfg, origin, f, path, true, err);

	if (fd < 0)
		return fd;
	safe_close(fd ? fd : -EBADF);
	return 0;
}

int file_access_open_path(const struct daemon_config *cfg, enum file_origin origin, const struct vm_file *f,
			  const char *path, int *ret_fd, struct rpc_error *err)
{
	int fd = open_as(cfg, origin, f, path, false, err);

	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

int file_access_check_fd(const struct vm_file *f, int fd, struct rpc_error *err)
{
	int flags = fcntl(fd, F_GETFL);
	int r = check_type(f, fd, "the descriptor", err);

	if (r < 0)
		return r;
	if (flags < 0 || (flags & O_PATH))
		return fail(err, RPC_CONFIG_INVALID, f, -EBADF, "the descriptor is not open for I/O (O_PATH)");
	int mode = flags & O_ACCMODE;
	bool readable = mode == O_RDONLY || mode == O_RDWR, writable = mode == O_WRONLY || mode == O_RDWR;
	if (f->use == VM_FILE_USE_LOG && !writable)
		return fail(err, RPC_CONFIG_INVALID, f, -EBADF, "the descriptor is not open for writing");
	if (f->use == VM_FILE_USE_DISK_RW && !(readable && writable))
		return fail(err, RPC_CONFIG_INVALID, f, -EBADF, "the descriptor of a writable disk is not open for "
			    "reading and writing (or set readonly)");
	if ((f->use == VM_FILE_USE_IMAGE || f->use == VM_FILE_USE_DISK_RO) && !readable)
		return fail(err, RPC_CONFIG_INVALID, f, -EBADF, "the descriptor is not open for reading");
	return 0;
}
