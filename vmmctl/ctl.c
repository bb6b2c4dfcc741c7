/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmmctl/vmmctl.h"

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vmmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_oom(void)
{
	ctl_error("out of memory");
	return -ENOMEM;
}

int ctl_usage_error(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fputs("vmmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctl->cmd)
		fprintf(stderr, "usage: vmmctl %s %s\n", ctl->cmd->name, ctl->cmd->usage);
	ctl->usage_error = true;
	return -EINVAL;
}

int ctl_connect(struct ctl *ctl)
{
	int r;

	if (ctl->client)
		return 0;
	r = rpc_client_connect(ctl->socket_path, &ctl->client);
	if (r < 0) {
		/* Missing socket or nobody listening: the usual cause is a stopped daemon. */
		bool hint = r == -ENOENT || r == -ECONNREFUSED;

		ctl_error("cannot connect to %s: %s%s", ctl->socket_path, strerror(-r),
			  hint ? " (is vmmd running?)" : "");
		return r;
	}
	return 0;
}

int ctl_try_call(struct ctl *ctl, const char *method, struct json_object *params,
		 struct json_object **ret_result, struct rpc_error *err)
{
	return ctl_try_call_fds(ctl, method, params, NULL, 0, ret_result, err);
}

int ctl_try_call_fds(struct ctl *ctl, const char *method, struct json_object *params, const int *fds, size_t n,
		     struct json_object **ret_result, struct rpc_error *err)
{
	int r;

	*err = (struct rpc_error) {};
	r = ctl_connect(ctl);
	if (r < 0) {
		json_object_put(params);
		/* Already reported; tell ctl_print_call_error not to repeat it. */
		snprintf(err->message, sizeof(err->message), "not connected");
		return -ENOTCONN;
	}
	return rpc_client_call_fds(ctl->client, method, params, fds, n, ret_result, err);
}

void ctl_print_call_error(struct ctl *ctl, const char *method, int r, const struct rpc_error *err)
{
	if (r == -ENOTCONN && !ctl->client)
		return;
	if (r == -EPROTO) {
		const char *class = rpc_code_class(err->code);

		if (err->code == RPC_CONFIG_INVALID && err->field[0])
			ctl_error("%s: %s: %s", class, err->field, err->message);
		else
			ctl_error("%s: %s", class, err->message);
		return;
	}
	if (r == -ECONNRESET || r == -EPIPE)
		ctl_error("%s: connection to vmmd at %s closed", method, ctl->socket_path);
	else
		ctl_error("%s: %s", method, err->message[0] ? err->message : strerror(-r));
}

int ctl_call(struct ctl *ctl, const char *method, struct json_object *params,
	     struct json_object **ret_result)
{
	return ctl_call_fds(ctl, method, params, NULL, 0, ret_result);
}

int ctl_call_fds(struct ctl *ctl, const char *method, struct json_object *params, const int *fds, size_t n,
		 struct json_object **ret_result)
{
	struct rpc_error err;
	int r;

	r = ctl_try_call_fds(ctl, method, params, fds, n, ret_result, &err);
	if (r < 0)
		ctl_print_call_error(ctl, method, r, &err);
	return r;
}

struct json_object *ctl_params_name(const char *name)
{
	struct json_object *p = json_object_new_object();
	struct json_object *s = json_object_new_string(name);

	if (!p || !s || json_object_object_add(p, "name", s) < 0) {
		json_object_put(p);
		json_object_put(s);
		return NULL;
	}
	return p;
}
