/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "proto/fds.h"
#include "proto/framer.h"
#include "vmmd/common/log.h"
#include "vmmd/common/rpc_peer.h"
#include "vmmd/common/worker_protocol.h"

struct pending_call {
	struct pending_call *next;
	int64_t id;            /* the first of n consecutive ids for a batch */
	rpc_reply_fn fn;       /* a single call */
	rpc_batch_reply_fn batch_fn;   /* a batch of n calls */
	size_t n;
	void *userdata;
};

/*
 * I/O without bufferevents: a bufferevent costs 7 syscalls per request and
 * reply (epoll_wait, ioctl FIONREAD, readv, epoll_ctl +EPOLLOUT, epoll_wait,
 * writev, epoll_ctl -EPOLLOUT). Here a request costs epoll_wait, read and one
 * send: replies made while a read is being handled are corked and sent in one
 * go at its end; others are written at once. Only what the socket does not
 * take waits in `out` for EV_WRITE.
 */
#define READ_CHUNK (64u << 10)
#define FLUSH_IOV 16

/* One incoming message in flight: what it holds, so the peer can stop
 * reading while too much is held (the exchange's userdata). */
struct peer_exchange {
	struct rpc_peer *peer;
	size_t cost;          /* the framer's: bytes and json-c objects */
	unsigned calls;       /* calls dispatched */
};

struct rpc_peer {
	unsigned refs;
	bool open;
	bool corked;          /* handling input: replies wait for its end */
	bool feeding;         /* in the framer: a release must not feed held input */
	bool reading;         /* rev added (else input is paused) */
	int fd;
	int write_error;      /* a failed send, reported from the write event */
	struct event *rev;    /* EV_READ | EV_PERSIST; activated by hand to resume */
	struct event *wev;    /* EV_WRITE | EV_PERSIST, pending while out is not empty */
	struct evbuffer *out; /* what the socket has not taken yet */
	struct rpc_framer *framer;
	const struct rpc_peer_ops *ops;
	void *userdata;
	void *data;
	int64_t next_id;
	struct pending_call *pending;
	/* Garbage guard: bytes and errors since the last well-formed message. */
	uint64_t junk_bytes;
	unsigned junk_errors;
	struct rpc_peer_limits limits;
	unsigned calls;       /* incoming calls in flight */
	size_t inflight;      /* bytes (framer cost) of their messages */
	size_t accounted;     /* our share of limits.budget->used */
	char *held;           /* input read while paused, not framed yet */
	size_t held_off, held_len;
	uint64_t last_input_ms;
	uint64_t line_started_ms;
	uint64_t lines_in;
	/* Descriptors from the other end (proto/fds.h), where it may send them. */
	bool accept_fds;
	struct rpc_fd_queue fdq;
	struct rpc_fds *msg_fds;   /* the message being dispatched: its descriptors */
};

uint64_t rpc_peer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Keep the shared budget in step with what `out` holds. */
static void peer_account(struct rpc_peer *p)
{
	size_t now = evbuffer_get_length(p->out);

	if (p->limits.budget) {
		p->limits.budget->used = p->limits.budget->used - p->accounted + now;
		p->accounted = now;
	}
}

static bool peer_throttled(const struct rpc_peer *p)
{
	const struct rpc_peer_limits *l = &p->limits;

	return (l->max_calls && p->calls >= l->max_calls) ||
	       (l->max_inflight && p->inflight >= l->max_inflight) ||
	       (l->pause_output && evbuffer_get_length(p->out) >= l->pause_output);
}

static void peer_read_off(struct rpc_peer *p)
{
	if (p->reading)
		event_del(p->rev);
	p->reading = false;
}

/* Input may flow again: let the loop feed what is held, or read (not from
 * under the caller, who may be in another peer's callback). */
static void peer_wake(struct rpc_peer *p)
{
	if (p->open && !p->reading && !peer_throttled(p))
		event_active(p->rev, EV_READ, 1);
}

static void peer_free(struct rpc_peer *p)
{
	free(p->held);
	if (p->rev)
		event_free(p->rev);
	if (p->wev)
		event_free(p->wev);
	if (p->out)
		evbuffer_free(p->out);
	rpc_framer_free(p->framer);
	rpc_fd_queue_clear(&p->fdq);
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

/* Every call of a batch gets err. */
static void batch_fail(struct pending_call *c, const struct rpc_error *err)
{
	struct json_object **results = calloc(c->n, sizeof(*results));
	struct rpc_error *errs = calloc(c->n, sizeof(*errs));
	if (results && errs) {
		for (size_t i = 0; i < c->n; i++)
			errs[i] = *err;
		c->batch_fn(c->userdata, c->n, results, errs);
	}
	free(results);
	free(errs);
}

void rpc_peer_close(struct rpc_peer *p, int error)
{
	if (!p->open)
		return;
	p->open = false;
	p->reading = false;
	event_del(p->rev);
	event_del(p->wev);
	evbuffer_drain(p->out, evbuffer_get_length(p->out));
	peer_account(p);
	free(p->held);
	p->held = NULL;
	p->held_len = p->held_off = 0;
	close(p->fd);
	p->fd = -1;

	/* Fail what the other end will never answer, then tell the owner.
	 * Hold a reference: a callback may drop the owner's. A transport
	 * failure (InternalError) whose kind says the other end left: for the
	 * supervisor's calls, that the worker did, which it turns into the
	 * kind's class for its client (methods_inspect.c). */
	rpc_peer_ref(p);
	struct rpc_error err = { 0 };
	rpc_error_set(&err, RPC_INTERNAL_ERROR, "connection closed before the reply");
	snprintf(err.kind, sizeof(err.kind), "%s", worker_error_name(WORKER_ERROR_GONE));
	while (p->pending) {
		struct pending_call *c = p->pending;
		p->pending = c->next;
		if (c->batch_fn)
			batch_fail(c, &err);
		else
			c->fn(c->userdata, NULL, &err);
		free(c);
	}
	if (p->ops->closed)
		p->ops->closed(p->userdata, p, error);
	rpc_peer_unref(p);
}

/* A send failed: close from the write event, not under the caller (who may
 * be walking a list of peers). Drops what is queued. */
static void peer_write_failed(struct rpc_peer *p, int error)
{
	if (p->write_error)
		return;
	p->write_error = error;
	evbuffer_drain(p->out, evbuffer_get_length(p->out));
	peer_account(p);
	event_active(p->wev, EV_WRITE, 1);
}

/* Send what the socket takes of iov: the bytes sent (0 when it is full),
 * or -errno. Never blocks, never raises SIGPIPE. */
static ssize_t peer_sendv(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t) n };
	for (;;) {
		ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k >= 0)
			return k;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ENOTSOCK) {   /* a pipe: SIGPIPE is ignored by vmmd and its workers */
			k = writev(fd, iov, n);
			if (k >= 0)
				return k;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
		}
		return -errno;
	}
}

/* Write out as much of `out` as the socket takes; wait for EV_WRITE for the rest. */
static void peer_flush(struct rpc_peer *p)
{
	while (p->open && !p->write_error && evbuffer_get_length(p->out) > 0) {
		struct evbuffer_iovec vec[FLUSH_IOV];
		struct iovec iov[FLUSH_IOV];
		int n = evbuffer_peek(p->out, -1, NULL, vec, FLUSH_IOV);
		if (n > FLUSH_IOV)
			n = FLUSH_IOV;
		size_t want = 0;
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = vec[i].iov_base;
			iov[i].iov_len = vec[i].iov_len;
			want += vec[i].iov_len;
		}
		ssize_t k = peer_sendv(p->fd, iov, n);
		if (k < 0) {
			peer_write_failed(p, (int) k);
			return;
		}
		evbuffer_drain(p->out, (size_t) k);
		if ((size_t) k < want)
			break;   /* the socket is full */
	}
	peer_account(p);
	if (!p->open || p->write_error)
		return;
	if (evbuffer_get_length(p->out) > 0)
		event_add(p->wev, NULL);
	else if (event_pending(p->wev, EV_WRITE, NULL))
		event_del(p->wev);
	peer_wake(p);   /* the output may have drained below pause_output */
}

static void free_line(const void *data, size_t len, void *line)
{
	(void) data;
	(void) len;
	free(line);
}

/* Queue a serialized line (taken over), as rpc_peer_send. */
static int peer_send_line(struct rpc_peer *p, char *line, size_t len)
{
	if (!p->open) {
		free(line);
		return -EPIPE;
	}
	if (p->write_error) {   /* closing soon; the message is lost like the queued ones */
		free(line);
		return 0;
	}
	size_t queued = evbuffer_get_length(p->out), done = 0;
	if (queued == 0 && !p->corked) {
		/* Nothing ahead of it: straight to the socket, no loop iteration. */
		struct iovec iov = { .iov_base = line, .iov_len = len };
		ssize_t k = peer_sendv(p->fd, &iov, 1);
		if (k < 0) {
			free(line);
			peer_write_failed(p, (int) k);
			return 0;
		}
		done = (size_t) k;
	}
	/* Judged on what would wait: a reader that keeps up never queues,
	 * whatever the others do. Against the shared budget only a peer this
	 * far behind too (its reader stopped) is dropped, not one whose
	 * socket is briefly full. */
	size_t add = len - done;
	const struct rpc_output_budget *b = p->limits.budget;
	if (queued + add > p->limits.max_output ||
	    (b && add && b->used + add > b->max && queued + add >= p->limits.pause_output)) {
		free(line);
		if (queued + add > p->limits.max_output)
			log_warning("Dropping a connection whose reader is %zu bytes behind", queued + add);
		else
			log_warning("Dropping a connection %zu bytes behind: the clients' output budget of %zu "
				    "bytes is spent", queued + add, b->max);
		peer_write_failed(p, -ENOBUFS);
		return -ENOBUFS;
	}
	if (!add) {
		free(line);
		return 0;
	}
	/* By reference: a reply of megabytes is not copied again. */
	int r = 0;
	if (evbuffer_add_reference(p->out, line + done, add, free_line, line) < 0) {
		free(line);
		r = -ENOMEM;
	}
	peer_account(p);
	if (!p->corked)
		event_add(p->wev, NULL);
	return r;
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
	return peer_send_line(p, line, len);
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
	int r = p->write_error;
	while (r == 0 && evbuffer_get_length(p->out) > 0) {
		struct evbuffer_iovec vec;
		if (evbuffer_peek(p->out, -1, NULL, &vec, 1) < 1)
			break;
		r = write_all(p->fd, vec.iov_base, vec.iov_len, timeout_ms);
		if (r == 0)
			evbuffer_drain(p->out, vec.iov_len);
	}
	peer_account(p);
	rpc_peer_close(p, r);
	return r;
}

int rpc_peer_notify(struct rpc_peer *p, const char *method, struct json_object *params)
{
	return rpc_peer_send(p, rpc_request_new(method, params, -1));
}

/* Send msg (taken over) and wait for the answer to c: c is ours on failure, freed. */
static int send_pending(struct rpc_peer *p, struct pending_call *c, struct json_object *msg)
{
	int r = rpc_peer_send(p, msg);
	if (r < 0) {
		free(c);
		return r;
	}
	c->next = p->pending;
	p->pending = c;
	return 0;
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
	return send_pending(p, c, rpc_request_new(method, params, c->id));
}

int rpc_peer_call_batch(struct rpc_peer *p, size_t n, const char *const *methods,
			struct json_object *const *params, rpc_batch_reply_fn fn, void *userdata)
{
	struct pending_call *c = NULL;
	struct json_object *batch = NULL;
	size_t taken = 0;
	int r = -ENOMEM;
	if (!p->open || n == 0 || n > RPC_MAX_BATCH) {
		r = !p->open ? -EPIPE : -EINVAL;
		goto fail;
	}
	c = calloc(1, sizeof(*c));
	batch = json_object_new_array_ext((int) n);
	if (!c || !batch)
		goto fail;
	c->id = p->next_id + 1;
	for (; taken < n; taken++) {
		struct json_object *req = rpc_request_new(methods[taken], params[taken], c->id + (int64_t) taken);
		if (!req || json_object_array_add(batch, req) < 0) {
			json_object_put(req);
			taken++;
			goto fail;
		}
	}
	p->next_id += (int64_t) n;
	c->n = n;
	c->batch_fn = fn;
	c->userdata = userdata;
	return send_pending(p, c, batch);
fail:
	for (size_t i = taken; i < n; i++)
		json_object_put(params[i]);
	json_object_put(batch);
	free(c);
	return r;
}

/* --- incoming ------------------------------------------------------------ */

struct rpc_peer *rpc_peer_of_call(const struct rpc_call *call)
{
	return call->context;
}

static void exchange_handle(void *userdata, struct rpc_call *call)
{
	struct peer_exchange *x = userdata;
	struct rpc_peer *p = x->peer;
	x->calls++;
	p->calls++;
	call->context = p;
	if (!p->ops->handle || !p->open) {
		struct rpc_error err = { 0 };
		rpc_error_set(&err, RPC_METHOD_NOT_FOUND, "method '%s' not found", call->method);
		rpc_call_error(call, &err, NULL);
		return;
	}
	p->ops->handle(p->userdata, p, call);
}

static void exchange_send(void *userdata, char *line, size_t len)
{
	struct peer_exchange *x = userdata;
	(void) peer_send_line(x->peer, line, len);
}

static void exchange_release(void *userdata)
{
	struct peer_exchange *x = userdata;
	struct rpc_peer *p = x->peer;
	p->calls -= x->calls;
	p->inflight -= x->cost;
	free(x);
	if (!p->feeding)
		peer_wake(p);
	rpc_peer_unref(p);
}

static const struct rpc_exchange_ops exchange_ops = {
	.handle = exchange_handle,
	.send = exchange_send,
	.release = exchange_release,
};

/* The id of a response {"jsonrpc","id", "result"|"error"} without "method"; false if msg is none. */
static bool response_id(struct json_object *msg, int64_t *ret)
{
	struct json_object *id;
	if (!json_object_is_type(msg, json_type_object) || json_object_object_get_ex(msg, "method", NULL) ||
	    !(json_object_object_get_ex(msg, "result", NULL) || json_object_object_get_ex(msg, "error", NULL)) ||
	    !json_object_object_get_ex(msg, "id", &id) || !json_object_is_type(id, json_type_int))
		return false;
	*ret = json_object_get_int64(id);
	return true;
}

/* A response's result (borrowed) or its error in *err (code 0 for a result). */
static struct json_object *response_parts(struct json_object *msg, struct rpc_error *err)
{
	struct json_object *v;
	*err = (struct rpc_error) { 0 };
	if (json_object_object_get_ex(msg, "error", &v)) {
		struct json_object *code, *message, *data, *field, *kind;
		err->code = RPC_INTERNAL_ERROR;
		if (json_object_object_get_ex(v, "code", &code))
			err->code = json_object_get_int(code);
		if (json_object_object_get_ex(v, "message", &message))
			snprintf(err->message, sizeof(err->message), "%s", json_object_get_string(message));
		if (json_object_object_get_ex(v, "data", &data) &&
		    json_object_object_get_ex(data, "field", &field))
			snprintf(err->field, sizeof(err->field), "%s", json_object_get_string(field));
		/* The worker's typed error (worker_protocol.h): what the supervisor acts on. */
		if (data && json_object_object_get_ex(data, "kind", &kind) && json_object_is_type(kind, json_type_string))
			snprintf(err->kind, sizeof(err->kind), "%s", json_object_get_string(kind));
		return NULL;
	}
	json_object_object_get_ex(msg, "result", &v);
	return v;
}

/* The pending call (single, or a batch whose id range holds id), unlinked; NULL if none. */
static struct pending_call *take_pending(struct rpc_peer *p, int64_t id, bool batch)
{
	for (struct pending_call **pp = &p->pending; *pp; pp = &(*pp)->next) {
		struct pending_call *c = *pp;
		if (!!c->batch_fn != batch || id < c->id || id >= c->id + (int64_t) (batch ? c->n : 1))
			continue;
		*pp = c->next;
		return c;
	}
	return NULL;
}

/* A batch's reply: an array of responses in any order; a call it lacks fails. */
static void batch_complete(struct pending_call *c, struct json_object *array)
{
	struct json_object **results = calloc(c->n, sizeof(*results));
	struct rpc_error *errs = calloc(c->n, sizeof(*errs));
	if (!results || !errs)
		goto out;
	for (size_t i = 0; i < c->n; i++)
		rpc_error_set(&errs[i], RPC_INTERNAL_ERROR, "the batch reply has no response to this call");
	for (size_t i = 0; i < json_object_array_length(array); i++) {
		struct json_object *m = json_object_array_get_idx(array, i);
		int64_t id;
		if (response_id(m, &id) && id >= c->id && id < c->id + (int64_t) c->n)
			results[id - c->id] = response_parts(m, &errs[id - c->id]);
	}
	c->batch_fn(c->userdata, c->n, results, errs);
out:
	free(results);
	free(errs);
}

/* A reply to one of our calls, or to one of our batches (an array of
 * responses whose first id is one we sent). Anything else: the exchange
 * judges it. */
static bool take_reply(struct rpc_peer *p, struct json_object *msg)
{
	int64_t id;
	if (json_object_is_type(msg, json_type_array)) {
		struct pending_call *c;
		if (json_object_array_length(msg) == 0 || !response_id(json_object_array_get_idx(msg, 0), &id) ||
		    !(c = take_pending(p, id, true)))
			return false;
		batch_complete(c, msg);
		free(c);
		return true;
	}
	if (!response_id(msg, &id))
		return false;
	struct pending_call *c = take_pending(p, id, false);
	if (c) {
		struct rpc_error err;
		struct json_object *result = response_parts(msg, &err);
		c->fn(c->userdata, result, err.code ? &err : NULL);
		free(c);
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
	p->last_input_ms = rpc_peer_now_ms();
	p->lines_in++;
	if (status != RPC_FRAME_OK) {
		struct rpc_error err = { 0 };
		p->junk_errors++;
		if (status == RPC_FRAME_TOO_LARGE)
			rpc_error_set(&err, RPC_RESOURCE_LIMIT, "message too large: %s", why);
		else
			rpc_error_set(&err, RPC_PARSE_ERROR, "parse error: %s", why);
		return rpc_peer_send(p, rpc_response_error(NULL, &err, NULL)) == -EPIPE ? -EPIPE : 0;
	}
	p->junk_bytes = 0;   /* a real message: whatever came before was a mistake, not abuse */
	p->junk_errors = 0;
	if (take_reply(p, msg)) {
		json_object_put(msg);
		return 0;
	}
	struct peer_exchange *x = calloc(1, sizeof(*x));
	if (!x) {
		json_object_put(msg);
		return -ENOMEM;
	}
	x->peer = p;
	x->cost = rpc_framer_last_cost(p->framer);
	p->inflight += x->cost;
	rpc_peer_ref(p);   /* dropped by exchange_release */
	/* Its descriptors, for its handlers to take while they are dispatched
	 * (rpc_peer_take_fd); what they leave is closed. */
	struct rpc_fds fds = { .n = 0 };
	rpc_fd_queue_pop(&p->fdq, rpc_message_fd_count(msg), &fds);
	p->msg_fds = &fds;
	int r = rpc_exchange_start(msg, &exchange_ops, x, p->limits.max_reply);
	p->msg_fds = NULL;
	rpc_fds_close(&fds);
	if (r < 0) {
		p->inflight -= x->cost;
		free(x);
		rpc_peer_unref(p);
		return r;
	}
	return p->open ? 0 : -EPIPE;
}

/*
 * Frame input a line at a time while the peer may take more; returns the
 * bytes used (the rest is for later) and the framer's error in *ret_r.
 */
static size_t peer_feed(struct rpc_peer *p, const char *buf, size_t len, int *ret_r)
{
	size_t done = 0;
	p->feeding = true;
	while (done < len && p->open && !peer_throttled(p)) {
		const char *nl = memchr(buf + done, '\n', len - done);
		size_t n = nl ? (size_t) (nl - (buf + done)) + 1 : len - done;
		bool was_in_line = rpc_framer_in_line(p->framer);
		int r = rpc_framer_feed(p->framer, buf + done, n, on_frame, p);
		if (!was_in_line && p->open && rpc_framer_in_line(p->framer))
			p->line_started_ms = rpc_peer_now_ms();
		done += n;
		if (r < 0) {
			*ret_r = r;
			break;
		}
	}
	p->feeding = false;
	return done;
}

/* Keep what could not be framed yet; reading stays off until it is. */
static int peer_hold(struct rpc_peer *p, const char *rest, size_t n)
{
	char *copy = malloc(n);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, rest, n);
	free(p->held);
	p->held = copy;
	p->held_off = 0;
	p->held_len = n;
	return 0;
}

/* One read's worth of input: what was read now, or what was held. */
static int peer_input(struct rpc_peer *p, const char *buf, size_t n, bool from_held)
{
	int r = 0;
	p->corked = true;
	size_t used = peer_feed(p, buf, n, &r);
	p->corked = false;
	if (from_held) {
		p->held_off += used;
		if (p->held_off == p->held_len) {
			free(p->held);
			p->held = NULL;
			p->held_off = p->held_len = 0;
		}
	} else if (used < n && r >= 0 && p->open)
		r = peer_hold(p, buf + used, n - used);
	/* One oversized or malformed message gets an error and the
	 * connection stays usable; a stream of nothing else is abuse: cut
	 * it off so it costs the daemon no more (bounded input per peer). */
	if (r >= 0 && p->open && (p->junk_bytes > RPC_PEER_MAX_JUNK || p->junk_errors > RPC_PEER_MAX_JUNK_ERRORS)) {
		struct rpc_error err = { 0 };
		rpc_error_set(&err, RPC_RESOURCE_LIMIT, "too much input without a valid message: closing");
		(void) rpc_peer_send(p, rpc_response_error(NULL, &err, NULL));
		peer_flush(p);
		log_warning("Closing a connection that sent %llu bytes / %u errors without a valid message",
			    (unsigned long long) p->junk_bytes, p->junk_errors);
		r = -EMSGSIZE;
	}
	return r;
}

/*
 * read(), with the descriptors that come along queued for the messages
 * that name them (or closed: where the other end may not send any, and
 * past RPC_FD_QUEUE_MAX, which is -EMFILE: a client hoarding them is cut
 * off). A pipe (ENOTSOCK) is read plainly.
 */
static ssize_t peer_read(struct rpc_peer *p, int fd, char *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * RPC_MAX_FDS)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == ENOTSOCK)
		return read(fd, buf, len);
	int r = 0;
	for (struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (!p->accept_fds)
				close(got);
			else if (rpc_fd_queue_push(&p->fdq, got) < 0)
				r = -EMFILE;
		}
	}
	if (r == 0 && n >= 0 && (mh.msg_flags & MSG_CTRUNC) && p->accept_fds)
		r = -EMFILE;   /* more than a message may carry, in one go */
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return n;
}

static void on_readable(evutil_socket_t fd, short what, void *userdata)
{
	struct rpc_peer *p = userdata;
	char buf[READ_CHUNK];
	int r = 0;
	if (!p->open)
		return;
	rpc_peer_ref(p);
	if (p->held) {
		/* Resumed after a pause: the input read before it comes first. */
		r = peer_input(p, p->held + p->held_off, p->held_len - p->held_off, true);
	} else if (!peer_throttled(p)) {
		/* One read per wake-up: the event is level-triggered, so a peer that
		 * sends more than a chunk is served again after the others. */
		ssize_t n = peer_read(p, fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			rpc_peer_close(p, n == 0 ? 0 : -errno);
			goto out;
		}
		if (n > 0) {   /* else nothing yet (woken by hand): just read again */
			p->junk_bytes += (uint64_t) n;
			r = peer_input(p, buf, (size_t) n, false);
		}
	}
	if (r < 0 && r != -EPIPE && p->open)
		rpc_peer_close(p, r);
	if (p->open) {
		/* Read again only when nothing is held and nothing is at its limit;
		 * else whatever ends the pause (a call completing, output
		 * drained) wakes us. */
		if (p->held || peer_throttled(p))
			peer_read_off(p);
		else if (!p->reading)
			p->reading = event_add(p->rev, NULL) == 0;
	}
	peer_flush(p);
out:
	rpc_peer_unref(p);
}

/* Our write failed because the other end is gone (a worker that reported
 * its guest's end and exited): what it sent before it went is still in the
 * socket, its last words. Read them, bounded, before closing; input held
 * from before comes first, and a peer at its limits takes no more. */
static void read_last_words(struct rpc_peer *p)
{
	char buf[READ_CHUNK];
	int r = 0;
	for (size_t total = 0; p->open && r >= 0 && total < RPC_PEER_MAX_LAST_WORDS; ) {
		if (p->held) {
			size_t left = p->held_len - p->held_off;
			r = peer_input(p, p->held + p->held_off, left, true);
			if (p->held && p->held_len - p->held_off == left)
				return;   /* throttled: nothing more is taken now */
			continue;
		}
		if (peer_throttled(p))
			return;
		ssize_t n = read(p->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		p->junk_bytes += (uint64_t) n;
		r = peer_input(p, buf, (size_t) n, false);
		total += (size_t) n;
	}
}

static void on_writable(evutil_socket_t fd, short what, void *userdata)
{
	struct rpc_peer *p = userdata;
	if (!p->open)
		return;
	if (p->write_error) {
		rpc_peer_ref(p);   /* a handler of the last words may drop the owner's */
		read_last_words(p);
		rpc_peer_close(p, p->write_error);
		rpc_peer_unref(p);
		return;
	}
	peer_flush(p);
}

void rpc_peer_accept_fds(struct rpc_peer *p, bool accept)
{
	p->accept_fds = accept;
	if (!accept)
		rpc_fd_queue_clear(&p->fdq);
}

int rpc_peer_take_fd(struct rpc_peer *p, size_t index)
{
	return rpc_fds_take(p->msg_fds, index);
}

void rpc_peer_limits_init(struct rpc_peer_limits *l)
{
	*l = (struct rpc_peer_limits) { .max_message = RPC_MAX_MESSAGE, .max_output = RPC_PEER_MAX_OUTPUT };
}

void rpc_peer_channel_limits(struct rpc_peer_limits *l, bool worker_side)
{
	rpc_peer_limits_init(l);
	l->max_message = RPC_CHANNEL_MAX_MESSAGE;
	if (worker_side) {
		l->max_reply = RPC_CHANNEL_MAX_MESSAGE;
		l->pause_output = 1u << 20;
		l->max_output = 2 * RPC_CHANNEL_MAX_MESSAGE;
	} else
		/* worker.boot and worker.stop go around the queue. */
		l->max_output = (size_t) (RPC_CHANNEL_MAX_CALLS + 4) * RPC_CHANNEL_MAX_MESSAGE;
}

int rpc_peer_set_limits(struct rpc_peer *p, const struct rpc_peer_limits *l)
{
	struct rpc_framer *f = rpc_framer_new(l->max_message, RPC_MAX_DEPTH);
	if (!f)
		return -ENOMEM;
	if (l->value_budget)
		rpc_framer_set_value_budget(f, l->value_budget);
	rpc_framer_free(p->framer);
	p->framer = f;
	if (p->limits.budget) {   /* leave the old budget */
		p->limits.budget->used -= p->accounted;
		p->accounted = 0;
	}
	p->limits = *l;
	peer_account(p);
	return 0;
}

void rpc_peer_set_max_message(struct rpc_peer *p, size_t max)
{
	struct rpc_peer_limits l = p->limits;
	l.max_message = max;
	l.value_budget = 0;
	(void) rpc_peer_set_limits(p, &l);
}

int rpc_peer_set_priority(struct rpc_peer *p, int priority)
{
	/* Only an event that is not active can change priority: right after
	 * rpc_peer_new, the only time the daemon sets it. */
	if (event_priority_set(p->rev, priority) < 0 || event_priority_set(p->wev, priority) < 0)
		return -EINVAL;
	return 0;
}

void rpc_peer_get_state(const struct rpc_peer *p, struct rpc_peer_state *ret)
{
	unsigned pending = 0;
	for (const struct pending_call *c = p->pending; c; c = c->next)
		pending++;
	*ret = (struct rpc_peer_state) {
		.last_input_ms = p->last_input_ms,
		.in_line = p->framer && rpc_framer_in_line(p->framer),
		.line_started_ms = p->line_started_ms,
		.reading = p->reading,
		.calls = p->calls,
		.inflight_bytes = p->inflight,
		.queued = evbuffer_get_length(p->out),
		.held = p->held_len - p->held_off,
		.pending = pending,
		.lines_in = p->lines_in,
	};
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
	p->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, p);
	p->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, p);
	p->out = evbuffer_new();
	if (!p->framer || !p->rev || !p->wev || !p->out || event_add(p->rev, NULL) < 0) {
		close(fd);
		peer_free(p);
		return -ENOMEM;
	}
	p->refs = 1;
	p->open = true;
	p->reading = true;
	p->fd = fd;
	p->ops = ops;
	p->userdata = userdata;
	rpc_peer_limits_init(&p->limits);
	p->last_input_ms = rpc_peer_now_ms();
	*ret = p;
	return 0;
}
