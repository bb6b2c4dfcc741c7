/* SPDX-License-Identifier: MIT */
/* Default locations (API.md "Transport"): socket and state directory, root or user. */
#pragma once

#include <stddef.h>

/* $VMMD_SOCKET, else /run/vmmd/vmmd.sock as root, else $XDG_RUNTIME_DIR/vmmd/vmmd.sock. */
int paths_default_socket(char *buf, size_t size);
/* /var/lib/vmmd as root, else $XDG_STATE_HOME/vmmd or ~/.local/state/vmmd. */
int paths_default_state_dir(char *buf, size_t size);
/* mkdir -p with mode for the last component. */
int paths_mkdir_p(const char *path, unsigned mode);
