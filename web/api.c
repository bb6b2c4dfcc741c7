/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "web/api.h"
#include "web/http_reply.h"
#include "web/http_wait.h"
#include "web/vmmd_link.h"
#include "web/web.h"

/* What a monitoring or debugging reader may see: never a method that
 * changes a VM, nor mem.read (guest memory needs admin in vmmd). Which of
 * them vmmweb may call is vmmd's to say (vmm.whoami). */
const char *const api_methods[] = {
	"rpc.discover", "vmm.version", "vmm.stats", "vmm.whoami", "vm.list", "vm.info", "vm.console.read",
	"stats.get", "bus.map", "vcpu.state", "mmu.translate", "mmu.guest", "mmu.shadow", NULL,
};

int api_method_allowed(const char *method)
{
	for (const char *const *m = api_methods; *m; m++)
		if (strcmp(*m, method) == 0)
			return 1;
	return 0;
}

int api_param_value(const char *type, const char *text, struct json_object **ret)
{
	if (!type || strcmp(type, "string") == 0) {
		*ret = json_object_new_string(text);
		return *ret ? 0 : -ENOMEM;
	}
	if (strcmp(type, "boolean") == 0) {
		if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
			*ret = json_object_new_boolean(1);
		else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
			*ret = json_object_new_boolean(0);
		else
			return -EINVAL;
		return 0;
	}
	if (strcmp(type, "integer") == 0) {
		char *end;
		bool neg = text[0] == '-';
		const char *digits = neg ? text + 1 : text;
		if (!*digits || *digits == '-' || *digits == '+' || *digits == ' ')
			return -EINVAL;
		errno = 0;
		unsigned long long v = strtoull(digits, &end, 0);
		if (errno || *end || end == digits)
			return -EINVAL;
		if (neg) {
			if (v > (unsigned long long) INT64_MAX + 1)
				return -EINVAL;
			*ret = json_object_new_int64(v == (unsigned long long) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v);
		} else {
			*ret = v > INT64_MAX ? json_object_new_uint64(v) : json_object_new_int64((int64_t) v);
		}
		return *ret ? 0 : -ENOMEM;
	}
	/* object or array: JSON text. */
	enum json_tokener_error jerr;
	*ret = json_tokener_parse_verbose(text, &jerr);
	return *ret ? 0 : -EINVAL;
}

struct api_call {
	struct http_wait wait;
};

static void on_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct api_call *c = userdata;
	struct evhttp_request *req = http_wait_finish(&c->wait);
	if (req) {
		if (err)
			http_reply_rpc_error(req, err);
		else
			http_reply_json(req, result);
	}
	free(c);
}

static void list_methods(struct web *w, struct evhttp_request *req)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	struct json_object *needs = json_object_new_object();
	const char *role = vmmd_link_role(w->link);

	for (const char *const *m = api_methods; *m; m++) {
		const char *needed = vmmd_link_method_role(w->link, *m);

		if (vmmd_link_may_call(w->link, *m))
			json_object_array_add(a, json_object_new_string(*m));
		else if (vmmd_link_has_method(w->link, *m))
			json_object_object_add(needs, *m, json_object_new_string(needed ? needed : "?"));
	}
	json_object_object_add(o, "methods", a);
	json_object_object_add(o, "role", role ? json_object_new_string(role) : NULL);
	json_object_object_add(o, "needs", needs);
	http_reply_json(req, o);
	json_object_put(o);
}

/* vmmd has the method but gives vmmweb a role below it: say so here, as vmmd would. */
static void refuse_role(struct web *w, struct evhttp_request *req, const char *method)
{
	const char *needed = vmmd_link_method_role(w->link, method), *role = vmmd_link_role(w->link);
	char msg[192];

	snprintf(msg, sizeof(msg), "%.64s needs the %s role; vmmd gives vmmweb %s", method, needed ? needed : "?",
		 role ? role : "?");
	http_reply_error(req, 403, RPC_PERMISSION_DENIED, msg, NULL);
}

/* The query string as params typed for method; replies 400 itself on a bad one. */
static struct json_object *query_params(struct web *w, struct evhttp_request *req, const char *method)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq q;
	struct json_object *params = json_object_new_object();
	char msg[160];
	if (!params)
		return NULL;
	if (!query || !query[0])
		return params;
	if (evhttp_parse_query_str(query, &q) < 0) {
		http_reply_error(req, 400, RPC_INVALID_PARAMS, "malformed query string", NULL);
		json_object_put(params);
		return NULL;
	}
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, &q, next) {
		struct json_object *v;
		const char *type = vmmd_link_param_type(w->link, method, kv->key);
		if (json_object_object_get_ex(params, kv->key, NULL)) {
			snprintf(msg, sizeof(msg), "parameter '%.64s' given twice", kv->key);
			goto bad;
		}
		if (api_param_value(type, kv->value, &v) < 0) {
			snprintf(msg, sizeof(msg), "parameter '%.64s' must be %s %s", kv->key,
				 type && strcmp(type, "integer") == 0 ? "an" : "a", type ? type : "string");
			goto bad;
		}
		json_object_object_add(params, kv->key, v);
	}
	evhttp_clear_headers(&q);
	return params;
bad:
	http_reply_error(req, 400, RPC_INVALID_PARAMS, msg, kv->key);
	evhttp_clear_headers(&q);
	json_object_put(params);
	return NULL;
}

void api_handle(struct web *w, struct evhttp_request *req, const char *method)
{
	if (!vmmd_link_ready(w->link)) {
		http_reply_error(req, 503, RPC_INTERNAL_ERROR, "vmmd is not connected", NULL);
		return;
	}
	if (!method[0]) {
		list_methods(w, req);
		return;
	}
	if (api_method_allowed(method) && vmmd_link_has_method(w->link, method) && !vmmd_link_may_call(w->link, method)) {
		refuse_role(w, req, method);
		return;
	}
	if (!api_method_allowed(method) || !vmmd_link_has_method(w->link, method)) {
		char msg[128];
		snprintf(msg, sizeof(msg), "no read-only method '%.64s' (GET /api/ lists them)", method);
		http_reply_error(req, 404, RPC_METHOD_NOT_FOUND, msg, NULL);
		return;
	}
	struct json_object *params = query_params(w, req, method);
	if (!params)
		return;
	struct api_call *c = calloc(1, sizeof(*c));
	if (!c || http_wait_start(&c->wait, w->base, req, WEB_VMMD_TIMEOUT_MS) < 0) {
		free(c);
		json_object_put(params);
		http_reply_error(req, 503, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	if (json_object_object_length(params) == 0) {
		json_object_put(params);
		params = NULL;
	}
	int r = vmmd_link_call(w->link, method, params, on_reply, c);
	if (r < 0) {
		req = http_wait_finish(&c->wait);
		free(c);
		http_reply_error(req, 503, RPC_INTERNAL_ERROR, "vmmd is not connected", NULL);
	}
}
