/* SPDX-License-Identifier: MIT */
/*
 * An HTTP request waiting for vmmd, with a deadline: if vmmd has not
 * answered within it, the client gets 504 and the answer, when it comes,
 * finds no request to reply to. The RPC callback always runs (with an
 * error when the link closes), so it is where the owner frees its state.
 */
#pragma once

#include <event2/event.h>
#include <event2/http.h>

struct http_wait {
	struct evhttp_request *req;    /* NULL once answered (or timed out) */
	struct event *timer;
};

/* Returns 0 or -ENOMEM (then reply yourself; nothing was armed). */
int http_wait_start(struct http_wait *w, struct event_base *base, struct evhttp_request *req, unsigned timeout_ms);
/* The request to answer now, or NULL if the deadline answered it; disarms the timer. */
struct evhttp_request *http_wait_finish(struct http_wait *w);
