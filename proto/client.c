/* SPDX-License-Identifier: MIT */
/*
 * Blocking JSON-RPC client over a Unix stream socket. One call is in flight
 * at a time; whatever arrives before its reply (notifications, stale
 * replies) is delivered or dropped in arrival order.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/client.h"
#include "proto/fds.h"
#include "proto/framer.h"

/* A line as the framer delivered it: a message, or why it was unreadable. */
struct client_msg {
	struct client_msg *next;
	struct json_object *msg;
	int error;                  /* 0, -EBADMSG or -EMSGSIZE */
	char why[80];
};

struct rpc_client {
	int fd;
	struct rpc_framer *framer;
	int64_t next_id;
	rpc_notify_fn notify;
	void *notify_userdata;
	/* Lines of the last read not consumed yet. Refilled only when empty,
	 * so it never holds more than one read's worth. */
	struct client_msg *head, **tail;
	char buf[64 * 1024];
};

static void client_msg_free(struct client_msg *m)
{
	if (!m)
		return;
	json_object_put(m->msg);
	free(m);
}

static int client_on_frame(void *userdata, enum rpc_frame_status status,
			   struct json_object *msg, const char *why)
{
	struct rpc_client *c = userdata;
	struct client_msg *m;

	m = calloc(1, sizeof(*m));
	if (!m) {
		json_object_put(msg);
		return -ENOMEM;
	}
	m->msg = msg;
	if (status == RPC_FRAME_TOO_LARGE)
		m->error = -EMSGSIZE;
	else if (status != RPC_FRAME_OK)
		m->error = -EBADMSG;
	if (why)
		(void) snprintf(m->why, sizeof(m->why), "%s", why);
	*c->tail = m;
	c->tail = &m->next;
	return 0;
}

int rpc_client_from_fd(int fd, struct rpc_client **ret)
{
	struct rpc_client *c;

	if (fd < 0)
		return -EBADF;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->framer = rpc_framer_new(RPC_CLIENT_MAX_MESSAGE, RPC_MAX_DEPTH);
	if (!c->framer) {
		free(c);
		return -ENOMEM;
	}
	c->fd = fd;
	c->next_id = 1;
	c->tail = &c->head;
	*ret = c;
	return 0;
}

int rpc_unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!path || !path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int rpc_client_connect(const char *path, struct rpc_client **ret)
{
	int fd = rpc_unix_connect(path), r;

	if (fd < 0)
		return fd;
	r = rpc_client_from_fd(fd, ret);
	if (r < 0)
		close(fd);
	return r;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	while (c->head) {
		struct client_msg *m = c->head;

		c->head = m->next;
		client_msg_free(m);
	}
	rpc_framer_free(c->framer);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int rpc_client_fd(const struct rpc_client *c)
{
	return c->fd;
}

void rpc_client_on_notify(struct rpc_client *c, rpc_notify_fn fn, void *userdata)
{
	c->notify = fn;
	c->notify_userdata = userdata;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events; 1 ready, 0 timed out, -errno. */
static int client_poll(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int timeout = -1, n;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			timeout = left <= 0 ? 0 : left > 1000000 ? 1000000 : (int) left;
		}
		n = poll(&p, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return n > 0;
	}
}

/* All of it, across partial writes and signals; never SIGPIPE. */
static int client_write_all(struct rpc_client *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			/* Someone handed us a non-blocking fd: wait for room. */
			r = client_poll(c->fd, POLLOUT, -1);
			if (r < 0)
				return r;
			continue;
		}
		p += k;
		n -= (size_t) k;
	}
	return 0;
}

/* The request with its descriptors attached to its first byte (proto/fds.h). */
static int client_send_fds(struct rpc_client *c, const char *p, size_t len, const int *fds, size_t n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * RPC_MAX_FDS)];
	} control;
	struct iovec iov = { .iov_base = (void *) p, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * n),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	ssize_t k;

	if (n == 0 || n > RPC_MAX_FDS)
		return -EINVAL;
	memset(&control, 0, sizeof(control));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	for (;;) {
		k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (k >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int r = client_poll(c->fd, POLLOUT, -1);
		if (r < 0)
			return r;
	}
	return client_write_all(c, p + k, len - (size_t) k);
}

/* One read into the framer: 1 data, 0 timed out, -ECONNRESET on EOF, -errno. */
static int client_fill(struct rpc_client *c, int64_t deadline)
{
	for (;;) {
		ssize_t n;
		int r;

		r = client_poll(c->fd, POLLIN, deadline);
		if (r <= 0)
			return r;
		n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		r = rpc_framer_feed(c->framer, c->buf, (size_t) n, client_on_frame, c);
		return r < 0 ? r : 1;
	}
}

/* The next line received, waiting for it until deadline (-1: forever). */
static int client_next(struct rpc_client *c, int64_t deadline, struct client_msg **ret)
{
	struct client_msg *m;
	int r;

	while (!c->head) {
		r = client_fill(c, deadline);
		if (r <= 0)
			return r;
	}
	m = c->head;
	c->head = m->next;
	if (!c->head)
		c->tail = &c->head;
	m->next = NULL;
	*ret = m;
	return 1;
}

static bool is_notification(struct json_object *msg)
{
	return json_object_is_type(msg, json_type_object) &&
	       json_object_object_get_ex(msg, "method", NULL);
}

static void client_deliver(struct rpc_client *c, struct json_object *msg)
{
	if (c->notify)
		c->notify(c->notify_userdata, msg);
}

static int transport_error(struct rpc_error *err, int r, const char *what)
{
	if (r == -ECONNRESET)
		rpc_error_set(err, RPC_INTERNAL_ERROR, "%s: connection closed by the server", what);
	else
		rpc_error_set(err, RPC_INTERNAL_ERROR, "%s: %s", what, strerror(-r));
	return r;
}

static int line_error(struct rpc_error *err, const struct client_msg *m)
{
	rpc_error_set(err, RPC_INTERNAL_ERROR, "unreadable reply: %s", m->why);
	return m->error;
}

/* Whether msg answers request `id`; an error with a null id answers
 * whatever we sent, since the server could not read our id. */
static bool is_reply_to(struct json_object *msg, int64_t id)
{
	struct json_object *v;

	if (!json_object_is_type(msg, json_type_object) ||
	    !json_object_object_get_ex(msg, "id", &v))
		return false;
	if (!v)
		return json_object_object_get_ex(msg, "error", NULL);
	return json_object_is_type(v, json_type_int) && json_object_get_int64(v) == id;
}

/* Fill err from a reply's error object; -EPROTO, or -EBADMSG if malformed. */
static int reply_error(struct json_object *e, struct rpc_error *err)
{
	struct json_object *code, *message, *data = NULL, *field, *kind;

	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "code", &code) ||
	    !json_object_is_type(code, json_type_int) ||
	    !json_object_object_get_ex(e, "message", &message) ||
	    !json_object_is_type(message, json_type_string)) {
		rpc_error_set(err, RPC_INTERNAL_ERROR, "malformed error in reply");
		return -EBADMSG;
	}
	if (json_object_object_get_ex(e, "data", &data) &&
	    json_object_object_get_ex(data, "field", &field) &&
	    json_object_is_type(field, json_type_string))
		rpc_error_set_field(err, (int) json_object_get_int64(code), json_object_get_string(field),
				    "%s", json_object_get_string(message));
	else
		rpc_error_set(err, (int) json_object_get_int64(code), "%s",
			      json_object_get_string(message));
	if (data && json_object_object_get_ex(data, "kind", &kind) && json_object_is_type(kind, json_type_string))
		snprintf(err->kind, sizeof(err->kind), "%s", json_object_get_string(kind));
	/* code 0 would read as "no error" to callers. */
	if (err->code == 0)
		err->code = RPC_INTERNAL_ERROR;
	return -EPROTO;
}

int rpc_client_call(struct rpc_client *c, const char *method, struct json_object *params,
		    struct json_object **ret_result, struct rpc_error *err)
{
	return rpc_client_call_fds(c, method, params, NULL, 0, ret_result, err);
}

int rpc_client_call_fds(struct rpc_client *c, const char *method, struct json_object *params, const int *fds,
			size_t n, struct json_object **ret_result, struct rpc_error *err)
{
	struct rpc_error dummy;
	struct json_object *req, *v;
	struct client_msg *m = NULL;
	size_t len;
	char *line;
	int64_t id;
	int r;

	if (!err)
		err = &dummy;
	*err = (struct rpc_error) { 0 };

	id = c->next_id++;
	req = rpc_request_new(method, params, id);
	if (!req)
		return transport_error(err, -ENOMEM, "building request");
	line = rpc_serialize_line(req, &len);
	json_object_put(req);
	if (!line)
		return transport_error(err, -ENOMEM, "building request");
	r = n ? client_send_fds(c, line, len, fds, n) : client_write_all(c, line, len);
	free(line);
	if (r < 0)
		return transport_error(err, r, "sending request");

	for (;;) {
		r = client_next(c, -1, &m);
		if (r == 0)
			r = -ETIMEDOUT;  /* cannot happen without a deadline */
		if (r < 0 || !m)
			return transport_error(err, r, "waiting for reply");
		if (m->error < 0) {
			r = line_error(err, m);
			goto out;
		}
		if (is_notification(m->msg))
			client_deliver(c, m->msg);
		else if (is_reply_to(m->msg, id))
			break;
		/* Anything else is a reply to an earlier call we gave up on. */
		client_msg_free(m);
		m = NULL;
	}

	if (json_object_object_get_ex(m->msg, "error", &v))
		r = reply_error(v, err);
	else if (json_object_object_get_ex(m->msg, "result", &v)) {
		*ret_result = json_object_get(v);
		r = 0;
	} else {
		rpc_error_set(err, RPC_INTERNAL_ERROR, "reply has neither result nor error");
		r = -EBADMSG;
	}
out:
	client_msg_free(m);
	return r;
}

int rpc_client_wait(struct rpc_client *c, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct client_msg *m;
	int r;

	for (;;) {
		m = NULL;
		r = client_next(c, deadline, &m);
		if (r <= 0 || !m)
			return r;
		if (m->error < 0) {
			r = m->error;
			client_msg_free(m);
			return r;
		}
		if (is_notification(m->msg)) {
			client_deliver(c, m->msg);
			client_msg_free(m);
			return 1;
		}
		/* A stray reply: nobody is waiting for it. */
		client_msg_free(m);
	}
}
