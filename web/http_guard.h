/* SPDX-License-Identifier: MIT */
/*
 * Limits evhttp does not have: how many connections may be open at once,
 * and how long a connection may take to deliver a whole request (a client
 * that trickles a header byte every few seconds never trips evhttp's
 * per-read timeout). The guard learns of each connection through
 * evhttp_set_bevcb, adopts it right after libevent set it up (holding a
 * reference on its bufferevent until then), owns its close callback, and
 * closes it when it is over the limit or past its deadline with no request
 * in service. A request in service (an event stream, a call waiting for
 * vmmd) has no deadline here: the handlers bound those.
 */
#pragma once

#include <event2/event.h>
#include <event2/http.h>

struct http_guard;

/* Installs itself as http's bevcb. request_ms: the first request's
 * deadline after accept, and the next one's after each response. */
int http_guard_new(struct evhttp *http, struct event_base *base, unsigned max_connections,
		   unsigned request_ms, struct http_guard **ret);
void http_guard_free(struct http_guard *g);

/* Call first in every handler: the connection is serving req until it completes. */
void http_guard_request(struct http_guard *g, struct evhttp_request *req);
/* fn(arg) when the connection closes: use this, not evhttp_connection_set_closecb (the guard's). */
void http_guard_on_close(struct http_guard *g, struct evhttp_connection *evcon, void (*fn)(void *arg), void *arg);

unsigned http_guard_connections(const struct http_guard *g);
unsigned long long http_guard_refused(const struct http_guard *g);
unsigned long long http_guard_timeouts(const struct http_guard *g);
