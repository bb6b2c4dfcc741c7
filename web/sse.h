/* SPDX-License-Identifier: MIT */
/*
 * GET /events: Server-Sent Events for the dashboard and scripts. vmmweb
 * holds one subscription to vmmd (the union of what its clients want;
 * `stats` only while some client wants it, since vmmd's stats timer runs
 * only for subscribers) and fans each event out:
 *
 *   id: N
 *   event: TYPE            (state, stats, crash, reset, console, ...)
 *   data: {"vm", "type", "data", "timestamp"}   (vmmd's notification params)
 *
 * plus `event: vmmd` {"connected": bool} when the link to vmmd changes and a
 * comment every 15 s so proxies keep the stream open. Query: `vm=NAME`
 * (only that VM), `topic=T` (repeatable; default state, stats, fault).
 * At most SSE_MAX_CLIENTS streams; a client that falls SSE_MAX_BACKLOG
 * bytes behind is dropped (its EventSource reconnects).
 */
#pragma once

#include <event2/http.h>
#include <json-c/json.h>

#define SSE_MAX_CLIENTS 64
#define SSE_MAX_BACKLOG (1u << 20)

struct web;
struct sse_hub;

/* write_timeout_s: a client that takes longer to accept a write is dropped. */
int sse_hub_new(struct web *w, unsigned write_timeout_s, struct sse_hub **ret);
void sse_hub_free(struct sse_hub *h);
void sse_handle(struct sse_hub *h, struct evhttp_request *req);
/* The link to vmmd is up (subscribe again) or down. */
void sse_link_changed(struct sse_hub *h, bool connected);
/* One `event` notification's params from vmmd (borrowed). */
void sse_event(struct sse_hub *h, struct json_object *params);
unsigned sse_clients(const struct sse_hub *h);
