/* SPDX-License-Identifier: MIT */
/*
 * `vmmctl bridge`: relay bytes between stdin/stdout and vmmd's socket, for
 * `vmmctl --connect ssh://...` and other remote clients (libvirt's
 * virt-ssh-helper). It never reads the messages: vmmd judges them, with
 * this process's credentials — the remote user's — deciding the role.
 * Ends when vmmd closes the socket, or once stdin ended and vmmd has
 * answered what was sent (the socket's write side is shut down then).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmmctl/vmmctl.h"

#define BRIDGE_CHUNK (64u << 10)

/* All of buf to fd (blocking fds). */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = fd == STDOUT_FILENO ? write(fd, buf, n) : send(fd, buf, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		buf += k;
		n -= (size_t) k;
	}
	return 0;
}

static int cmd_bridge(struct ctl *ctl, const struct cmd_args *args)
{
	static char buf[BRIDGE_CHUNK];
	int sock = rpc_unix_connect(ctl->socket_path);
	if (sock < 0) {
		ctl_error("cannot connect to %s: %s", ctl->socket_path, strerror(-sock));
		return sock;
	}
	bool in_open = true;
	int r = 0;
	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (p[0].revents) {
			ssize_t n = recv(sock, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;   /* vmmd closed: done */
			if ((r = write_all(STDOUT_FILENO, buf, (size_t) n)) < 0)
				break;   /* our reader went away */
		}
		if (p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* The client is done sending: let vmmd see EOF, keep relaying its answers. */
				in_open = false;
				shutdown(sock, SHUT_WR);
				continue;
			}
			if ((r = write_all(sock, buf, (size_t) n)) < 0)
				break;
		}
	}
	close(sock);
	return r == -EPIPE ? 0 : r;
}

const struct cmd_entry cmd_bridge_entry = {
	.name = "bridge",
	.usage = "",
	.summary = "relay stdin/stdout to vmmd's socket (the far end of --connect ssh://)",
	.exec = cmd_bridge,
};
