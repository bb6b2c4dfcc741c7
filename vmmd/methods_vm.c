/* SPDX-License-Identifier: MIT */
/* The VM life-cycle methods: create, start, pause, resume, stop, destroy, list, info, console. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/macro.h"
#include "proto/base64.h"
#include "vmmd/call_files.h"
#include "vmmd/events.h"
#include "vmmd/lifecycle.h"
#include "vmmd/common/log.h"
#include "vmmd/common/worker_protocol.h"
#include "vmmd/methods.h"
#include "vmmd/worker_adopt.h"
#include "vmmd/worker_link.h"

#define CONSOLE_READ_DEFAULT  65536
#define CONSOLE_READ_MAX      (1u << 20)
#define CONSOLE_WRITE_MAX     4096

struct json_object *vm_summary_json(struct vm_record *vm)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(vm->name));
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(vm->state)));
	json_object_object_add(o, "paging", json_object_new_string(vm_paging_name(vm->config->paging)));
	json_object_object_add(o, "vcpus", json_object_new_int(vm->config->vcpus));
	json_object_object_add(o, "memory_mib", json_object_new_int(vm->config->memory_mib));
	json_object_object_add(o, "uptime_s", json_object_new_double(vm_uptime(vm)));
	char buf[160];
	const char *problem = vm->problem ? vm->problem : worker_problem(vm, buf, sizeof(buf));
	if (problem)
		json_object_object_add(o, "problem", json_object_new_string(problem));
	return o;
}

/* ResourceLimit naming the limit: data {limit, max, and what `data` adds (taken over)}. */
__attribute__((format(printf, 5, 6)))
static void limit_error(struct rpc_call *call, const char *limit, uint64_t max, struct json_object *data,
			const char *fmt, ...)
{
	struct rpc_error err = { .code = RPC_RESOURCE_LIMIT };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	if (data) {
		json_object_object_add(data, "limit", json_object_new_string(limit));
		json_object_object_add(data, "max", json_object_new_uint64(max));
	}
	rpc_call_error(call, &err, data);
}

void method_vm_create(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *unused)
{
	struct config_error cerr = { 0 };
	struct vm_config *config = NULL;
	struct rpc_error err = { 0 };
	if (vm_config_from_json(param_get(call->params, "config"), &config, &cerr) < 0) {
		rpc_call_errorf(call, RPC_CONFIG_INVALID, cerr.field, "%s%s%s", cerr.field, cerr.field[0] ? ": " : "",
				cerr.message);
		return;
	}
	/* Its files: what the message brought, the rest by path as the caller may (call_files.h). */
	struct vm_files_origin origin;
	call_files_init(&origin);
	if (call_files_take(c, call, config, &origin, &err) < 0 ||
	    call_files_check_paths(d, c, config, &origin, &err) < 0) {
		call_files_close(&origin);
		vm_config_free(config);
		rpc_call_error(call, &err, NULL);
		return;
	}
	struct vm_record *vm;
	int r = registry_add(&d->registry, config, &origin, &vm);
	if (r < 0) {
		call_files_close(&origin);
		if (r == -EEXIST)
			rpc_call_errorf(call, RPC_VM_EXISTS, NULL, "a VM named '%s' exists", config->name);
		else if (r == -E2BIG)
			limit_error(call, "max_vms", d->registry.max_vms, json_object_new_object(),
				    "at most %u VMs are defined (limits.max_vms)", d->registry.max_vms);
		else if (r == -ENOSPC || r == -EDQUOT)
			rpc_call_errorf(call, RPC_RESOURCE_LIMIT, NULL, "cannot save the VM definition: %s "
					"(the state directory)", strerror(-r));
		else
			rpc_call_errorf(call, RPC_INTERNAL_ERROR, NULL,
					"cannot save the VM definition: %s", strerror(-r));
		vm_config_free(config);
		return;
	}
	log_info("VM %s created", vm->name);
	events_emit_state(d, vm, VM_STATE_CREATED);
	lifecycle_reply_state(call, vm);
}

uint64_t vm_memory_in_use(const struct daemon *d, const struct vm_record *except)
{
	uint64_t sum = 0;
	for (const struct vm_record *vm = d->registry.head; vm; vm = vm->next)
		if (vm != except && (vm->worker || vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED))
			sum += vm->config->memory_mib;
	return sum;
}

/* vm.start's files replace what vmmd holds for their slots, which are a
 * client's from now on (persisted: after a restart they are needed again). */
static int take_start_files(struct client *c, struct rpc_call *call, struct vm_record *vm, struct rpc_error *err)
{
	struct vm_files_origin given;
	bool changed = false;

	call_files_init(&given);
	int r = call_files_take(c, call, vm->config, &given, err);
	if (r < 0) {
		call_files_close(&given);
		return r;
	}
	for (int i = 0; i < VM_FILE_SLOTS; i++) {
		if (given.files[i] < 0)
			continue;
		safe_close(vm->files[i]);
		vm->files[i] = TAKE_FD(given.files[i]);
		changed |= !vm->client_file[i];
		vm->client_file[i] = true;
	}
	/* The held descriptors serve this start either way; only a restart needs the file. */
	if (changed && (r = registry_save(&c->daemon->registry, vm)) < 0)
		log_warning_errno(r, "Failed to save VM %s, ignoring: %m", vm->name);
	return 0;
}

void method_vm_start(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	if (vm->problem) {
		rpc_call_errorf(call, RPC_CONFIG_INVALID, "", "'%s' cannot start: %s", vm->name, vm->problem);
		return;
	}
	uint64_t max = d->config.max_total_memory_mib;   /* 0: unlimited */
	if (max) {
		uint64_t used = vm_memory_in_use(d, vm), want = vm->config->memory_mib;
		if (used + want > max) {
			struct json_object *data = json_object_new_object();
			json_object_object_add(data, "in_use_mib", json_object_new_uint64(used));
			json_object_object_add(data, "requested_mib", json_object_new_uint64(want));
			limit_error(call, "max_total_memory_mib", max, data,
				    "starting '%s' (%" PRIu64 " MiB) would bring guest memory to %" PRIu64
				    " MiB, over limits.max_total_memory_mib = %" PRIu64 " MiB (%" PRIu64 " MiB in use)",
				    vm->name, want, used + want, max, used);
			return;
		}
	}
	struct rpc_error err = { 0 };
	if (take_start_files(c, call, vm, &err) < 0 || worker_spawn(d, vm, call, &err) < 0)
		rpc_call_error(call, &err, NULL);
}

/* Pause and resume: forwarded, and the state changes when the worker confirms. */
struct forward {
	struct daemon *daemon;
	struct rpc_call *call;
	char name[VM_NAME_MAX + 1];
	enum vm_state target;
};

static void forward_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct forward *f = userdata;
	struct vm_record *vm = registry_find(&f->daemon->registry, f->name);
	if (err) {
		rpc_call_error(f->call, err, NULL);
	} else if (!vm) {
		rpc_call_errorf(f->call, RPC_NO_SUCH_VM, NULL, "VM '%s' went away", f->name);
	} else {
		if (vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_PAUSED)
			lifecycle_set_state(f->daemon, vm, f->target);
		lifecycle_reply_state(f->call, vm);
	}
	free(f);
}

static void forward_state(struct daemon *d, struct rpc_call *call, struct vm_record *vm,
			  const char *method, enum vm_state target)
{
	if (vm->state == target) {   /* idempotent */
		lifecycle_reply_state(call, vm);
		return;
	}
	struct forward *f = calloc(1, sizeof(*f));
	if (!f) {
		rpc_call_errorf(call, RPC_INTERNAL_ERROR, NULL, "out of memory");
		return;
	}
	*f = (struct forward) { .daemon = d, .call = call, .target = target };
	snprintf(f->name, sizeof(f->name), "%s", vm->name);
	int r = worker_call_from(vm, method_call_owner(call), method, NULL, forward_reply, f);
	if (r < 0) {
		free(f);
		rpc_call_errorf(call, RPC_INVALID_STATE, NULL,
				"the worker of '%s' is not reachable: %s", vm->name, strerror(-r));
	}
}

void method_vm_pause(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	forward_state(d, call, vm, WORKER_METHOD_PAUSE, VM_STATE_PAUSED);
}

void method_vm_resume(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	forward_state(d, call, vm, WORKER_METHOD_RESUME, VM_STATE_RUNNING);
}

void method_vm_stop(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	if (!vm->worker) {
		rpc_call_errorf(call, RPC_INVALID_STATE, NULL, "vm.stop: VM '%s' is %s, with no worker to stop",
				vm->name, vm_state_name(vm->state));
		return;
	}
	struct pending_reply *p = calloc(1, sizeof(*p));
	if (!p) {
		rpc_call_errorf(call, RPC_INTERNAL_ERROR, NULL, "out of memory");
		return;
	}
	/* Answered when the worker is gone and the state is final (worker_link.c). */
	p->call = call;
	p->next = vm->on_stopped;
	vm->on_stopped = p;
	worker_stop(vm, param_bool(call->params, "force", false));
}

void method_vm_destroy(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "name", json_object_new_string(vm->name));
	log_info("VM %s destroyed", vm->name);
	if (events_wanted(d, EVENT_TOPIC_STATE, vm->name)) {
		struct json_object *data = json_object_new_object();
		json_object_object_add(data, "state", json_object_new_string("destroyed"));
		json_object_object_add(data, "previous", json_object_new_string(vm_state_name(vm->state)));
		events_emit(d, EVENT_TOPIC_STATE, vm->name, "state", data);
	}
	registry_remove(&d->registry, vm);
	rpc_call_result(call, res);
}

void method_vm_list(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *unused)
{
	struct json_object *vms = json_object_new_array();
	for (struct vm_record *vm = d->registry.head; vm; vm = vm->next)
		json_object_array_add(vms, vm_summary_json(vm));
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "vms", vms);
	rpc_call_result(call, res);
}

/* A copy of obj (an object) whose "cmdline" is null; NULL stays NULL. */
static struct json_object *without_cmdline(struct json_object *obj)
{
	struct json_object *o;

	if (!obj)
		return NULL;
	o = json_object_new_object();
	json_object_object_foreach(obj, key, val)
		json_object_object_add(o, key, strcmp(key, "cmdline") == 0 ? NULL : json_object_get(val));
	return o;
}

/* {FIELD: how vmmd gets it}: "path" (it opens the path), "held" (a
 * client's descriptor it holds), "needed" (a client's, to be passed again). */
static struct json_object *files_json(const struct vm_record *vm)
{
	struct vm_file files[VM_FILE_SLOTS];
	size_t n = vm->problem ? 0 : vm_config_files(vm->config, files);
	struct json_object *o = json_object_new_object();
	char name[VM_FILE_NAME_MAX];

	for (size_t i = 0; i < n; i++) {
		enum vm_file_slot slot = files[i].slot;
		const char *how = !vm->client_file[slot] ? "path" : vm->files[slot] >= 0 ? "held" : "needed";
		json_object_object_add(o, vm_file_slot_name(slot, name), json_object_new_string(how));
	}
	return o;
}

/* vm.info's answer. Below the debug role the command lines are left out
 * (null, and `hidden` says so): they often carry secrets (access.h). */
static struct json_object *info_json(struct daemon *d, struct vm_record *vm, struct json_object *stats, bool cmdlines)
{
	struct json_object *o = vm_summary_json(vm);
	struct json_object *config = registry_config_json(vm);   /* cached: configs are immutable */
	pid_t pid = worker_pid(vm);

	if (!cmdlines) {
		struct json_object *hidden = json_object_new_object(), *fields = json_object_new_array();

		json_object_array_add(fields, json_object_new_string("config.cmdline"));
		json_object_array_add(fields, json_object_new_string("boot.cmdline"));
		json_object_object_add(hidden, "fields", fields);
		json_object_object_add(hidden, "role", json_object_new_string(access_role_name(ACCESS_DEBUG)));
		json_object_object_add(o, "hidden", hidden);
		struct json_object *bare = without_cmdline(config);
		json_object_put(config);
		config = bare;
	}
	json_object_object_add(o, "config", config);
	json_object_object_add(o, "pid", pid ? json_object_new_int(pid) : NULL);
	json_object_object_add(o, "sandboxed", json_object_new_boolean(pid && vm->sandboxed));
	/* The worker's jail and filter (vmmd/worker/worker.h), while it runs. */
	json_object_object_add(o, "sandbox", pid && vm->sandbox ? json_object_get(vm->sandbox) : NULL);
	json_object_object_add(o, "cgroup", worker_cgroup_json(d, vm));
	/* Kept after the run ends: what the last boot gave the kernel. */
	json_object_object_add(o, "boot", !vm->boot ? NULL : cmdlines ? json_object_get(vm->boot) :
			       without_cmdline(vm->boot));
	json_object_object_add(o, "resets", json_object_new_int64(vm->resets));
	json_object_object_add(o, "exit", vm_exit_json(&vm->exit));
	json_object_object_add(o, "console_bytes",
			       json_object_new_uint64(vm->console.hdr ? console_ring_total(&vm->console) : 0));
	json_object_object_add(o, "stats", stats ? json_object_get(stats) : NULL);
	json_object_object_add(o, "files", files_json(vm));
	return o;
}

struct info_req {
	struct daemon *daemon;
	struct rpc_call *call;
	char name[VM_NAME_MAX + 1];
	bool cmdlines;
};

static void info_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct info_req *q = userdata;
	struct vm_record *vm = registry_find(&q->daemon->registry, q->name);
	if (!vm)
		rpc_call_errorf(q->call, RPC_NO_SUCH_VM, NULL, "VM '%s' went away", q->name);
	else
		rpc_call_result(q->call, info_json(q->daemon, vm, err ? vm->last_stats : result, q->cmdlines));
	free(q);
}

void method_vm_info(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	bool cmdlines = !c || c->role >= ACCESS_DEBUG;
	struct info_req *q = calloc(1, sizeof(*q));
	if (q) {
		*q = (struct info_req) { .daemon = d, .call = call, .cmdlines = cmdlines };
		snprintf(q->name, sizeof(q->name), "%s", vm->name);
		/* Live stats come from the worker; a VM without one has its last run's. */
		if (worker_call_from(vm, method_call_owner(call), WORKER_METHOD_STATS, NULL, info_reply, q) == 0)
			return;
		free(q);
	}
	rpc_call_result(call, info_json(d, vm, vm->last_stats, cmdlines));
}

void method_vm_console_read(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	int64_t offset = param_int(call->params, "offset", 0);
	int64_t max = param_int(call->params, "max", CONSOLE_READ_DEFAULT);
	if (offset < 0 || max < 0 || max > CONSOLE_READ_MAX) {
		rpc_call_errorf(call, RPC_INVALID_PARAMS, offset < 0 ? "offset" : "max", "%s",
				offset < 0 ? "offset must be ≥ 0" : "max must be between 0 and 1048576");
		return;
	}
	_cleanup_free_ uint8_t *buf = malloc(max ? max : 1);
	_cleanup_free_ char *b64 = malloc(base64_encoded_size(max));
	if (!buf || !b64) {
		rpc_call_errorf(call, RPC_INTERNAL_ERROR, NULL, "out of memory");
		return;
	}
	uint64_t start = offset, total = 0;
	size_t n = 0;
	if (vm->console.hdr) {
		n = console_ring_read(&vm->console, offset, buf, max, &start);
		total = console_ring_total(&vm->console);
	}
	uint64_t cap = vm->console.hdr ? console_ring_capacity(&vm->console) : 0;
	uint64_t oldest = total > cap ? total - cap : 0;
	base64_encode(buf, n, b64);
	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "data", json_object_new_string(b64));
	json_object_object_add(res, "offset", json_object_new_uint64(start + n));
	json_object_object_add(res, "start", json_object_new_uint64(oldest));
	json_object_object_add(res, "lost", json_object_new_uint64(start > (uint64_t) offset ? start - offset : 0));
	rpc_call_result(call, res);
}

void method_vm_console_write(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	const char *data = param_string(call->params, "data", "");
	uint8_t buf[CONSOLE_WRITE_MAX];
	long n = base64_decode(data, buf, sizeof(buf));
	if (n < 0) {
		if (n == -ENOSPC)
			rpc_call_errorf(call, RPC_RESOURCE_LIMIT, "data", "at most %d bytes per write", CONSOLE_WRITE_MAX);
		else
			rpc_call_errorf(call, RPC_INVALID_PARAMS, "data", "data is not valid base64");
		return;
	}
	method_forward(call, vm, WORKER_METHOD_CONSOLE_WRITE);
}
