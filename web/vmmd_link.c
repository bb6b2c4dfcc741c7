/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/client.h"
#include "vmmctl/json_util.h"
#include "vmmd/common/log.h"
#include "web/vmmd_link.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* Replies to one scrape of ~1000 VMs are a few MiB; more is not a reply we want. */
#define LINK_MAX_MESSAGE (16u << 20)

struct vmmd_link {
	struct event_base *base;
	char *path;
	const struct vmmd_link_ops *ops;
	void *userdata;
	struct rpc_peer *peer;
	struct event *retry;
	unsigned backoff_ms;
	int error;
	bool ready;
	bool freeing;         /* vmmd_link_free is closing the peer: no retry, no callbacks */
	/* {method: {param: type}} from rpc.discover */
	struct json_object *methods;
	/* {method: role} from rpc.discover's x-role */
	struct json_object *roles;
	/* vmm.whoami: our role and {method: true} for what it may call; NULL
	 * from a vmmd without roles below debug (it lets us call everything). */
	struct json_object *whoami, *allowed;
	unsigned long long batches, calls;
};

static void schedule_retry(struct vmmd_link *l)
{
	struct timeval tv = { l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000 };
	evtimer_add(l->retry, &tv);
	l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void on_handle(void *userdata, struct rpc_peer *peer, struct rpc_call *call)
{
	struct vmmd_link *l = userdata;
	if (!l->freeing && !call->id && strcmp(call->method, "event") == 0 && l->ops->event)
		l->ops->event(l->userdata, call->params);
	rpc_call_result(call, NULL);   /* a notification: nothing goes back */
}

static void on_closed(void *userdata, struct rpc_peer *peer, int error)
{
	struct vmmd_link *l = userdata;
	if (l->freeing)
		return;
	bool was_ready = l->ready;
	l->ready = false;
	l->error = error ? error : -ECONNRESET;
	if (l->peer == peer) {
		l->peer = NULL;
		rpc_peer_unref(peer);
	}
	if (was_ready) {
		log_warning("Lost the connection to vmmd at %s; reconnecting", l->path);
		if (l->ops->disconnected)
			l->ops->disconnected(l->userdata);
	}
	l->backoff_ms = BACKOFF_MIN_MS;
	schedule_retry(l);
}

static const struct rpc_peer_ops peer_ops = { .handle = on_handle, .closed = on_closed };

/* {method: {param: type}} out of an OpenRPC document, and {method: role} into *ret_roles. */
static struct json_object *index_methods(struct json_object *doc, struct json_object **ret_roles)
{
	struct json_object *out = json_object_new_object(), *methods = json_lookup(doc, "methods");
	struct json_object *roles = json_object_new_object();
	size_t n = json_object_is_type(methods, json_type_array) ? json_object_array_length(methods) : 0;
	for (size_t i = 0; out && roles && i < n; i++) {
		struct json_object *m = json_object_array_get_idx(methods, i), *params = json_lookup(m, "params");
		struct json_object *types = json_object_new_object();
		size_t np = json_object_is_type(params, json_type_array) ? json_object_array_length(params) : 0;
		for (size_t k = 0; types && k < np; k++) {
			struct json_object *p = json_object_array_get_idx(params, k);
			const char *name = json_lookup_str(p, "name", NULL), *type = json_lookup_str(p, "schema.type", NULL);
			if (name && type)
				json_object_object_add(types, name, json_object_new_string(type));
		}
		const char *name = json_lookup_str(m, "name", NULL), *role = json_lookup_str(m, "x-role", NULL);
		if (name && types)
			json_object_object_add(out, name, types);
		else
			json_object_put(types);
		if (name && role)
			json_object_object_add(roles, name, json_object_new_string(role));
	}
	*ret_roles = roles;
	return out;
}

static void now_ready(struct vmmd_link *l)
{
	l->ready = true;
	l->error = 0;
	l->backoff_ms = BACKOFF_MIN_MS;
	log_info("Connected to vmmd at %s%s%s", l->path, l->whoami ? " with the role " : "",
		 l->whoami ? json_lookup_str(l->whoami, "role", "?") : "");
	if (l->ops->connected)
		l->ops->connected(l->userdata);
}

static void on_whoami(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct vmmd_link *l = userdata;
	struct json_object *methods;

	if (!l->peer)
		return;
	if (err) {
		log_warning("vmm.whoami on %s failed: %s; reconnecting", l->path, err->message);
		rpc_peer_close(l->peer, -EPROTO);
		return;
	}
	l->whoami = json_object_get(result);
	l->allowed = json_object_new_object();
	methods = json_lookup(result, "methods");
	for (size_t i = 0; l->allowed && json_object_is_type(methods, json_type_array) &&
			   i < json_object_array_length(methods); i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(methods, i));
		if (m)
			json_object_object_add(l->allowed, m, json_object_new_boolean(1));
	}
	now_ready(l);
}

/* What the last vmmd said of itself and of us. */
static void forget_vmmd(struct vmmd_link *l)
{
	json_object_put(l->methods);
	json_object_put(l->roles);
	json_object_put(l->whoami);
	json_object_put(l->allowed);
	l->methods = l->roles = l->whoami = l->allowed = NULL;
}

static void on_discover(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct vmmd_link *l = userdata;
	if (!l->peer)
		return;   /* closed meanwhile: on_closed retries */
	if (err) {
		/* A vmmd that will not describe itself is of no use to us; try later. */
		log_warning("rpc.discover on %s failed: %s; reconnecting", l->path, err->message);
		rpc_peer_close(l->peer, -EPROTO);
		return;
	}
	forget_vmmd(l);
	l->methods = index_methods(result, &l->roles);
	/* Which of its views vmmweb may fill: its role decides (a vmmd before roles were split has no whoami). */
	if (!vmmd_link_has_method(l, "vmm.whoami")) {
		now_ready(l);
		return;
	}
	int r = rpc_peer_call(l->peer, "vmm.whoami", NULL, on_whoami, l);
	if (r < 0 && l->peer)
		rpc_peer_close(l->peer, r);
}

static void try_connect(evutil_socket_t unused, short what, void *userdata)
{
	struct vmmd_link *l = userdata;
	int fd = rpc_unix_connect(l->path);
	if (fd < 0) {
		if (fd != l->error)
			log_warning_errno(fd, "Cannot connect to vmmd at %s, retrying: %m", l->path);
		l->error = fd;
		schedule_retry(l);
		return;
	}
	int r = rpc_peer_new(l->base, fd, &peer_ops, l, &l->peer);
	if (r < 0) {
		l->error = r;
		schedule_retry(l);
		return;
	}
	rpc_peer_set_max_message(l->peer, LINK_MAX_MESSAGE);
	r = rpc_peer_call(l->peer, "rpc.discover", NULL, on_discover, l);
	if (r < 0 && l->peer)
		rpc_peer_close(l->peer, r);
}

int vmmd_link_new(struct event_base *base, const char *socket_path, const struct vmmd_link_ops *ops,
		  void *userdata, struct vmmd_link **ret)
{
	struct vmmd_link *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->base = base;
	l->path = strdup(socket_path);
	l->ops = ops;
	l->userdata = userdata;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->error = -ENOTCONN;
	l->retry = evtimer_new(base, try_connect, l);
	if (!l->path || !l->retry) {
		vmmd_link_free(l);
		return -ENOMEM;
	}
	*ret = l;
	return 0;
}

void vmmd_link_free(struct vmmd_link *l)
{
	if (!l)
		return;
	l->freeing = true;
	if (l->peer) {
		struct rpc_peer *p = l->peer;
		l->peer = NULL;
		rpc_peer_close(p, 0);   /* calls in flight fail now, while their owners exist */
		rpc_peer_unref(p);
	}
	if (l->retry)
		event_free(l->retry);
	forget_vmmd(l);
	free(l->path);
	free(l);
}

void vmmd_link_start(struct vmmd_link *l)
{
	try_connect(-1, 0, l);
}

bool vmmd_link_ready(const struct vmmd_link *l) { return l->ready; }
const char *vmmd_link_socket(const struct vmmd_link *l) { return l->path; }
int vmmd_link_error(const struct vmmd_link *l) { return l->error; }
unsigned long long vmmd_link_batches(const struct vmmd_link *l) { return l->batches; }
unsigned long long vmmd_link_calls(const struct vmmd_link *l) { return l->calls; }

int vmmd_link_call(struct vmmd_link *l, const char *method, struct json_object *params,
		   rpc_reply_fn fn, void *userdata)
{
	if (!l->ready || !l->peer) {
		json_object_put(params);
		return -ENOTCONN;
	}
	l->calls++;
	return rpc_peer_call(l->peer, method, params, fn, userdata);
}

int vmmd_link_batch(struct vmmd_link *l, size_t n, const char *const *methods,
		    struct json_object *const *params, rpc_batch_reply_fn fn, void *userdata)
{
	if (!l->ready || !l->peer) {
		for (size_t i = 0; i < n; i++)
			json_object_put(params[i]);
		return -ENOTCONN;
	}
	l->batches++;
	l->calls += n;
	return rpc_peer_call_batch(l->peer, n, methods, params, fn, userdata);
}

bool vmmd_link_has_method(const struct vmmd_link *l, const char *method)
{
	return l->methods && json_object_object_get_ex(l->methods, method, NULL);
}

bool vmmd_link_may_call(const struct vmmd_link *l, const char *method)
{
	return vmmd_link_has_method(l, method) && (!l->allowed || json_object_object_get_ex(l->allowed, method, NULL));
}

bool vmmd_link_may_subscribe(const struct vmmd_link *l, const char *topic)
{
	struct json_object *topics = l->whoami ? json_lookup(l->whoami, "topics") : NULL;

	if (!l->whoami)
		return true;
	for (size_t i = 0; json_object_is_type(topics, json_type_array) && i < json_object_array_length(topics); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(topics, i)), topic) == 0)
			return true;
	return false;
}

const char *vmmd_link_role(const struct vmmd_link *l)
{
	return l->whoami ? json_lookup_str(l->whoami, "role", NULL) : NULL;
}

const char *vmmd_link_method_role(const struct vmmd_link *l, const char *method)
{
	struct json_object *v;
	return l->roles && json_object_object_get_ex(l->roles, method, &v) ? json_object_get_string(v) : NULL;
}

const char *vmmd_link_param_type(const struct vmmd_link *l, const char *method, const char *param)
{
	struct json_object *types, *t;
	if (!l->methods || !json_object_object_get_ex(l->methods, method, &types) ||
	    !json_object_object_get_ex(types, param, &t))
		return NULL;
	return json_object_get_string(t);
}
