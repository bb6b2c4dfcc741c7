/* SPDX-License-Identifier: MIT */
/*
 * A VM's files, opened by vmmctl with its user's own rights and passed to
 * vmmd with the request (SCM_RIGHTS, proto/fds.h): vmmd runs as root and
 * takes paths only from root or inside the folders its config names
 * (docs/operations.md "File access"), so this is how an admin's files
 * reach a VM without the admin getting more than their own access. A
 * console log is created (0640) with its first previous part, NAME.1,
 * for vmmd's rotation, and like vmmd vmmctl never opens one through a
 * symbolic link (-ELOOP). A file the user may not open (EACCES, EPERM) is
 * left to vmmd by its path, which it opens if it may; any other failure
 * (a typo) is vmmctl's to report.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "config/vm_files.h"
#include "proto/fds.h"

struct ctl_files {
	int fd[RPC_MAX_FDS];
	size_t n;
};

/*
 * Open the files of config (a checked config object, paths absolute) whose
 * slot `want` marks (NULL: all), add params.files ({NAME: index}) and
 * fill ret. 0, or -errno with errbuf saying "FIELD: PATH: why" (nothing
 * left open).
 */
int ctl_files_open(struct json_object *config, const bool *want, struct json_object *params, struct ctl_files *ret,
		   char *errbuf, size_t errlen);
void ctl_files_close(struct ctl_files *f);
