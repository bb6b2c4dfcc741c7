/* SPDX-License-Identifier: MIT */
/*
 * The files a vm.create or vm.start call brings (docs/operations.md "File
 * access"): the descriptors its message carried, named in params.files
 * ({"kernel": 0, "console.log": 1, "console.log.1": 2, ...}: config/vm_files.h
 * names, proto/fds.h indexes), each checked for its slot; and for the rest,
 * the config's paths, checked as the caller may name them.
 */
#pragma once

#include "proto/exchange.h"
#include "vmmd/daemon.h"

/* An origin with no descriptors and root's paths. */
void call_files_init(struct vm_files_origin *origin);
void call_files_close(struct vm_files_origin *origin);
/* Take call's params.files into origin (client_file set for each). 0, or
 * -errno with err naming the member (InvalidParams) or what is wrong with
 * the file (file_access_check_fd). */
int call_files_take(struct client *c, struct rpc_call *call, const struct vm_config *config,
		    struct vm_files_origin *origin, struct rpc_error *err);
/* vm.create: the config's other files, by path, as c may name them (root:
 * anywhere, others: inside files.path_dirs); sets origin->paths_from_user. */
int call_files_check_paths(struct daemon *d, struct client *c, const struct vm_config *config,
			   struct vm_files_origin *origin, struct rpc_error *err);
