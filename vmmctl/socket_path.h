/* SPDX-License-Identifier: MIT */
/*
 * Where vmmctl looks for vmmd (API.md "Transport"). Pure: the caller passes
 * the environment in, so the rules are unit-testable without touching it.
 */
#pragma once

#include <sys/types.h>

#define VMMD_SYSTEM_SOCKET "/run/vmmd/vmmd.sock"

/*
 * First match wins: option (--socket), env_socket ($VMMD_SOCKET), the system
 * socket when euid is 0, else xdg_runtime_dir/vmmd/vmmd.sock. Empty strings
 * count as unset. Returns 0 with a new string in *ret, -ENOENT when none of
 * the rules applies (unprivileged and $XDG_RUNTIME_DIR unset or relative),
 * or -ENOMEM.
 */
int socket_path_resolve(const char *option, const char *env_socket,
			const char *xdg_runtime_dir, uid_t euid, char **ret);
