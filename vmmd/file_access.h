/* SPDX-License-Identifier: MIT */
/*
 * Who may make vmmd open what (docs/operations.md "File access", issue 14
 * findings 4 and 10). vmmd runs as root; an admin must not get more than
 * its own rights on files through it. So a VM's files (config/vm_files.h)
 * reach it one of two ways:
 *
 *   - as descriptors the client opened with its own rights and passed
 *     over the socket (SCM_RIGHTS; vmmctl does): checked here for what
 *     the slot needs (file_access_check_fd);
 *   - as paths, taken only from root, or, from another admin, only inside
 *     the folders the daemon config names (files.path_dirs), opened there
 *     with openat2(RESOLVE_BENEATH): a link or ".." cannot lead out.
 *
 * Either way a kernel, initrd or console log must be a regular file and a
 * disk a regular file or a block device (a FIFO would block whoever opens
 * or reads it), and a console log is never opened through a symbolic link
 * (guest output into /etc/cron.d). Opening never blocks (O_NONBLOCK until
 * the type is known). Errors name the config field in err->field:
 * PermissionDenied for a path the caller may not have opened,
 * ConfigInvalid for what is wrong with the file.
 */
#pragma once

#include <stdbool.h>

#include "config/daemon_config.h"
#include "config/vm_files.h"
#include "proto/rpc.h"

/* Whose paths: root's are opened as they are, a user's under path_dirs. */
enum file_origin { FILE_FROM_ROOT, FILE_FROM_USER };

/* vm.create: may origin name path for f, and is what is there now fit for
 * it? Opens nothing for I/O and creates nothing (a log need not exist yet). */
int file_access_check_path(const struct daemon_config *cfg, enum file_origin origin, const struct vm_file *f,
			   const char *path, struct rpc_error *err);
/* vm.start: open path for f (a log is created, 0640), checked: the
 * descriptor in *ret_fd (close-on-exec), or -errno with err filled. */
int file_access_open_path(const struct daemon_config *cfg, enum file_origin origin, const struct vm_file *f,
			  const char *path, int *ret_fd, struct rpc_error *err);
/* A client's descriptor: the right type, open the right way for f. */
int file_access_check_fd(const struct vm_file *f, int fd, struct rpc_error *err);

/* The path of f in config c: its field's, or for a log part
 * "CONSOLE_LOG.N". buf holds at least VM_PATH_MAX + 8 bytes. */
const char *file_access_path(const struct vm_config *c, const struct vm_file *f, char *buf, size_t size);
