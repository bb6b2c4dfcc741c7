/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a Unix stream listener (bound by us, or inherited
 * from systemd socket activation) and one rpc_peer per client connection.
 */
#pragma once

#include "vmmd/daemon.h"

/*
 * What one client connection may make vmmd hold (issue 14; the figures are
 * in docs/operations.md, "Security model"). Reading stops while a
 * connection has CLIENT_MAX_CALLS calls or CLIENT_MAX_INFLIGHT bytes of
 * messages in flight, or CLIENT_PAUSE_OUTPUT of replies the socket has
 * not taken; a reader further behind than its output limit, or one that
 * takes the non-admin connections' shared budget past its end, is dropped.
 */
#define CLIENT_MAX_CALLS       64
#define CLIENT_MAX_INFLIGHT    (1u << 20)
#define CLIENT_PAUSE_OUTPUT    (256u << 10)
#define CLIENT_READ_OUTPUT     (4u << 20)    /* a read connection's */
#define CLIENT_ADMIN_OUTPUT    (8u << 20)    /* an admin's */
#define CLIENTS_OUTPUT_BUDGET  (64u << 20)   /* every non-admin connection's together */
#define CLIENT_SWEEP_MS        1000          /* idle and message timeouts are checked this often */
/* New connections a user who is not admin may open: a burst, then this
 * many a second (a client connecting and hanging up ~7000 times a second
 * made every admin call wait ~4 ms more at the median). */
#define CLIENT_CONNECT_BURST   100
#define CLIENT_CONNECT_RATE    100
#define CLIENT_RATE_USERS      32            /* users whose rate is remembered */

/* Bind path (creating its directory, 0755) or adopt listen_fd >= 0. */
int server_listen(struct daemon *d, const char *path, int listen_fd);
void server_close(struct daemon *d);
