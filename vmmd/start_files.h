/* SPDX-License-Identifier: MIT */
/*
 * The descriptors a VM's worker gets when it starts (worker_link.c hands
 * them over across the exec): a copy of each one a client passed and vmmd
 * holds, and each path of the config opened as its origin allows
 * (file_access.h) — every start, so a file replaced meanwhile is judged
 * again. A console log named by path gets its previous parts too
 * (NAME.1 ... NAME.N, console_log.rotate of the daemon config); one a
 * client passed has the parts the client passed.
 */
#pragma once

#include "proto/rpc.h"
#include "vmmd/daemon.h"

/* fds: VM_FILE_SLOTS entries, filled by slot (-1 none). 0, or -errno with
 * nothing left open and err naming the file (a client's descriptor that
 * vmmd no longer holds, after a restart: ConfigInvalid, "pass it again"). */
int start_files_prepare(const struct daemon *d, const struct vm_record *vm, int *fds, struct rpc_error *err);
void start_files_close(int *fds);
