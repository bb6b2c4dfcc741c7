/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a Unix stream listener (bound by us, or inherited
 * from systemd socket activation) and one rpc_peer per client connection.
 */
#pragma once

#include "vmmd/daemon.h"

/* Bind path (creating its directory, 0755) or adopt listen_fd >= 0. */
int server_listen(struct daemon *d, const char *path, int listen_fd);
void server_close(struct daemon *d);
