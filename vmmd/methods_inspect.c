/* SPDX-License-Identifier: MIT */
/*
 * Introspection and control of running VMs (issue 3): vcpu.state,
 * vcpu.regs.set, mem.read, mem.write, mmu.translate, mmu.guest,
 * irq.inject, bus.map, stats.get. The supervisor checks what it can
 * without the VM (types are checked by the method table; here: ranges,
 * the vCPU index against the config, one-of choices), then forwards the
 * call to the VM's worker as worker.<method> and relays its answer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmd/common/worker_protocol.h"
#include "vmmd/methods.h"
#include "vmmd/worker_link.h"

#define MEM_ACCESS_MAX (1u << 20)

/* Refuse the call naming the parameter; returns -EINVAL for the caller's return. */
#define invalid(call, code, field, ...) ({ rpc_call_errorf((call), (code), (field), __VA_ARGS__); -EINVAL; })

/* A parameter that must be a non-negative integer (json-c keeps values above INT64_MAX as uint64). */
static int check_u64(struct rpc_call *call, const char *name, uint64_t *ret)
{
	struct json_object *v = param_get(call->params, name);
	if (!v)
		return 0;
	if (json_object_get_int64(v) < 0)
		return invalid(call, RPC_INVALID_PARAMS, name, "parameter '%s' must be an integer in [0, 2^64)", name);
	if (ret)
		*ret = json_object_get_uint64(v);
	return 1;
}

static int check_vcpu(struct rpc_call *call, struct vm_record *vm)
{
	uint64_t v = 0;
	int r = check_u64(call, "vcpu", &v);
	if (r <= 0)
		return r;
	if (v >= (uint64_t) vm->config->vcpus) {
		struct rpc_error err = { 0 };
		rpc_error_set_field(&err, RPC_INVALID_PARAMS, "vcpu", "vcpu %llu out of range: '%s' has %d",
				    (unsigned long long) v, vm->name, vm->config->vcpus);
		rpc_call_error(call, &err, NULL);
		return -EINVAL;
	}
	return 0;
}

static int check_space(struct rpc_call *call)
{
	const char *s = param_string(call->params, "space", "physical");
	if (strcmp(s, "physical") != 0 && strcmp(s, "virtual") != 0)
		return invalid(call, RPC_INVALID_PARAMS, "space", "%s must be physical or virtual", "space");
	return 0;
}

static void relay_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct rpc_call *call = userdata;
	/* The worker left while the call was on its way: the guest ended
	 * meanwhile, which is the VM's state, not our failure. */
	struct rpc_error gone;

	if (err && worker_error_of(err) == WORKER_ERROR_GONE) {
		worker_error_set(&gone, WORKER_ERROR_GONE, NULL, "the VM ended before its worker answered");
		rpc_call_error(call, &gone, NULL);
	} else if (err)
		rpc_call_error(call, err, NULL);
	else
		rpc_call_result(call, json_object_get(result));
}

void method_forward(struct rpc_call *call, struct vm_record *vm, const char *method)
{
	struct json_object *params = json_object_new_object();
	if (call->params) {
		json_object_object_foreach(call->params, key, val)
			if (strcmp(key, "name") != 0)
				json_object_object_add(params, key, json_object_get(val));
	}
	int r = worker_call_from(vm, method_call_owner(call), method, params, relay_reply, call);
	if (r < 0)
		rpc_call_errorf(call, RPC_INVALID_STATE, NULL,
				"the worker of '%s' is not reachable: %s", vm->name, strerror(-r));
}

void method_vcpu_state(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	if (check_vcpu(call, vm) == 0)
		method_forward(call, vm, WORKER_METHOD_VCPU_STATE);
}

void method_vcpu_regs_set(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	if (check_vcpu(call, vm) == 0)
		method_forward(call, vm, WORKER_METHOD_VCPU_REGS_SET);
}

void method_mem_read(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	uint64_t addr = 0, len = 0;
	if (check_u64(call, "addr", &addr) < 0 || check_u64(call, "len", &len) < 0 ||
	    check_vcpu(call, vm) < 0 || check_space(call) < 0)
		return;
	if (len > MEM_ACCESS_MAX) {
		invalid(call, RPC_RESOURCE_LIMIT, "len", "%s must be at most 1048576 (1 MiB)", "len");
		return;
	}
	if (len && addr + (len - 1) < addr) {
		invalid(call, RPC_INVALID_PARAMS, "addr", "%s + len overflows the address space", "addr");
		return;
	}
	method_forward(call, vm, WORKER_METHOD_MEM_READ);
}

void method_mem_write(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	if (check_u64(call, "addr", NULL) < 0 || check_vcpu(call, vm) < 0 || check_space(call) < 0)
		return;
	/* The worker decodes data and checks its size and the range: it holds the buffer. */
	method_forward(call, vm, WORKER_METHOD_MEM_WRITE);
}

void method_mmu_translate(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	if (check_u64(call, "addr", NULL) < 0 || check_vcpu(call, vm) < 0)
		return;
	method_forward(call, vm, WORKER_METHOD_MMU_TRANSLATE);
}

void method_mmu_guest(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	uint64_t from = 0, to = ~0ULL, limit = 256;
	if (check_vcpu(call, vm) < 0 || check_u64(call, "from", &from) < 0 || check_u64(call, "to", &to) < 0 ||
	    check_u64(call, "limit", &limit) < 0)
		return;
	if (from > to) {
		invalid(call, RPC_INVALID_PARAMS, "to", "%s must not be below from", "to");
		return;
	}
	if (limit < 1 || limit > 4096) {
		invalid(call, RPC_INVALID_PARAMS, "limit", "%s must be between 1 and 4096", "limit");
		return;
	}
	method_forward(call, vm, WORKER_METHOD_MMU_GUEST);
}

void method_irq_inject(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	bool irq = param_get(call->params, "irq"), vector = param_get(call->params, "vector");
	struct json_object *nmi = param_get(call->params, "nmi");
	uint64_t n = 0;
	if (irq + vector + !!nmi != 1) {
		rpc_call_errorf(call, RPC_INVALID_PARAMS, NULL, "give exactly one of irq, vector and nmi");
		return;
	}
	if (check_vcpu(call, vm) < 0 || check_u64(call, irq ? "irq" : "vector", &n) < 0)
		return;
	if (irq && n > 23) {
		invalid(call, RPC_INVALID_PARAMS, "irq", "%s must be between 0 and 23", "irq");
		return;
	}
	if (irq && param_get(call->params, "vcpu")) {
		invalid(call, RPC_INVALID_PARAMS, "vcpu", "%s: an IRQ line is routed by the guest's PIC/IOAPIC", "vcpu");
		return;
	}
	if (vector && (n < 32 || n > 255)) {
		invalid(call, RPC_INVALID_PARAMS, "vector", "%s must be between 32 and 255", "vector");
		return;
	}
	if (nmi && !json_object_get_boolean(nmi)) {
		invalid(call, RPC_INVALID_PARAMS, "nmi", "%s must be true", "nmi");
		return;
	}
	method_forward(call, vm, WORKER_METHOD_IRQ_INJECT);
}

void method_bus_map(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	method_forward(call, vm, WORKER_METHOD_BUS_MAP);
}

static void stats_reply(void *userdata, struct json_object *result, const struct rpc_error *err)
{
	struct rpc_call *call = userdata;
	if (err) {
		rpc_call_error(call, err, NULL);
		return;
	}
	struct json_object *o = json_object_get(result);   /* the worker's reply message is ours to change */
	json_object_object_add(o, "live", json_object_new_boolean(true));
	rpc_call_result(call, o);
}

/* A VM without a worker answers with its last run's counters (or none yet). */
void method_stats_get(struct daemon *d, struct client *c, struct rpc_call *call, struct vm_record *vm)
{
	if (worker_call_from(vm, method_call_owner(call), WORKER_METHOD_STATS, json_object_new_object(),
			     stats_reply, call) == 0)
		return;
	struct json_object *o = NULL;
	if (!vm->last_stats || json_object_deep_copy(vm->last_stats, &o, NULL) < 0) {
		o = json_object_new_object();
		json_object_object_add(o, "exits", json_object_new_object());
		json_object_object_add(o, "exits_total", json_object_new_int(0));
	}
	json_object_object_add(o, "live", json_object_new_boolean(false));
	rpc_call_result(call, o);
}
