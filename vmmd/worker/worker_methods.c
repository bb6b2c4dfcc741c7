/* SPDX-License-Identifier: MIT */
/*
 * The worker's method table (STYLE.md "tables over switch ladders"), like
 * the supervisor's vmm_methods[]: one row per method of the channel (named
 * by worker_protocol.h's constants), with a needs_vm column and the
 * method's parameters (name, type, required), which the dispatcher checks
 * before the handler runs (params.h, as the supervisor does for its
 * clients). The supervisor checked the client's values already
 * (vmmd/methods*.c); each handler checks them again (ranges, vCPUs),
 * since it is the one that touches the VM.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "proto/base64.h"
#include "vmmd/common/worker_protocol.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/worker.h"
#include "vmmd/worker/xenpv_guest.h"

#define CONSOLE_WRITE_MAX 4096

void worker_fail(struct rpc_call *call, enum worker_error kind, const char *fmt, ...)
{
	struct rpc_error err = { 0 };
	char message[sizeof(err.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	worker_error_set(&err, kind, NULL, "%s", message);
	rpc_call_error(call, &err, NULL);
}

struct json_object *worker_stats_json(struct vm *vm)
{
	struct json_object *exits = json_object_new_object();
	struct json_object *per_vcpu = json_object_new_array();
	uint64_t total = 0;
	uint64_t sums[VCPU_STAT_MAX] = { 0 };
	for (unsigned i = 0; vm && i < vm->n_vcpus; i++) {
		struct json_object *one = json_object_new_object();
		for (int s = 0; s < VCPU_STAT_MAX; s++) {
			uint64_t n = __atomic_load_n(&vm->vcpus[i].stats[s], __ATOMIC_RELAXED);
			sums[s] += n;
			json_object_object_add(one, vcpu_stat_name(s), json_object_new_uint64(n));
		}
		json_object_array_add(per_vcpu, one);
	}
	for (int s = 0; s < VCPU_STAT_MAX; s++) {
		json_object_object_add(exits, vcpu_stat_name(s), json_object_new_uint64(sums[s]));
		total += sums[s];
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "exits", exits);
	json_object_object_add(o, "exits_total", json_object_new_uint64(total));
	json_object_object_add(o, "vcpus", per_vcpu);
	struct json_object *emulated = json_object_new_object();
	uint64_t emulated_total = 0;
	for (int k = 0; k < EMULATED_MAX; k++) {
		uint64_t n = 0;
		for (unsigned i = 0; vm && i < vm->n_vcpus; i++)
			n += __atomic_load_n(&vm->vcpus[i].emulated[k], __ATOMIC_RELAXED);
		json_object_object_add(emulated, emulated_insn_name(k), json_object_new_uint64(n));
		emulated_total += n;
	}
	json_object_object_add(emulated, "total", json_object_new_uint64(emulated_total));
	/* Instructions KVM gave up on and vmmd finished (emulation_fallback.h). */
	json_object_object_add(o, "emulated", emulated);
	json_object_object_add(o, "devices", virtio_devices_stats(vm));
	inspect_stats_extend(vm, o);
	shadow_inspect_stats(vm, o);   /* shadow mode: traps, shadow MMU, pt switches */
	if (vm && vm->xenpv)
		xenpv_guest_stats(vm, o);  /* Xen PV: hypercalls, events */
	return o;
}

static void reply_state(struct rpc_call *call, const char *state)
{
	struct json_object *res = json_object_new_object();

	json_object_object_add(res, "state", json_object_new_string(state));
	rpc_call_result(call, res);
}

static void method_pause(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err;
	int r = vm_pause(vm);

	if (r < 0) {
		inspect_hold_error(r, &err);
		rpc_call_error(call, &err, NULL);
		return;
	}
	reply_state(call, "paused");
}

static void method_resume(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	if (vm_resume(vm) < 0) {
		worker_fail(call, WORKER_ERROR_STATE, "the VM is stopping");
		return;
	}
	reply_state(call, "running");
}

static void method_stop(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct vm_exit e = { .reason = VM_EXIT_STOPPED, .vcpu = -1 };

	snprintf(e.message, sizeof(e.message), "stopped by request");
	vm_request_exit(vm, &e);
	reply_state(call, "stopping");
}

static void method_stats(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	rpc_call_result(call, worker_stats_json(vm));
}

static void method_console_write(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct json_object *data, *res;
	uint8_t buf[CONSOLE_WRITE_MAX];
	long n;

	if (!call->params || !json_object_object_get_ex(call->params, "data", &data) ||
	    !json_object_is_type(data, json_type_string)) {
		worker_fail(call, WORKER_ERROR_PARAMS, "data must be a base64 string");
		return;
	}
	n = base64_decode(json_object_get_string(data), buf, sizeof(buf));
	if (n == -ENOSPC) {
		worker_fail(call, WORKER_ERROR_LIMIT, "at most %d bytes per write", CONSOLE_WRITE_MAX);
		return;
	}
	if (n < 0) {
		worker_fail(call, WORKER_ERROR_PARAMS, "data is not valid base64");
		return;
	}
	/* A guest with a virtio console reads its input there (console=hvc0);
	 * a Xen PV guest on its console ring (hvc0 too). */
	int vr = vm->xenpv ? (int) xenpv_guest_console_input(vm, buf, n) : virtio_devices_console_input(vm, buf, n);
	size_t written = vr >= 0 ? (size_t) vr : uart_receive(vm->uart, buf, n);
	res = json_object_new_object();
	json_object_object_add(res, "written", json_object_new_uint64(written));
	rpc_call_result(call, res);
}

/* Who we are, for a supervisor adopting us after a restart (worker_link.c). */
static void method_info(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct json_object *res = json_object_new_object();
	struct timespec now;
	bool paused;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&vm->lock);
	paused = vm->run_state == VM_RUN_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	json_object_object_add(res, "pid", json_object_new_int(getpid()));
	json_object_object_add(res, "state", json_object_new_string(paused ? "paused" : "running"));
	json_object_object_add(res, "uptime_s", json_object_new_double(
		(now.tv_sec - w->booted.tv_sec) + (now.tv_nsec - w->booted.tv_nsec) / 1e9));
	json_object_object_add(res, "sandboxed", json_object_new_boolean(w->sandboxed));
	json_object_object_add(res, "sandbox", worker_sandbox_json(w));
	json_object_object_add(res, "boot", vm_boot_json(vm));
	rpc_call_result(call, res);
}

/* The parameters each method takes are what the supervisor forwards: its
 * client's parameters less "name" (method_forward), so the types here are
 * those of vmm_methods[]. */
#define VCPU_PARAM  { "vcpu", PARAM_INT, false, "vCPU index (default 0)" }
#define ADDR_PARAM  { "addr", PARAM_INT, true, "guest address" }
#define SPACE_PARAM { "space", PARAM_STRING, false, "physical or virtual" }

const struct worker_method worker_methods[] = {
	{ .name = WORKER_METHOD_BOOT, .fn = worker_boot, .needs_vm = false,
	  .params = { { "config", PARAM_OBJECT, true, "the VM config (docs/config.md)" },
		      { "console", PARAM_STRING, true, "the console ring's file" },
		      { "console_size", PARAM_INT, false, "the ring's size in bytes" },
		      { "console_continue", PARAM_BOOL, false, "keep the ring's history (a restart)" },
		      { "files", PARAM_OBJECT, false, "the VM's files: descriptor numbers by field" },
		      { "sandbox", PARAM_OBJECT, false, "the jail's uid and gid (jail.h)" },
		      { "log_max_kib", PARAM_INT, false, "console.log's cap" },
		      { "control", PARAM_STRING, false, "the adoption socket's path (adopt.h)" },
		      { "exit_report", PARAM_STRING, false, "where the exit report survives a supervisor" } } },
	{ .name = WORKER_METHOD_PAUSE, .fn = method_pause, .needs_vm = true },
	{ .name = WORKER_METHOD_RESUME, .fn = method_resume, .needs_vm = true },
	{ .name = WORKER_METHOD_STOP, .fn = method_stop, .needs_vm = true },
	{ .name = WORKER_METHOD_STATS, .fn = method_stats, .needs_vm = true },
	{ .name = WORKER_METHOD_CONSOLE_WRITE, .fn = method_console_write, .needs_vm = true,
	  .params = { { "data", PARAM_STRING, true, "base64" } } },
	{ .name = WORKER_METHOD_INFO, .fn = method_info, .needs_vm = true },
	/* Introspection and control (inspect.h), shadow mode's MMU (shadow_inspect.h). */
	{ .name = WORKER_METHOD_VCPU_STATE, .fn = inspect_vcpu_state, .needs_vm = true, .params = { VCPU_PARAM } },
	{ .name = WORKER_METHOD_VCPU_REGS_SET, .fn = inspect_vcpu_regs_set, .needs_vm = true,
	  .params = { VCPU_PARAM, { "regs", PARAM_OBJECT, true, "registers by name" } } },
	{ .name = WORKER_METHOD_MEM_READ, .fn = inspect_mem_read, .needs_vm = true,
	  .params = { ADDR_PARAM, { "len", PARAM_INT, true, "bytes" }, SPACE_PARAM, VCPU_PARAM } },
	{ .name = WORKER_METHOD_MEM_WRITE, .fn = inspect_mem_write, .needs_vm = true,
	  .params = { ADDR_PARAM, { "data", PARAM_STRING, true, "base64" }, SPACE_PARAM, VCPU_PARAM } },
	{ .name = WORKER_METHOD_MMU_TRANSLATE, .fn = inspect_mmu_translate, .needs_vm = true,
	  .params = { VCPU_PARAM, ADDR_PARAM } },
	{ .name = WORKER_METHOD_MMU_GUEST, .fn = inspect_mmu_guest, .needs_vm = true,
	  .params = { VCPU_PARAM, { "from", PARAM_INT, false, "lowest virtual address" },
		      { "to", PARAM_INT, false, "highest virtual address" },
		      { "limit", PARAM_INT, false, "at most this many ranges" } } },
	{ .name = WORKER_METHOD_MMU_SHADOW, .fn = shadow_inspect_mmu, .needs_vm = true,
	  .params = { { "vcpu", PARAM_INT, false, "whose current address space is marked" },
		      { "root", PARAM_STRING, false, "kernel, user or all" },
		      { "from", PARAM_INT, false, "lowest virtual address listed" },
		      { "to", PARAM_INT, false, "highest virtual address listed" },
		      { "limit", PARAM_INT, false, "mappings per root" },
		      { "cursor", PARAM_STRING, false, "an earlier reply's next" } } },
	{ .name = WORKER_METHOD_IRQ_INJECT, .fn = inspect_irq_inject, .needs_vm = true,
	  .params = { { "irq", PARAM_INT, false, "GSI" }, { "vector", PARAM_INT, false, "a fixed MSI" },
		      { "nmi", PARAM_BOOL, false, "an NMI" }, VCPU_PARAM } },
	{ .name = WORKER_METHOD_BUS_MAP, .fn = inspect_bus_map, .needs_vm = true },
};
const size_t worker_methods_count = ELEMENTSOF(worker_methods);

void worker_dispatch(struct worker *w, struct rpc_call *call)
{
	const struct worker_method *m = NULL;

	for (size_t i = 0; i < worker_methods_count && !m; i++)
		if (strcmp(worker_methods[i].name, call->method) == 0)
			m = &worker_methods[i];
	if (!m) {
		worker_fail(call, WORKER_ERROR_NO_METHOD, "method '%s' not found", call->method);
		return;
	}
	if (m->needs_vm && !w->vm) {
		worker_fail(call, WORKER_ERROR_STATE, "%s: not booted", m->name);
		return;
	}
	/* The one check of every method's parameters (names, types, required);
	 * handlers still check values (ranges, the VM's vCPUs). */
	struct rpc_error check = { 0 }, err = { 0 };
	if (params_check(call->params, m->params, &check) < 0) {
		worker_error_set(&err, WORKER_ERROR_PARAMS, check.field[0] ? check.field : NULL, "%s: %s", m->name,
				 check.message);
		rpc_call_error(call, &err, NULL);
		return;
	}
	m->fn(w, m->needs_vm ? w->vm : NULL, call);
}
