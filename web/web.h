/* SPDX-License-Identifier: MIT */
/*
 * vmmweb's shared context: the event loop, the HTTP server, the link to
 * vmmd and the parts that serve each path (docs/dashboard.md, metrics.md):
 *
 *   /            the dashboard (static files, static_files.c)
 *   /static/...  its scripts, styles and Debian's Chart.js
 *   /metrics     Prometheus (scrape.c)
 *   /events      Server-Sent Events from vmmd's topics (sse.c)
 *   /api/METHOD  vmmd's read-only methods as JSON (api.c)
 *   /healthz     200 while vmmd answers, 503 otherwise
 */
#pragma once

#include <stdbool.h>
#include <event2/event.h>
#include <event2/http.h>

#define WEB_VMMD_TIMEOUT_MS 10000   /* a request waits this long for vmmd, then 504 */

struct vmmd_link;
struct http_guard;
struct sse_hub;
struct scraper;

struct web {
	struct event_base *base;
	struct evhttp *http;
	struct vmmd_link *link;
	struct http_guard *guard;
	struct sse_hub *sse;
	struct scraper *scraper;
	char *static_dir;            /* the dashboard's files */
	char *chartjs;               /* Debian's libjs-chart.js build, served as /static/chart.js */
	bool check_host;             /* listening on loopback only: refuse other Host headers (DNS rebinding) */
};

/* The request's path, percent-decoded (NULL for a malformed URI); caller frees. */
char *web_request_path(struct evhttp_request *req);
