/* SPDX-License-Identifier: MIT */
/*
 * worker.boot {config, console, console_size?, console_continue?, exit_report?, control?}:
 * build the VM (vm_create: a failure names its kind, vm_error.h), start its
 * vCPUs, open what outlives the supervisor (the exit report, the control
 * socket, adopt.h), then switch the sandbox on: from then on the worker
 * makes only the system calls running the guest needs (sandbox.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/vm_config.h"
#include "vmmd/common/log.h"
#include "vmmd/worker/sandbox.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/worker.h"

/* The console ring's size (limits.console_buffer_kib); absent: the default. */
static int console_size_param(struct json_object *params, size_t *ret, struct rpc_error *err)
{
	struct json_object *v;
	int64_t n;

	*ret = CONSOLE_RING_DEFAULT;
	if (!json_object_object_get_ex(params, "console_size", &v))
		return 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < CONSOLE_RING_MIN || n > CONSOLE_RING_MAX)
		return worker_error_set(err, WORKER_ERROR_PARAMS, "console_size",
					"console_size must be between %u and %u", CONSOLE_RING_MIN, CONSOLE_RING_MAX);
	*ret = (size_t) n;
	return 0;
}

static const char *string_param(struct json_object *params, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(params, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* What outlives a supervisor: the exit report file and the control socket.
 * Neither is needed to run the guest, so failing to open them is a warning. */
static void open_survival(struct worker *w, struct json_object *params)
{
	const char *path = string_param(params, "exit_report");
	int r;

	if (path) {
		w->exit_report_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (w->exit_report_fd < 0)
			log_warning_errno(-errno, "Failed to open the exit report file, ignoring: %m");
	}
	path = string_param(params, "control");
	if (path) {
		r = adopt_listen(w->base, path, worker_on_adopt, w, &w->adopt);
		if (r < 0)
			log_warning_errno(r, "Failed to open the control socket, the VM will not survive a supervisor restart: %m");
	}
}

/* Everything is open and running: from here on, the sandbox. Only a test
 * environment may run without it (secure_getenv: never for a setuid caller). */
static bool sandbox_on(void)
{
	int r;

	if (secure_getenv("VMMD_NO_SANDBOX")) {
		log_warning("VMMD_NO_SANDBOX is set: running without the seccomp filter");
		return false;
	}
	r = sandbox_apply();
	if (r < 0) {
		log_warning_errno(r, "Failed to install the seccomp filter, running without it: %m");
		return false;
	}
	return true;
}

void worker_boot(struct worker *w, struct vm *unused, struct rpc_call *call)
{
	struct json_object *params = call->params, *config_json, *res;
	struct config_error cerr = { 0 };
	struct rpc_error err = { 0 };
	struct vm_error verr;
	const char *console;
	size_t console_size;
	int r;

	if (w->vm || w->config) {
		worker_fail(call, WORKER_ERROR_STATE, "already booted");
		return;
	}
	console = params ? string_param(params, "console") : NULL;
	if (!console || !json_object_object_get_ex(params, "config", &config_json)) {
		worker_fail(call, WORKER_ERROR_PARAMS, "worker.boot needs config and console");
		return;
	}
	if (console_size_param(params, &console_size, &err) < 0) {
		rpc_call_error(call, &err, NULL);
		return;
	}
	r = vm_config_from_json(config_json, &w->config, &cerr);
	if (r < 0) {
		worker_error_set(&err, WORKER_ERROR_CONFIG, cerr.field, "%s: %s", cerr.field, cerr.message);
		rpc_call_error(call, &err, NULL);
		w->error = r;
		worker_leave_after_reply(w);   /* the supervisor starts a new worker for a new config */
		return;
	}

	struct json_object *v;
	bool console_continue = json_object_object_get_ex(params, "console_continue", &v) &&
				json_object_get_boolean(v);
	r = vm_create(w->config, console, console_size, console_continue, &w->vm, &verr);
	if (r < 0) {
		worker_error_set(&err, verr.kind, NULL, "%s: %s", verr.why, strerror(-r));
		log_error("Failed to build the VM: %s: %s", verr.why, strerror(-r));
		rpc_call_error(call, &err, NULL);
		w->error = r;
		worker_leave_after_reply(w);   /* nothing to run */
		return;
	}

	r = worker_watch_vm(w);
	if (r < 0) {
		worker_fail(call, WORKER_ERROR_INTERNAL, "cannot watch the VM: %s", strerror(-r));
		w->error = r;
		worker_leave_after_reply(w);
		return;
	}
	r = vm_start(w->vm);
	if (r < 0) {
		/* vm_start recorded an exit: the loop reports it and leaves. */
		worker_fail(call, WORKER_ERROR_INTERNAL, "cannot start the vCPU threads: %s", strerror(-r));
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &w->booted);
	open_survival(w, params);
	w->sandboxed = sandbox_on();

	res = json_object_new_object();
	json_object_object_add(res, "pid", json_object_new_int(getpid()));
	json_object_object_add(res, "sandboxed", json_object_new_boolean(w->sandboxed));
	json_object_object_add(res, "boot", vm_boot_json(w->vm));
	rpc_call_result(call, res);
}
