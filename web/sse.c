/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "config/vm_config.h"
#include "vmmctl/json_util.h"
#include "vmmd/common/log.h"
#include "web/http_guard.h"
#include "web/http_reply.h"
#include "web/sse.h"
#include "web/vmmd_link.h"
#include "web/web.h"

#define HEARTBEAT_S 15

/* vmmd's topics, as bits of a client's wish list. */
static const char *const topics[] = { "state", "console", "fault", "stats" };
#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))
#define DEFAULT_TOPICS ((1u << 0) | (1u << 2) | (1u << 3))   /* state, fault, stats */
/* Event types and the topic they come from; others count as `state`. */
static const struct { const char *type; unsigned topic; } type_topics[] = {
	{ "state", 0 }, { "reset", 0 }, { "console", 1 }, { "crash", 2 }, { "stats", 3 },
};

struct sse_client {
	struct sse_client *next;
	struct sse_hub *hub;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	unsigned topics;
	char vm[VM_NAME_MAX + 1];      /* "" = every VM */
};

struct sse_hub {
	struct web *web;
	struct sse_client *clients;
	unsigned n_clients;
	unsigned subscribed;           /* topics asked of vmmd on this connection */
	bool subscribing;
	unsigned long long next_id;
	struct event *heartbeat;
	unsigned write_timeout_s;
};

unsigned sse_clients(const struct sse_hub *h) { return h->n_clients; }

/* The topics vmmd lets vmmweb's role subscribe to (console needs debug). */
static unsigned allowed(const struct sse_hub *h)
{
	unsigned m = 0;
	for (unsigned i = 0; i < N_TOPICS; i++)
		if (vmmd_link_may_subscribe(h->web->link, topics[i]))
			m |= 1u << i;
	return m;
}

static unsigned wanted(const struct sse_hub *h)
{
	unsigned m = 1u << 0;   /* state, always: it keeps the dashboard's list and vmmweb's own view fresh */
	for (const struct sse_client *c = h->clients; c; c = c->next)
		m |= c->topics;
	return m & allowed(h);
}

static void subscribe(struct sse_hub *h);

static void on_subscribed(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct sse_hub *h = userdata;
	h->subscribing = false;
	if (err) {
		log_warning("events.subscribe on vmmd failed: %s", err->message);
		h->subscribed = 0;
		return;
	}
	subscribe(h);   /* clients may have come or gone meanwhile */
}

/* Ask vmmd for the topics our clients want, if that changed. */
static void subscribe(struct sse_hub *h)
{
	unsigned want = wanted(h);
	if (h->subscribing || want == h->subscribed || !vmmd_link_ready(h->web->link))
		return;
	struct json_object *params = json_object_new_object(), *list = json_object_new_array();
	for (unsigned i = 0; i < N_TOPICS; i++)
		if (want & (1u << i))
			json_object_array_add(list, json_object_new_string(topics[i]));
	json_object_object_add(params, "topics", list);
	if (vmmd_link_call(h->web->link, "events.subscribe", params, on_subscribed, h) == 0) {
		h->subscribing = true;
		h->subscribed = want;
	}
}

static void client_drop(struct sse_client *c)
{
	struct sse_hub *h = c->hub;
	for (struct sse_client **pp = &h->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			h->n_clients--;
			break;
		}
	free(c);
	subscribe(h);
}

/* The browser went away (or the connection was closed under us). */
static void on_close(void *userdata)
{
	struct sse_client *c = userdata;
	/* On EOF libevent detaches the unfinished request from the connection;
	 * ending it frees it. Attached, it goes with the connection. */
	if (!evhttp_request_get_connection(c->req))
		evhttp_send_reply_end(c->req);
	client_drop(c);
}

/* Queue one chunk, or drop a client that stopped reading. */
static void client_send(struct sse_client *c, struct evbuffer *chunk)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
	size_t backlog = bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
	if (backlog + evbuffer_get_length(chunk) > SSE_MAX_BACKLOG) {
		log_info("Dropping an event stream %zu bytes behind", backlog);
		struct evhttp_connection *evcon = c->evcon;
		http_guard_on_close(c->hub->web->guard, evcon, NULL, NULL);
		client_drop(c);
		evhttp_connection_free(evcon);   /* frees the request with it */
		return;
	}
	evhttp_send_reply_chunk(c->req, chunk);
}

static void broadcast(struct sse_hub *h, unsigned topic_bit, const char *vm, const char *text)
{
	struct evbuffer *chunk = evbuffer_new();
	if (!chunk)
		return;
	for (struct sse_client *c = h->clients, *next; c; c = next) {
		next = c->next;
		if (!(c->topics & topic_bit) || (vm && c->vm[0] && strcmp(c->vm, vm) != 0))
			continue;
		evbuffer_add(chunk, text, strlen(text));
		client_send(c, chunk);   /* drains chunk */
		evbuffer_drain(chunk, evbuffer_get_length(chunk));
	}
	evbuffer_free(chunk);
}

void sse_event(struct sse_hub *h, struct json_object *params)
{
	const char *type = json_lookup_str(params, "type", NULL), *vm = json_lookup_str(params, "vm", NULL);
	if (!type || !vm || !h->clients)
		return;
	unsigned bit = 1u << 0;
	for (size_t i = 0; i < sizeof(type_topics) / sizeof(type_topics[0]); i++)
		if (strcmp(type_topics[i].type, type) == 0)
			bit = 1u << type_topics[i].topic;
	/* JSON text never holds a raw newline, so one data: line carries it. */
	const char *json = json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char type_safe[32];
	size_t i = 0;
	for (; type[i] && i + 1 < sizeof(type_safe); i++)
		type_safe[i] = (type[i] >= 'a' && type[i] <= 'z') || type[i] == '_' || type[i] == '-' ? type[i] : '_';
	type_safe[i] = '\0';
	size_t len = strlen(json) + 64 + sizeof(type_safe);
	char *text = malloc(len);
	if (!text)
		return;
	snprintf(text, len, "id: %llu\nevent: %s\ndata: %s\n\n", ++h->next_id, type_safe, json);
	broadcast(h, bit, vm, text);
	free(text);
}

static void link_status(struct sse_hub *h, struct sse_client *only, bool connected)
{
	char text[96];
	snprintf(text, sizeof(text), "event: vmmd\ndata: {\"connected\":%s}\n\n", connected ? "true" : "false");
	if (!only) {
		broadcast(h, ~0u, NULL, text);
		return;
	}
	struct evbuffer *chunk = evbuffer_new();
	if (chunk) {
		evbuffer_add(chunk, text, strlen(text));
		client_send(only, chunk);
		evbuffer_free(chunk);
	}
}

void sse_link_changed(struct sse_hub *h, bool connected)
{
	h->subscribed = 0;   /* a new connection has no subscription */
	h->subscribing = false;
	if (connected)
		subscribe(h);
	link_status(h, NULL, connected);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *userdata)
{
	broadcast(userdata, ~0u, NULL, ": keep-alive\n\n");
}

/* topic=... (repeatable) and vm=...; 0, or -EINVAL with why. */
static int parse_query(struct evhttp_request *req, struct sse_client *c, char *why, size_t len)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq q;
	struct evkeyval *kv;
	unsigned t = 0;
	int r = 0;
	if (!query)
		return 0;
	if (evhttp_parse_query_str(query, &q) < 0) {
		snprintf(why, len, "malformed query string");
		return -EINVAL;
	}
	TAILQ_FOREACH(kv, &q, next) {
		if (strcmp(kv->key, "vm") == 0 && vm_name_valid(kv->value)) {
			snprintf(c->vm, sizeof(c->vm), "%s", kv->value);
			continue;
		}
		size_t i = 0;
		while (strcmp(kv->key, "topic") == 0 && i < N_TOPICS && strcmp(topics[i], kv->value) != 0)
			i++;
		if (strcmp(kv->key, "topic") != 0 || i == N_TOPICS) {
			snprintf(why, len, "unknown parameter or value: %.40s=%.40s (vm=NAME, topic=state|console|fault|stats)",
				 kv->key, kv->value);
			r = -EINVAL;
			break;
		}
		t |= 1u << i;
	}
	evhttp_clear_headers(&q);
	if (t)
		c->topics = t;
	return r;
}

void sse_handle(struct sse_hub *h, struct evhttp_request *req)
{
	char why[160];
	if (h->n_clients >= SSE_MAX_CLIENTS) {
		http_reply_error(req, 503, RPC_RESOURCE_LIMIT, "too many event streams", NULL);
		return;
	}
	struct sse_client *c = calloc(1, sizeof(*c));
	if (!c) {
		http_reply_error(req, 503, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	c->topics = DEFAULT_TOPICS;
	if (parse_query(req, c, why, sizeof(why)) < 0) {
		free(c);
		http_reply_error(req, 400, RPC_INVALID_PARAMS, why, NULL);
		return;
	}
	for (unsigned i = 0; vmmd_link_ready(h->web->link) && i < N_TOPICS; i++)
		if ((c->topics & ~allowed(h)) & (1u << i)) {
			/* Only console is above monitor: guests print their secrets there. */
			snprintf(why, sizeof(why), "the %s topic needs the debug role; vmmd gives vmmweb %s",
				 topics[i], vmmd_link_role(h->web->link) ? vmmd_link_role(h->web->link) : "?");
			free(c);
			http_reply_error(req, 403, RPC_PERMISSION_DENIED, why, NULL);
			return;
		}
	c->hub = h;
	c->req = req;
	c->evcon = evhttp_request_get_connection(req);
	http_common_headers(req, "text/event-stream; charset=utf-8", 0);
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Accel-Buffering", "no");
	evhttp_send_reply_start(req, 200, "OK");
	/* evhttp keeps reading (to see the client close) under the server's
	 * timeout, which would end an idle stream: no read timeout here; the
	 * write timeout still drops a client that stops reading. */
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
	if (bev) {
		struct timeval write_tv = { h->write_timeout_s, 0 };
		bufferevent_set_timeouts(bev, NULL, &write_tv);
	}
	http_guard_on_close(h->web->guard, c->evcon, on_close, c);
	c->next = h->clients;
	h->clients = c;
	h->n_clients++;
	struct evbuffer *hello = evbuffer_new();
	if (hello) {
		evbuffer_add_printf(hello, "retry: 2000\n: vmmweb event stream\n\n");
		client_send(c, hello);
		evbuffer_free(hello);
	}
	link_status(h, c, vmmd_link_ready(h->web->link));
	subscribe(h);
}

int sse_hub_new(struct web *w, unsigned write_timeout_s, struct sse_hub **ret)
{
	struct sse_hub *h = calloc(1, sizeof(*h));
	struct timeval tv = { HEARTBEAT_S, 0 };
	if (!h)
		return -ENOMEM;
	h->web = w;
	h->write_timeout_s = write_timeout_s;
	h->heartbeat = event_new(w->base, -1, EV_PERSIST, on_heartbeat, h);
	if (!h->heartbeat || event_add(h->heartbeat, &tv) < 0) {
		sse_hub_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void sse_hub_free(struct sse_hub *h)
{
	if (!h)
		return;
	while (h->clients) {
		struct sse_client *c = h->clients;
		h->clients = c->next;
		http_guard_on_close(h->web->guard, c->evcon, NULL, NULL);
		free(c);
	}
	if (h->heartbeat)
		event_free(h->heartbeat);
	free(h);
}
