/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>

#include "web/http_guard.h"

#define HTTP_MAX_SINGLE_WRITE (1 << 20)

struct guarded {
	struct guarded *next;
	struct http_guard *g;
	struct bufferevent *bev;        /* referenced until adopted */
	struct evhttp_connection *evcon; /* NULL until adopted */
	struct event *timer;            /* adopt now, then the request deadline */
	bool busy;                      /* a request is in service */
	void (*on_close)(void *arg);
	void *close_arg;
};

struct http_guard {
	struct event_base *base;
	struct guarded *conns;
	unsigned max, live;
	unsigned request_ms;
	unsigned long long refused, timeouts;
};

unsigned http_guard_connections(const struct http_guard *g) { return g->live; }
unsigned long long http_guard_refused(const struct http_guard *g) { return g->refused; }
unsigned long long http_guard_timeouts(const struct http_guard *g) { return g->timeouts; }

static void unlink_conn(struct guarded *c)
{
	for (struct guarded **pp = &c->g->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	event_free(c->timer);
	free(c);
}

static void arm(struct guarded *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct guarded *c = arg;
	c->g->live--;
	if (c->on_close)
		c->on_close(c->close_arg);
	unlink_conn(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct guarded *c = arg;
	if (c->busy)
		return;
	c->g->timeouts++;
	evhttp_connection_free(c->evcon);   /* on_close frees c */
}

/* Right after accept: libevent has built the connection around our
 * bufferevent and pointed its callbacks at it (cbarg = the connection). */
static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct guarded *c = arg;
	struct http_guard *g = c->g;
	bufferevent_event_cb eventcb;
	void *cbarg;
	bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &cbarg);
	struct bufferevent *bev = c->bev;
	c->bev = NULL;
	if (!eventcb || !cbarg) {
		/* libevent gave up on it already (its free cleared the callbacks). */
		bufferevent_decref(bev);
		unlink_conn(c);
		return;
	}
	struct evhttp_connection *evcon = cbarg;
	if (g->live >= g->max) {
		g->refused++;
		unlink_conn(c);
		bufferevent_decref(bev);
		evhttp_connection_free(evcon);
		return;
	}
	c->evcon = evcon;
	g->live++;
	/* libevent writes a response in pieces: with Nagle the tail of a
	 * /metrics page would wait for the client's delayed ACK (40 ms). Fails
	 * harmlessly on a Unix socket. */
	int one = 1;
	(void) setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evhttp_connection_set_closecb(evcon, on_close, c);
	bufferevent_decref(bev);
	event_assign(c->timer, g->base, -1, 0, on_deadline, c);
	arm(c, g->request_ms);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct http_guard *g = arg;
	/* Without BEV_OPT_CLOSE_ON_FREE evhttp closes the socket itself when it
	 * frees the connection, so our reference never keeps a socket open. */
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
	struct guarded *c = calloc(1, sizeof(*c));
	if (!bev || !c)
		goto fail;
	/* libevent writes at most 16 KiB per write(2) by default: a /metrics
	 * page of half a megabyte took 32 trips through epoll. The kernel
	 * still takes only what fits in the socket's buffer. */
	(void) bufferevent_set_max_single_write(bev, HTTP_MAX_SINGLE_WRITE);
	c->g = g;
	c->bev = bev;
	c->timer = evtimer_new(base, on_adopt, c);
	if (!c->timer)
		goto fail;
	bufferevent_incref(bev);
	c->next = g->conns;
	g->conns = c;
	event_active(c->timer, EV_TIMEOUT, 1);
	return bev;
fail:
	free(c);
	return bev;   /* unguarded, but served (NULL: libevent makes its own) */
}

static struct guarded *find(struct http_guard *g, struct evhttp_connection *evcon)
{
	for (struct guarded *c = g->conns; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

static void on_complete(struct evhttp_request *req, void *arg)
{
	struct guarded *c = arg;
	c->busy = false;
	arm(c, c->g->request_ms);
}

void http_guard_request(struct http_guard *g, struct evhttp_request *req)
{
	struct guarded *c = find(g, evhttp_request_get_connection(req));
	if (!c)
		return;
	c->busy = true;
	evtimer_del(c->timer);
	evhttp_request_set_on_complete_cb(req, on_complete, c);
}

void http_guard_on_close(struct http_guard *g, struct evhttp_connection *evcon, void (*fn)(void *arg), void *arg)
{
	struct guarded *c = find(g, evcon);
	if (c) {
		c->on_close = fn;
		c->close_arg = arg;
	}
}

int http_guard_new(struct evhttp *http, struct event_base *base, unsigned max_connections,
		   unsigned request_ms, struct http_guard **ret)
{
	struct http_guard *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->base = base;
	g->max = max_connections;
	g->request_ms = request_ms;
	evhttp_set_bevcb(http, make_bev, g);
	*ret = g;
	return 0;
}

/* After evhttp_free (which closed every connection through on_close). */
void http_guard_free(struct http_guard *g)
{
	if (!g)
		return;
	while (g->conns) {
		struct guarded *c = g->conns;
		if (c->bev)
			bufferevent_decref(c->bev);
		c->on_close = NULL;
		unlink_conn(c);
	}
	free(g);
}
