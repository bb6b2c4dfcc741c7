/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "base/macro.h"
#include "vmmd/file_access.h"
#include "vmmd/start_files.h"

void start_files_close(int *fds)
{
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		fds[i] = safe_close(fds[i]);
}

/* One slot's descriptor for this start, or -1 where the slot is optional and absent. */
static int prepare_one(const struct daemon *d, const struct vm_record *vm, const struct vm_file *f, int *ret,
		       struct rpc_error *err)
{
	const struct vm_config *c = vm->config;
	bool part = f->slot >= VM_FILE_LOG_PART && f->slot < VM_FILE_DISK;
	bool from_client = vm->client_file[part ? VM_FILE_CONSOLE_LOG : f->slot];
	char name[VM_FILE_NAME_MAX], path[VM_PATH_MAX + 8];

	*ret = -EBADF;
	if (vm->files[f->slot] >= 0) {
		*ret = fcntl(vm->files[f->slot], F_DUPFD_CLOEXEC, 3);
		if (*ret < 0) {
			int r = -errno;
			rpc_error_set(err, RPC_INTERNAL_ERROR, "cannot hand %s over: %s", vm_file_slot_name(f->slot, name),
				      strerror(-r));
			return r;
		}
		return 0;
	}
	if (from_client && part)
		return 0;   /* the client passed no such part: the log is truncated at its cap */
	if (from_client) {
		const char *field = vm_file_slot_name(f->slot, name);
		rpc_error_set_field(err, RPC_CONFIG_INVALID, field, "%s: vmmd had this file from a client, as a "
				    "descriptor, and does not keep those across its restart: pass it again (vmmctl "
				    "start does)", field);
		return -EBADF;
	}
	return file_access_open_path(&d->config, vm->paths_from_user ? FILE_FROM_USER : FILE_FROM_ROOT, f,
				     file_access_path(c, f, path, sizeof(path)), ret, err);
}

int start_files_prepare(const struct daemon *d, const struct vm_record *vm, int *fds, struct rpc_error *err)
{
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		fds[i] = -EBADF;
	for (int slot = 0; slot < VM_FILE_SLOTS; slot++) {
		struct vm_file f;
		if (vm_file_for_slot(vm->config, slot, &f) < 0)
			continue;
		if (slot >= VM_FILE_LOG_PART && slot < VM_FILE_DISK &&
		    (unsigned) (slot - VM_FILE_LOG_PART) >= d->config.log_rotate)
			continue;
		int r = prepare_one(d, vm, &f, &fds[slot], err);
		if (r < 0) {
			start_files_close(fds);
			return r;
		}
	}
	return 0;
}
