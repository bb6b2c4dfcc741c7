/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/macro.h"
#include "base/write_file.h"
#include "vmmd/worker_cgroup.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define FILE_MAX 65536   /* /proc/self/mountinfo and cgroup files read whole */

int cgroup_parse_own(const char *text, char *ret, size_t size)
{
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		size_t n = strcspn(line + 3, "\n");
		if (n == 0 || n >= size)
			return -ENOENT;
		memcpy(ret, line + 3, n);
		ret[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

int cgroup_parse_mount(const char *text, char *ret, size_t size)
{
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char root[PATH_MAX], point[PATH_MAX], fstype[64];
		const char *dash = strstr(line, " - ");
		const char *end = strchr(line, '\n');

		if (!dash || (end && dash > end) || sscanf(dash + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		/* Only a mount of the whole hierarchy shows every cgroup at its path. */
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 || strcmp(root, "/") != 0)
			continue;
		if (strlen(point) >= size || strchr(point, '\\'))   /* octal escapes: not a path we use */
			continue;
		strcpy(ret, point);
		return 0;
	}
	return -ENOENT;
}

static int read_text(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
		if ((p == list || p[-1] == ' ' || p[-1] == '+') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* systemd marks the cgroups it delegates (v251: trusted.delegate, which
 * only root may read; v252: user.delegate too). */
static bool delegated(const char *path)
{
	static const char *const names[] = { "trusted.delegate", "user.delegate" };
	char v[8];

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		ssize_t n = getxattr(path, names[i], v, sizeof(v) - 1);
		if (n > 0 && (v[0] == '1' || v[0] == 'y'))
			return true;
	}
	return false;
}

int worker_cgroups_open(struct worker_cgroups *c, const char *mount, const char *own, char *why, size_t len)
{
	char path[PATH_MAX], parent[PATH_MAX], text[4096];
	int r;

	c->root_fd = -EBADF;
	c->root[0] = '\0';
	if (strcmp(own, "/") == 0) {
		snprintf(why, len, "vmmd runs in the root cgroup: none is delegated to it");
		return -EPERM;
	}
	if ((size_t) snprintf(path, sizeof(path), "%s%s", mount, own) >= sizeof(path))
		return -ENAMETOOLONG;
	strcpy(parent, path);
	*strrchr(parent, '/') = '\0';
	if (!delegated(parent)) {
		if (delegated(path))
			snprintf(why, len, "vmmd runs at the top of the cgroup delegated to it (%s), not in a subgroup "
				 "(DelegateSubgroup=, systemd 254): a controller enabled there would keep systemd from "
				 "starting vmmd again while workers run", path);
		else
			snprintf(why, len, "the cgroup above vmmd's (%s) is not delegated to it (Delegate= and "
				 "DelegateSubgroup= in its unit)", path);
		return delegated(path) ? -EBUSY : -EPERM;
	}
	_cleanup_close_ int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, len, "%s: %s", parent, strerror(-r));
		return r;
	}
	r = read_text(fd, "cgroup.controllers", text, sizeof(text));
	if (r < 0 || !has_word(text, "memory")) {
		snprintf(why, len, "no memory controller in the delegated cgroup %s%s%s", parent, r < 0 ? ": " : "",
			 r < 0 ? strerror(-r) : "");
		return r < 0 ? r : -EOPNOTSUPP;
	}
	r = read_text(fd, "cgroup.subtree_control", text, sizeof(text));
	if (r == 0 && !has_word(text, "memory"))
		r = write_file_at(fd, "cgroup.subtree_control", "+memory", WRITE_FILE_TRUNCATE);
	if (r < 0) {
		snprintf(why, len, "cannot enable the memory controller for %s's children: %s%s", parent, strerror(-r),
			 r == -EBUSY ? " (it has processes of its own)" : "");
		return r;
	}
	c->root_fd = TAKE_FD(fd);
	snprintf(c->root, sizeof(c->root), "%s", parent);
	return 0;
}

/* The whole of a small /proc file, NUL-terminated, into a heap buffer. */
static int read_proc(const char *path, char **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = malloc(FILE_MAX);
	size_t len = 0;
	ssize_t n;

	if (fd < 0 || !buf) {
		free(buf);
		return fd < 0 ? -errno : -ENOMEM;
	}
	while (len < FILE_MAX - 1 && (n = read(fd, buf + len, FILE_MAX - 1 - len)) > 0)
		len += (size_t) n;
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

int worker_cgroups_init(struct worker_cgroups *c, char *why, size_t len)
{
	_cleanup_free_ char *cg = NULL, *mi = NULL;
	char own[PATH_MAX], mount[PATH_MAX];
	struct statfs sf;
	int r;

	c->root_fd = -EBADF;
	c->root[0] = '\0';
	r = read_proc("/proc/self/cgroup", &cg);
	if (r == 0)
		r = read_proc("/proc/self/mountinfo", &mi);
	if (r == 0 && (cgroup_parse_own(cg, own, sizeof(own)) < 0 || cgroup_parse_mount(mi, mount, sizeof(mount)) < 0))
		r = -ENOENT;
	if (r == 0 && (statfs(mount, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC))
		r = -ENOENT;
	if (r < 0) {
		snprintf(why, len, "no cgroup v2 hierarchy that holds vmmd's cgroup");
		return r;
	}
	return worker_cgroups_open(c, mount, own, why, len);
}

void worker_cgroups_close(struct worker_cgroups *c)
{
	c->root_fd = safe_close(c->root_fd);
}

uint64_t worker_cgroup_memory_max(uint64_t memory_mib, uint64_t console_bytes)
{
	return ((memory_mib + WORKER_MEMORY_OVERHEAD_MIB) << 20) + console_bytes;
}

static int name_of(const char *vm_name, char *buf, size_t size)
{
	/* "vm-": never a cgroup interface file's name (cgroup.*, memory.*), nor systemd's .control or our supervisor. */
	return (size_t) snprintf(buf, size, "vm-%s", vm_name) >= size ? -ENAMETOOLONG : 0;
}

int worker_cgroup_enter(struct worker_cgroups *c, const char *vm_name, uint64_t max_bytes, pid_t pid)
{
	char name[PATH_MAX], text[32];
	int r = name_of(vm_name, name, sizeof(name));

	if (r < 0)
		return r;
	if (c->root_fd < 0)
		return -EBADF;
	if (mkdirat(c->root_fd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_close_ int fd = openat(c->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(text, sizeof(text), "%llu", (unsigned long long) max_bytes);
	r = write_file_at(fd, "memory.max", text, WRITE_FILE_TRUNCATE);
	if (r < 0)
		return r;
	r = write_file_at(fd, "memory.oom.group", "1", WRITE_FILE_TRUNCATE);
	if (r < 0 && r != -ENOENT)   /* before Linux 4.19 */
		return r;
	snprintf(text, sizeof(text), "%d", (int) pid);
	return write_file_at(fd, "cgroup.procs", text, WRITE_FILE_TRUNCATE);
}

bool worker_cgroup_exists(struct worker_cgroups *c, const char *vm_name)
{
	char name[PATH_MAX];
	struct stat st;

	return c->root_fd >= 0 && name_of(vm_name, name, sizeof(name)) == 0 &&
	       fstatat(c->root_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int worker_cgroup_remove(struct worker_cgroups *c, const char *vm_name)
{
	char name[PATH_MAX];
	int r = name_of(vm_name, name, sizeof(name));

	if (r < 0)
		return r;
	if (c->root_fd < 0)
		return -EBADF;
	return unlinkat(c->root_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}
