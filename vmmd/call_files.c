/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "base/macro.h"
#include "proto/fds.h"
#include "vmmd/call_files.h"
#include "vmmd/file_access.h"
#include "vmmd/common/params.h"

void call_files_init(struct vm_files_origin *origin)
{
	*origin = (struct vm_files_origin) { .paths_from_user = false };
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		origin->files[i] = -EBADF;
}

void call_files_close(struct vm_files_origin *origin)
{
	for (int i = 0; i < VM_FILE_SLOTS; i++)
		origin->files[i] = safe_close(origin->files[i]);
}

int call_files_take(struct client *c, struct rpc_call *call, const struct vm_config *config,
		    struct vm_files_origin *origin, struct rpc_error *err)
{
	struct json_object *files = param_get(call->params, "files");
	char field[VM_FILE_NAME_MAX + 8];

	if (!files)
		return 0;
	json_object_object_foreach(files, name, v) {
		int slot = vm_file_slot_from_name(name);
		int64_t index = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
		struct vm_file f;

		snprintf(field, sizeof(field), "files.%.*s", VM_FILE_NAME_MAX, name);
		if (slot < 0 || vm_file_for_slot(config, slot, &f) < 0)
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, field, "%s: the config has no such file "
						   "(kernel, initrd, console.log, console.log.N, devices[N].path)", field);
		if (index < 0 || index >= RPC_MAX_FDS)
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, field, "%s: must be the index of a "
						   "descriptor sent with the message (0..%d)", field, RPC_MAX_FDS - 1);
		int fd = c && c->peer ? rpc_peer_take_fd(c->peer, (size_t) index) : -EBADF;
		if (fd < 0)
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, field, "%s: descriptor %lld did not come "
						   "with the message (SCM_RIGHTS on the Unix socket), or is named twice",
						   field, (long long) index);
		origin->files[slot] = fd;
		origin->client_file[slot] = true;
		int r = file_access_check_fd(&f, fd, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int call_files_check_paths(struct daemon *d, struct client *c, const struct vm_config *config,
			   struct vm_files_origin *origin, struct rpc_error *err)
{
	struct vm_file files[VM_FILE_SLOTS];
	size_t n = vm_config_files(config, files);
	enum file_origin from = !c || c->uid == 0 ? FILE_FROM_ROOT : FILE_FROM_USER;

	origin->paths_from_user = from == FILE_FROM_USER;
	for (size_t i = 0; i < n; i++) {
		if (origin->client_file[files[i].slot])
			continue;
		int r = file_access_check_path(&d->config, from, &files[i], files[i].path, err);
		if (r < 0)
			return r;
	}
	return 0;
}
