/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmctl/files.h"

void ctl_files_close(struct ctl_files *f)
{
	for (size_t i = 0; i < f->n; i++)
		f->fd[i] = safe_close(f->fd[i]);
	f->n = 0;
}

/* Open path for its use as vmmctl's user: never blocking (a FIFO is vmmd's
 * to refuse, by its type), close-on-exec. The descriptor or -errno. A log
 * is never opened through a symbolic link, as vmmd opens none: vmmctl is
 * often run by root, on a path a user may have made a link (guest output
 * into /etc/cron.d). */
static int open_for(enum vm_file_use use, const char *path)
{
	int flags = O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

	switch (use) {
	case VM_FILE_USE_LOG:
		/* read too: rotation copies it into NAME.1 */
		flags |= O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW;
		break;
	case VM_FILE_USE_DISK_RW:
		flags |= O_RDWR;
		break;
	default:
		flags |= O_RDONLY;
	}
	int fd = open(path, flags, 0640);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* One slot: its descriptor added to ret and params.files, or left to vmmd (0). */
static int open_slot(const struct vm_file *f, const char *path, struct json_object *files, struct ctl_files *ret,
		     char *errbuf, size_t errlen)
{
	char name[VM_FILE_NAME_MAX];
	int fd = open_for(f->use, path);

	if (fd == -EACCES || fd == -EPERM)
		return 0;   /* not ours to open: vmmd decides whether it may */
	if (fd == -ELOOP && f->use == VM_FILE_USE_LOG) {
		snprintf(errbuf, errlen, "%s: %s is a symbolic link, which neither vmmctl nor vmmd follows for a log",
			 vm_file_slot_name(f->slot, name), path);
		return fd;
	}
	if (fd < 0) {
		snprintf(errbuf, errlen, "%s: %s: %s", vm_file_slot_name(f->slot, name), path, strerror(-fd));
		return fd;
	}
	if (ret->n >= RPC_MAX_FDS) {
		close(fd);
		snprintf(errbuf, errlen, "more than %d files", RPC_MAX_FDS);
		return -E2BIG;
	}
	json_object_object_add(files, vm_file_slot_name(f->slot, name), json_object_new_int((int) ret->n));
	ret->fd[ret->n++] = fd;
	return 0;
}

int ctl_files_open(struct json_object *config, const bool *want, struct json_object *params, struct ctl_files *ret,
		   char *errbuf, size_t errlen)
{
	struct vm_config *c = NULL;
	struct config_error cerr = { "", "" };
	int r = vm_config_from_json(config, &c, &cerr);

	ret->n = 0;
	if (r < 0) {
		snprintf(errbuf, errlen, "%s%s%s", cerr.field, cerr.field[0] ? ": " : "", cerr.message);
		return r;
	}
	struct json_object *files = json_object_new_object();
	for (int slot = 0; r == 0 && slot < VM_FILE_SLOTS; slot++) {
		struct vm_file f;
		char part[VM_PATH_MAX + 8];
		if ((want && !want[slot]) || vm_file_for_slot(c, slot, &f) < 0 ||
		    (slot > VM_FILE_LOG_PART && slot < VM_FILE_DISK))
			continue;   /* of the log's parts, vmmctl passes the first */
		const char *path = f.path;
		if (!path) {
			snprintf(part, sizeof(part), "%s.1", c->console_log);
			path = part;
		}
		r = open_slot(&f, path, files, ret, errbuf, errlen);
	}
	vm_config_free(c);
	if (r < 0) {
		json_object_put(files);
		ctl_files_close(ret);
		return r;
	}
	if (json_object_object_length(files) == 0)
		json_object_put(files);
	else
		json_object_object_add(params, "files", files);
	return 0;
}
