/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/macro.h"
#include "vmmd/common/log.h"
#include "vmmd/methods.h"
#include "vmmd/server.h"

#define ACCEPT_PAUSE_MS 200   /* after EMFILE: let fds free up (tmux server.c) */

static void client_unlink(struct daemon *d, struct client *c)
{
	for (struct client **pp = &d->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			d->n_clients--;
			return;
		}
}

static void client_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct client *c = userdata;
	methods_dispatch(c->daemon, c, call);
}

static void client_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct client *c = userdata;
	if (error)
		log_debug_errno(error, "Client connection closed: %m");
	client_unlink(c->daemon, c);
	rpc_peer_unref(c->peer);   /* pending exchanges keep the peer alive, not the client */
	free(c);
}

static const struct rpc_peer_ops client_ops = { .handle = client_handle, .closed = client_closed };

/* The connection's role from its peer's credentials (access.h); a peer with
 * none is told so and refused. */
static int client_set_role(struct daemon *d, struct client *c, int fd)
{
	struct access_peer peer;
	int r = access_peer_get(fd, &peer);
	if (r < 0)
		return log_warning_errno(r, "Cannot read a client's credentials, refusing it: %m");
	if (peer.groups_unknown)
		log_warning("Cannot read the groups of uid %u (pid %d): group rules give it no access",
			    (unsigned) peer.uid, (int) peer.pid);
	c->uid = peer.uid;
	c->role = access_role_of(&d->access, &peer);
	access_peer_done(&peer);
	if (c->role == ACCESS_NONE) {
		static const char msg[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32005,\"message\":"
					  "\"this user may not use vmmd\",\"data\":{\"class\":\"PermissionDenied\"}},"
					  "\"id\":null}\n";
		ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void) n;
		log_info("Refused a connection from uid %u (pid %d): no role", (unsigned) peer.uid, (int) peer.pid);
		return -EACCES;
	}
	log_debug("Client uid %u pid %d: role %s", (unsigned) peer.uid, (int) peer.pid, access_role_name(c->role));
	return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t accepted, struct sockaddr *addr, int len,
		      void *userdata)
{
	_cleanup_close_ int fd = accepted;
	_cleanup_free_ struct client *c = NULL;
	struct daemon *d = userdata;
	int r;

	if (d->n_clients >= d->config.max_connections) {   /* limits.max_connections */
		char msg[256];
		int msg_len = snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32004,\"message\":"
				   "\"too many connections: at most %u (limits.max_connections)\",\"data\":"
				   "{\"class\":\"ResourceLimit\",\"limit\":\"max_connections\",\"max\":%u}},"
				   "\"id\":null}\n", d->config.max_connections, d->config.max_connections);
		ssize_t n = send(fd, msg, (size_t) msg_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void) n;
		log_debug("Refused a connection: %u open (limits.max_connections)", d->n_clients);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->daemon = d;
	if (client_set_role(d, c, fd) < 0)
		return;
	r = rpc_peer_new(d->base, TAKE_FD(fd), &client_ops, c, &c->peer);
	if (r < 0) {
		log_warning_errno(r, "Failed to set up a client connection, ignoring: %m");
		return;
	}
	if (d->config.max_message_kib != RPC_MAX_MESSAGE >> 10)   /* limits.max_message_kib */
		rpc_peer_set_max_message(c->peer, (size_t) d->config.max_message_kib << 10);
	c->next = d->clients;
	d->clients = TAKE_PTR(c);   /* client_closed frees it */
	d->n_clients++;
}

static void on_resume_accept(evutil_socket_t fd, short what, void *userdata)
{
	struct daemon *d = userdata;
	if (d->listener)
		evconnlistener_enable(d->listener);
}

static void on_accept_error(struct evconnlistener *l, void *userdata)
{
	struct daemon *d = userdata;
	int err = EVUTIL_SOCKET_ERROR();
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		log_warning_errno(err, "Cannot accept connections for now: %m");
		evconnlistener_disable(l);
		struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
		event_base_once(d->base, -1, EV_TIMEOUT, on_resume_accept, d, &tv);
		return;
	}
	log_warning_errno(err, "accept() failed, ignoring: %m");
}

static int mkdir_parents(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int bind_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int r = mkdir_parents(path);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a dead daemon: only remove it if nobody answers on it. */
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
		return -EADDRINUSE;
	(void) unlink(path);
	mode_t old = umask(0117);   /* socket 0660: owner and group (API access control) */
	r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 128) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int server_listen(struct daemon *d, const char *path, int listen_fd)
{
	int fd = listen_fd;
	if (fd < 0) {
		fd = bind_socket(path);
		if (fd < 0)
			return fd;
	} else if (evutil_make_socket_nonblocking(fd) < 0) {
		/* systemd hands sockets over blocking (NonBlocking=no); libevent's
		 * listener accepts until EAGAIN, so a blocking one hangs the loop. */
		return -errno;
	}
	d->listener = evconnlistener_new(d->base, on_accept, d,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!d->listener) {
		close(fd);
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(d->listener, on_accept_error);
	return 0;
}

void server_close(struct daemon *d)
{
	if (d->listener)
		evconnlistener_free(d->listener);
	d->listener = NULL;
	while (d->clients)
		rpc_peer_close(d->clients->peer, 0);   /* client_closed unlinks it */
}
