/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "proto/rpc.h"
#include "web/http_reply.h"
#include "web/http_wait.h"

static void on_deadline(evutil_socket_t fd, short what, void *userdata)
{
	struct http_wait *w = userdata;
	if (!w->req)
		return;
	http_reply_error(w->req, 504, RPC_INTERNAL_ERROR, "vmmd did not answer in time", NULL);
	w->req = NULL;
}

int http_wait_start(struct http_wait *w, struct event_base *base, struct evhttp_request *req, unsigned timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	w->req = req;
	w->timer = evtimer_new(base, on_deadline, w);
	if (!w->timer || evtimer_add(w->timer, &tv) < 0) {
		if (w->timer)
			event_free(w->timer);
		w->timer = NULL;
		w->req = NULL;
		return -ENOMEM;
	}
	return 0;
}

struct evhttp_request *http_wait_finish(struct http_wait *w)
{
	struct evhttp_request *req = w->req;
	if (w->timer)
		event_free(w->timer);
	w->timer = NULL;
	w->req = NULL;
	return req;
}
