/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "proto/framer.h"
#include "vmmd/log.h"
#include "vmmd/rpc_peer.h"

struct pending_call {
	struct pending_call *next;
	int64_t id;
	rpc_reply_fn fn;
	void *userdata;
};

struct rpc_peer {
	unsigned refs;
	bool open;
	int fd;
	struct bufferevent *bev;
	struct rpc_framer *framer;
	const struct rpc_peer_ops *ops;
	void *userdata;
	void *data;
	int64_t next_id;
	struct pending_call *pending;
};

static void peer_free(struct rpc_peer *p)
{
	rpc_framer_free(p->framer);
	free(p);
}

void rpc_peer_ref(struct rpc_peer *p) { p->refs++; }

void rpc_peer_unref(struct rpc_peer *p)
{
	if (p && --p->refs == 0)
		peer_free(p);
}

bool rpc_peer_is_open(const struct rpc_peer *p) { return p->open; }
int rpc_peer_fd(const struct rpc_peer *p) { return p->fd; }
void rpc_peer_set_data(struct rpc_peer *p, void *data) { p->data = data; }
void *rpc_peer_get_data(const struct rpc_peer *p) { return p->data; }

void rpc_peer_close(struct rpc_peer *p, int error)
{
	if (!p->open)
		return;
	p->open = false;
	bufferevent_free(p->bev);   /* BEV_OPT_CLOSE_ON_FREE closes fd */
	p->bev = NULL;
	p->fd = -1;

	/* Fail what the other end will never answer, then tell the owner.
	 * Hold a reference: a callback may drop the owner's. */
	rpc_peer_ref(p);
	struct rpc_error err = { 0 };
	rpc_error_set(&err, RPC_INTERNAL_ERROR, "connection closed before the reply");
	while (p->pending) {
		struct pending_call *c = p->pending;
		p->pending = c->next;
		c->fn(c->userdata, NULL, &err);
		free(c);
	}
	if (p->ops->closed)
		p->ops->closed(p->userdata, p, error);
	rpc_peer_unref(p);
}

int rpc_peer_send(struct rpc_peer *p, struct json_object *msg)
{
	if (!p->open) {
		json_object_put(msg);
		return -EPIPE;
	}
	size_t len;
	char *line = rpc_serialize_line(msg, &len);
	json_object_put(msg);
	if (!line)
		return -ENOMEM;
	struct evbuffer *out = bufferevent_get_output(p->bev);
	if (evbuffer_get_length(out) + len > RPC_PEER_MAX_OUTPUT) {
		free(line);
		log_warning("Dropping a connection whose reader is %zu bytes behind", evbuffer_get_length(out));
		rpc_peer_close(p, -ENOBUFS);
		return -ENOBUFS;
	}
	int r = evbuffer_add(out, line, len);
	free(line);
	return r < 0 ? -ENOMEM : 0;
}

static int write_all(int fd, const char *buf, size_t len, int timeout_ms)
{
	for (size_t done = 0; done < len; ) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n > 0) {
			done += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, timeout_ms) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

int rpc_peer_flush_and_close(struct rpc_peer *p, int timeout_ms)
{
	if (!p->open)
		return -EPIPE;
	/* A socket bufferevent's output is frozen to everyone but itself (no
	 * copyout, no drain), so peek at what is queued and write it here;
	 * closing then drops the original. */
	struct evbuffer *out = bufferevent_get_output(p->bev);
	int r = 0;
	int n = evbuffer_peek(out, -1, NULL, NULL, 0);
	struct evbuffer_iovec *vec = n > 0 ? calloc(n, sizeof(*vec)) : NULL;
	if (n > 0 && !vec)
		r = -ENOMEM;
	if (vec)
		n = evbuffer_peek(out, -1, NULL, vec, n);
	for (int i = 0; r == 0 && vec && i < n; i++)
		r = write_all(p->fd, vec[i].iov_base, vec[i].iov_len, timeout_ms);
	free(vec);
	rpc_peer_close(p, r);
	return r;
}

int rpc_peer_notify(struct rpc_peer *p, const char *method, struct json_object *params)
{
	return rpc_peer_send(p, rpc_request_new(method, params, -1));
}

int rpc_peer_call(struct rpc_peer *p, const char *method, struct json_object *params,
		  rpc_reply_fn fn, void *userdata)
{
	if (!p->open) {
		json_object_put(params);
		return -EPIPE;
	}
	struct pending_call *c = calloc(1, sizeof(*c));
	if (!c) {
		json_object_put(params);
		return -ENOMEM;
	}
	c->id = ++p->next_id;
	c->fn = fn;
	c->userdata = userdata;
	int r = rpc_peer_send(p, rpc_request_new(method, params, c->id));
	if (r < 0) {
		free(c);
		return r;
	}
	c->next = p->pending;
	p->pending = c;
	return 0;
}

/* --- incoming ------------------------------------------------------------ */

static void exchange_handle(void *userdata, struct rpc_call *call)
{
	struct rpc_peer *p = userdata;
	if (!p->ops->handle || !p->open) {
		struct rpc_error err = { 0 };
		rpc_error_set(&err, RPC_METHOD_NOT_FOUND, "method '%s' not found", call->method);
		rpc_call_error(call, &err, NULL);
		return;
	}
	p->ops->handle(p->userdata, p, call);
}

static void exchange_send(void *userdata, struct json_object *response)
{
	struct rpc_peer *p = userdata;
	(void) rpc_peer_send(p, response);
}

static void exchange_release(void *userdata)
{
	rpc_peer_unref(userdata);
}

static const struct rpc_exchange_ops exchange_ops = {
	.handle = exchange_handle,
	.send = exchange_send,
	.release = exchange_release,
};

/* A reply to one of our calls: {"jsonrpc","id", "result"|"error"}, no "method". */
static bool take_reply(struct rpc_peer *p, struct json_object *msg)
{
	struct json_object *id, *v;
	if (!json_object_is_type(msg, json_type_object) || json_object_object_get_ex(msg, "method", NULL) ||
	    !(json_object_object_get_ex(msg, "result", NULL) || json_object_object_get_ex(msg, "error", NULL)))
		return false;   /* not a response: the exchange judges it */
	if (!json_object_object_get_ex(msg, "id", &id) || !json_object_is_type(id, json_type_int))
		return false;
	int64_t want = json_object_get_int64(id);
	for (struct pending_call **pp = &p->pending; *pp; pp = &(*pp)->next) {
		struct pending_call *c = *pp;
		if (c->id != want)
			continue;
		*pp = c->next;
		if (json_object_object_get_ex(msg, "error", &v)) {
			struct rpc_error err = { 0 };
			struct json_object *code, *message, *data, *field;
			err.code = RPC_INTERNAL_ERROR;
			if (json_object_object_get_ex(v, "code", &code))
				err.code = json_object_get_int(code);
			if (json_object_object_get_ex(v, "message", &message))
				snprintf(err.message, sizeof(err.message), "%s", json_object_get_string(message));
			if (json_object_object_get_ex(v, "data", &data) &&
			    json_object_object_get_ex(data, "field", &field))
				snprintf(err.field, sizeof(err.field), "%s", json_object_get_string(field));
			c->fn(c->userdata, NULL, &err);
		} else {
			json_object_object_get_ex(msg, "result", &v);
			c->fn(c->userdata, v, NULL);
		}
		free(c);
		return true;
	}
	return true;   /* a reply to nothing we asked: ignore it */
}

static int on_frame(void *userdata, enum rpc_frame_status status, struct json_object *msg, const char *why)
{
	struct rpc_peer *p = userdata;
	if (!p->open) {
		json_object_put(msg);
		return -EPIPE;
	}
	if (status != RPC_FRAME_OK) {
		struct rpc_error err = { 0 };
		if (status == RPC_FRAME_TOO_LARGE)
			rpc_error_set(&err, RPC_RESOURCE_LIMIT, "message too large: %s", why);
		else
			rpc_error_set(&err, RPC_PARSE_ERROR, "parse error: %s", why);
		return rpc_peer_send(p, rpc_response_error(NULL, &err, NULL)) == -EPIPE ? -EPIPE : 0;
	}
	if (take_reply(p, msg)) {
		json_object_put(msg);
		return 0;
	}
	rpc_peer_ref(p);   /* dropped by exchange_release */
	int r = rpc_exchange_start(msg, &exchange_ops, p);
	if (r < 0) {
		rpc_peer_unref(p);
		return r;
	}
	return p->open ? 0 : -EPIPE;
}

static void on_read(struct bufferevent *bev, void *userdata)
{
	struct rpc_peer *p = userdata;
	struct evbuffer *in = bufferevent_get_input(bev);
	rpc_peer_ref(p);
	while (p->open && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec vec;
		if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
			break;
		size_t n = vec.iov_len;
		int r = rpc_framer_feed(p->framer, vec.iov_base, n, on_frame, p);
		if (p->open)
			evbuffer_drain(in, n);
		if (r < 0 && r != -EPIPE && p->open)
			rpc_peer_close(p, r);
	}
	rpc_peer_unref(p);
}

static void on_event(struct bufferevent *bev, short what, void *userdata)
{
	struct rpc_peer *p = userdata;
	int error = 0;
	if (what & BEV_EVENT_ERROR)
		error = -(EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : EIO);
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		rpc_peer_close(p, error);
}

void rpc_peer_set_max_message(struct rpc_peer *p, size_t max)
{
	struct rpc_framer *f = rpc_framer_new(max, RPC_MAX_DEPTH);
	if (!f)
		return;
	rpc_framer_free(p->framer);
	p->framer = f;
}

int rpc_peer_new(struct event_base *base, int fd, const struct rpc_peer_ops *ops, void *userdata,
		 struct rpc_peer **ret)
{
	struct rpc_peer *p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->framer = rpc_framer_new(RPC_MAX_MESSAGE, RPC_MAX_DEPTH);
	evutil_make_socket_nonblocking(fd);
	p->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!p->framer || !p->bev) {
		if (p->bev)
			bufferevent_free(p->bev);
		else
			close(fd);
		peer_free(p);
		return -ENOMEM;
	}
	p->refs = 1;
	p->open = true;
	p->fd = fd;
	p->ops = ops;
	p->userdata = userdata;
	bufferevent_setcb(p->bev, on_read, NULL, on_event, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	*ret = p;
	return 0;
}
