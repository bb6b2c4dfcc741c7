/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "web/api.h"
#include "web/http_guard.h"
#include "web/http_reply.h"
#include "web/scrape.h"
#include "web/server.h"
#include "web/sse.h"
#include "web/static_files.h"
#include "web/vmmd_link.h"
#include "web/web.h"

bool server_host_is_loopback(const char *host)
{
	char name[64];
	size_t len;
	if (!host)
		return true;   /* HTTP/1.0 without Host: nothing to rebind */
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		len = (size_t) (end - host - 1);
		if (len >= sizeof(name))
			return false;
		memcpy(name, host + 1, len);
		name[len] = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	len = strcspn(host, ":");
	if (len >= sizeof(name))
		return false;
	memcpy(name, host, len);
	name[len] = '\0';
	if (strcasecmp(name, "localhost") == 0)
		return true;
	struct in_addr a4;
	return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

char *web_request_path(struct evhttp_request *req)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	return evhttp_uridecode(path && path[0] ? path : "/", 0, NULL);
}

static void healthz(struct web *w, struct evhttp_request *req)
{
	bool up = vmmd_link_ready(w->link);
	struct evbuffer *body = evbuffer_new();
	http_common_headers(req, "text/plain; charset=utf-8", 0);
	if (body)
		evbuffer_add_printf(body, "%s\n", up ? "ok" : "vmmd is not connected");
	evhttp_send_reply(req, up ? 200 : 503, up ? "OK" : "Service Unavailable", body);
	if (body)
		evbuffer_free(body);
}

struct route {
	const char *path;
	bool prefix;         /* path is a prefix; the rest goes to the handler */
	void (*fn)(struct web *w, struct evhttp_request *req, const char *rest);
};

static void route_index(struct web *w, struct evhttp_request *req, const char *rest) { static_handle(w, req, "index.html"); }
static void route_static(struct web *w, struct evhttp_request *req, const char *rest) { static_handle(w, req, rest); }
static void route_metrics(struct web *w, struct evhttp_request *req, const char *rest) { scrape_handle(w->scraper, req); }
static void route_events(struct web *w, struct evhttp_request *req, const char *rest) { sse_handle(w->sse, req); }
static void route_api(struct web *w, struct evhttp_request *req, const char *rest) { api_handle(w, req, rest); }
static void route_healthz(struct web *w, struct evhttp_request *req, const char *rest) { healthz(w, req); }

static const struct route routes[] = {
	{ "/", false, route_index },
	{ "/index.html", false, route_index },
	{ "/static/", true, route_static },
	{ "/metrics", false, route_metrics },
	{ "/events", false, route_events },
	{ "/api/", true, route_api },
	{ "/api", false, route_api },
	{ "/healthz", false, route_healthz },
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct web *w = arg;
	http_guard_request(w->guard, req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		http_reply_error(req, 405, RPC_INVALID_REQUEST, "vmmweb only reads: GET or HEAD", NULL);
		return;
	}
	if (w->check_host &&
	    !server_host_is_loopback(evhttp_find_header(evhttp_request_get_input_headers(req), "Host"))) {
		http_reply_error(req, 403, RPC_PERMISSION_DENIED,
				 "vmmweb listens on loopback only: the Host header must name this machine", NULL);
		return;
	}
	char *path = web_request_path(req);
	if (!path) {
		http_reply_error(req, 400, RPC_INVALID_REQUEST, "malformed request path", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);
		if (r->prefix ? strncmp(path, r->path, n) == 0 : strcmp(path, r->path) == 0) {
			r->fn(w, req, path + (r->prefix ? n : strlen(path)));
			free(path);
			return;
		}
	}
	free(path);
	http_reply_not_found(req);
}

void server_routes(struct web *w)
{
	evhttp_set_gencb(w->http, on_request, w);
}
