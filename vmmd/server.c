/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
#define ACCEPT_BATCH    8     /* connections taken per wake-up */

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
	if (!c->daemon->clients && c->daemon->sweep_ev)
		evtimer_del(c->daemon->sweep_ev);
	rpc_peer_set_data(c->peer, NULL);
	rpc_peer_unref(c->peer);   /* pending exchanges keep the peer alive, not the client */
	free(c);
}

static const struct rpc_peer_ops client_ops = { .handle = client_handle, .closed = client_closed };

/* One error line (id null) to a connection about to be closed or refused. */
static void send_refusal(int fd, int code, const char *limit, unsigned max, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void send_refusal(int fd, int code, const char *limit, unsigned max, const char *fmt, ...)
{
	struct rpc_error err = { .code = code };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	struct json_object *data = NULL;
	if (limit) {
		data = json_object_new_object();
		json_object_object_add(data, "limit", json_object_new_string(limit));
		json_object_object_add(data, "max", json_object_new_int64(max));
	}
	size_t len;
	struct json_object *msg = rpc_response_error(NULL, &err, data);
	char *line = msg ? rpc_serialize_line(msg, &len) : NULL;
	json_object_put(msg);
	if (line) {
		ssize_t n = send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void) n;
	}
	free(line);
}

static unsigned connections_of(const struct daemon *d, uid_t uid)
{
	unsigned n = 0;
	for (const struct client *c = d->clients; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* A token bucket per user for new connections, kept for the users seen
 * last: true if uid may open one more now. */
static bool connect_allowed(struct daemon *d, uid_t uid)
{
	uint64_t now = rpc_peer_now_ms();
	struct connect_rate *r = NULL, *oldest = &d->connect_rates[0];
	for (size_t i = 0; i < ELEMENTSOF(d->connect_rates); i++) {
		struct connect_rate *x = &d->connect_rates[i];
		if (x->at_ms && x->uid == uid) {
			r = x;
			break;
		}
		if (x->at_ms < oldest->at_ms)
			oldest = x;
	}
	if (!r) {
		r = oldest;
		*r = (struct connect_rate) { .uid = uid, .at_ms = now, .tokens = CLIENT_CONNECT_BURST };
	}
	r->tokens += (double) (now - r->at_ms) * CLIENT_CONNECT_RATE / 1000;
	if (r->tokens > CLIENT_CONNECT_BURST)
		r->tokens = CLIENT_CONNECT_BURST;
	r->at_ms = now;
	if (r->tokens < 1)
		return false;
	r->tokens -= 1;
	return true;
}

/*
 * The connection's role from its peer's credentials (access.h), and whether
 * it may have a slot: every connection counts against max_connections,
 * the last admin_connections of them are for admins only, and one user
 * who is not admin may hold max_connections_per_user (issue 14, finding
 * 11: 256 half-sent connections of a read user locked root out) and open
 * CLIENT_CONNECT_RATE a second after a burst. A peer refused is told why
 * in one error line.
 */
static int client_admit(struct daemon *d, struct client *c, int fd)
{
	const struct daemon_config *cfg = &d->config;
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
		send_refusal(fd, RPC_PERMISSION_DENIED, NULL, 0, "this user may not use vmmd");
		log_info("Refused a connection from uid %u (pid %d): no role", (unsigned) peer.uid, (int) peer.pid);
		return -EACCES;
	}
	if (d->n_clients >= cfg->max_connections) {
		send_refusal(fd, RPC_RESOURCE_LIMIT, "max_connections", cfg->max_connections,
			     "too many connections: at most %u (limits.max_connections)", cfg->max_connections);
		log_debug("Refused a connection: %u open (limits.max_connections)", d->n_clients);
		return -EUSERS;
	}
	if (c->role == ACCESS_ADMIN)
		return 0;
	if (d->n_clients >= cfg->max_connections - cfg->admin_connections) {
		send_refusal(fd, RPC_RESOURCE_LIMIT, "admin_connections", cfg->admin_connections,
			     "too many connections: the last %u of %u are kept for admins (limits.admin_connections)",
			     cfg->admin_connections, cfg->max_connections);
		log_debug("Refused uid %u: only admin slots are left", (unsigned) c->uid);
		return -EUSERS;
	}
	unsigned mine = connections_of(d, c->uid);
	if (mine >= cfg->max_connections_per_user) {
		send_refusal(fd, RPC_RESOURCE_LIMIT, "max_connections_per_user", cfg->max_connections_per_user,
			     "uid %u has %u connections open: at most %u (limits.max_connections_per_user)",
			     (unsigned) c->uid, mine, cfg->max_connections_per_user);
		log_debug("Refused uid %u: %u connections open (limits.max_connections_per_user)",
			  (unsigned) c->uid, mine);
		return -EUSERS;
	}
	if (!connect_allowed(d, c->uid)) {
		send_refusal(fd, RPC_RESOURCE_LIMIT, "connect_rate", CLIENT_CONNECT_RATE,
			     "uid %u opens connections faster than %u a second: try again later",
			     (unsigned) c->uid, CLIENT_CONNECT_RATE);
		return -EUSERS;
	}
	return 0;
}

static void client_set_limits(struct daemon *d, struct client *c)
{
	struct rpc_peer_limits l;
	bool admin = c->role == ACCESS_ADMIN;
	rpc_peer_limits_init(&l);
	l.max_message = (size_t) d->config.max_message_kib << 10;   /* limits.max_message_kib */
	l.max_calls = CLIENT_MAX_CALLS;
	l.max_inflight = CLIENT_MAX_INFLIGHT;
	l.pause_output = CLIENT_PAUSE_OUTPUT;
	l.max_output = admin ? CLIENT_ADMIN_OUTPUT : CLIENT_READ_OUTPUT;
	/* One reply always fits behind what pauses reading. */
	l.max_reply = l.max_output - l.pause_output;
	l.budget = admin ? NULL : &d->output_budget;
	if (rpc_peer_set_limits(c->peer, &l) < 0)
		log_warning("Cannot set a connection's limits, keeping the defaults");
	(void) rpc_peer_set_priority(c->peer, admin ? DAEMON_PRIO_ADMIN : DAEMON_PRIO_CLIENT);
}

/* Idle connections and messages that never end (finding 11, 3). */
static void on_sweep(evutil_socket_t fd, short what, void *userdata)
{
	struct daemon *d = userdata;
	uint64_t now = rpc_peer_now_ms();
	uint64_t idle_ms = (uint64_t) d->config.idle_timeout_s * 1000;
	uint64_t message_ms = (uint64_t) d->config.message_timeout_s * 1000;
	for (struct client *c = d->clients, *next; c; c = next) {
		next = c->next;   /* closing c unlinks it */
		struct rpc_peer_state st;
		rpc_peer_get_state(c->peer, &st);
		if (st.in_line && now - st.line_started_ms > message_ms) {
			struct rpc_error err = { 0 };
			rpc_error_set(&err, RPC_RESOURCE_LIMIT, "a message was not completed within %u s "
				      "(limits.message_timeout_s): closing", d->config.message_timeout_s);
			(void) rpc_peer_send(c->peer, rpc_response_error(NULL, &err, NULL));
			log_info("Closing a connection of uid %u: a message took more than %u s",
				 (unsigned) c->uid, d->config.message_timeout_s);
			(void) rpc_peer_flush_and_close(c->peer, 0);
		} else if (idle_ms && !st.in_line && !st.calls && !st.queued && !c->topics &&
			   now - st.last_input_ms > idle_ms) {
			log_debug("Closing a connection of uid %u idle for %u s", (unsigned) c->uid,
				  d->config.idle_timeout_s);
			rpc_peer_close(c->peer, 0);
		}
	}
}

static void client_accept(struct daemon *d, int accepted)
{
	_cleanup_close_ int fd = accepted;
	_cleanup_free_ struct client *c = NULL;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->daemon = d;
	if (client_admit(d, c, fd) < 0)
		return;
	r = rpc_peer_new(d->base, TAKE_FD(fd), &client_ops, c, &c->peer);
	if (r < 0) {
		log_warning_errno(r, "Failed to set up a client connection, ignoring: %m");
		return;
	}
	rpc_peer_set_data(c->peer, c);   /* a call's client: method_call_owner */
	client_set_limits(d, c);
	/* A VM's files, opened with the client's rights: only an admin may pass
	 * them (vm.create, vm.start); anyone else's are closed as they come. */
	rpc_peer_accept_fds(c->peer, c->role >= ACCESS_ADMIN);
	c->next = d->clients;
	d->clients = TAKE_PTR(c);   /* client_closed frees it */
	d->n_clients++;
	if (!d->sweep_ev)
		d->sweep_ev = event_new(d->base, -1, EV_PERSIST, on_sweep, d);
	if (d->sweep_ev && !evtimer_pending(d->sweep_ev, NULL)) {
		struct timeval tv = { CLIENT_SWEEP_MS / 1000, (CLIENT_SWEEP_MS % 1000) * 1000 };
		evtimer_add(d->sweep_ev, &tv);
	}
}

static void on_resume_accept(evutil_socket_t fd, short what, void *userdata)
{
	struct daemon *d = userdata;
	if (d->listener)
		event_add(d->listener, NULL);
}

/*
 * At most ACCEPT_BATCH connections per wake-up, not "until EAGAIN" (libevent's
 * evconnlistener): a client connecting and hanging up as fast as it can
 * would otherwise keep the loop accepting while an admin's call waits. The
 * event is level-triggered, so what is left is taken on the next turn,
 * after the others (issue 14).
 */
static void on_accept_ready(evutil_socket_t lfd, short what, void *userdata)
{
	struct daemon *d = userdata;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			client_accept(d, fd);
			continue;
		}
		int err = errno;
		if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED)
			return;
		if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
			/* Let fds free up (tmux server.c). */
			log_warning_errno(err, "Cannot accept connections for now: %m");
			event_del(d->listener);
			struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
			event_base_once(d->base, -1, EV_TIMEOUT, on_resume_accept, d, &tv);
			return;
		}
		log_warning_errno(err, "accept() failed, ignoring: %m");
		return;
	}
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
		/* systemd hands sockets over blocking (NonBlocking=no); accepting
		 * from a blocking one would hang the loop. */
		return -errno;
	}
	(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
	d->listener = event_new(d->base, fd, EV_READ | EV_PERSIST, on_accept_ready, d);
	if (!d->listener || event_priority_set(d->listener, DAEMON_PRIO_DEFAULT) < 0 ||
	    event_add(d->listener, NULL) < 0) {
		if (d->listener)
			event_free(d->listener);
		d->listener = NULL;
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

void server_close(struct daemon *d)
{
	if (d->listener) {
		close(event_get_fd(d->listener));
		event_free(d->listener);
	}
	d->listener = NULL;
	while (d->clients)
		rpc_peer_close(d->clients->peer, 0);   /* client_closed unlinks it */
	if (d->sweep_ev)
		event_free(d->sweep_ev);
	d->sweep_ev = NULL;
}
