/* SPDX-License-Identifier: MIT */
/*
 * irq.inject and bus.map, the JSON side. What an injection does in each
 * mode is vm_irq.h's business; here: which kind was asked for, its
 * parameters, and the answer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/macro.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/vm.h"
#include "vmmd/worker/vm_irq.h"

static struct json_object *result_json(const char *kind, const struct vm_irq_result *res)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "via", json_object_new_string(res->via));
	json_object_object_add(o, "delivered", json_object_new_boolean(res->delivered));
	json_object_object_add(o, "pending", json_object_new_boolean(res->pending));
	return o;
}

static int inject_line(struct vm *vm, struct json_object *p, struct json_object **ret, struct rpc_error *err)
{
	struct vm_irq_result res = { 0 };
	uint64_t n;
	int r;

	if (inspect_param_u64(p, "irq", true, 0, &n, err) < 0)
		return -EINVAL;
	if (json_object_object_get_ex(p, "vcpu", NULL))
		return worker_error_set(err, WORKER_ERROR_PARAMS, "vcpu",
					"an IRQ line is routed by the guest's PIC/IOAPIC, not sent to a vCPU");
	if (n >= vm_irq_lines(vm))
		return worker_error_set(err, WORKER_ERROR_PARAMS, "irq", "irq must be between 0 and %u%s",
					vm_irq_lines(vm) - 1, vm->shadow ? " (shadow mode has a PIC pair only)" : "");
	r = vm_irq_trigger(vm, (unsigned) n, &res);
	if (r < 0)
		return worker_error_set(err, WORKER_ERROR_INTERNAL, NULL, "%s failed: %s", res.via ? res.via : "KVM_IRQ_LINE",
					strerror(-r));
	*ret = result_json("irq", &res);
	json_object_object_add(*ret, "irq", json_object_new_int((int) n));
	/* status: > 0 an edge some chip latched, 0 already pending (coalesced), < 0 nobody took it. */
	json_object_object_add(*ret, "status", json_object_new_int(res.status));
	return INSPECT_IRQ_LINE;
}

static int inject_vector(struct vm *vm, unsigned vcpu, struct json_object *p, struct json_object **ret,
			 struct rpc_error *err)
{
	struct vm_irq_result res = { 0 };
	uint64_t n;
	int r;

	if (inspect_param_u64(p, "vector", true, 0, &n, err) < 0)
		return -EINVAL;
	if (n < VM_IRQ_VECTOR_MIN || n > VM_IRQ_VECTOR_MAX)
		return worker_error_set(err, WORKER_ERROR_PARAMS, "vector", "vector must be between %d and %d",
					VM_IRQ_VECTOR_MIN, VM_IRQ_VECTOR_MAX);
	r = vm_irq_vector(vm, vcpu, (unsigned) n, &res);
	if (r < 0)
		return worker_error_set(err, WORKER_ERROR_INTERNAL, NULL, "KVM_SIGNAL_MSI failed: %s", strerror(-r));
	*ret = result_json("vector", &res);
	json_object_object_add(*ret, "vector", json_object_new_int((int) n));
	json_object_object_add(*ret, "vcpu", json_object_new_int(vcpu));
	json_object_object_add(*ret, "status", json_object_new_int(res.status));
	return INSPECT_IRQ_VECTOR;
}

static int inject_nmi(struct vm *vm, unsigned vcpu, struct json_object *p, struct json_object **ret,
		      struct rpc_error *err)
{
	struct vm_irq_result res = { 0 };
	struct json_object *v;
	int r;

	json_object_object_get_ex(p, "nmi", &v);
	if (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v))
		return worker_error_set(err, WORKER_ERROR_PARAMS, "nmi", "nmi must be true");
	r = vm_irq_nmi(vm, vcpu, &res);
	if (r == -ESHUTDOWN || r == -ETIMEDOUT)
		return inspect_hold_error(r, err);
	if (r < 0)
		return worker_error_set(err, WORKER_ERROR_INTERNAL, NULL, "KVM_NMI failed: %s", strerror(-r));
	*ret = result_json("nmi", &res);
	json_object_object_add(*ret, "vcpu", json_object_new_int(vcpu));
	return INSPECT_IRQ_NMI;
}

void inspect_irq_inject(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct json_object *p = call->params, *o = NULL;
	bool has_irq = p && json_object_object_get_ex(p, "irq", NULL);
	bool has_vector = p && json_object_object_get_ex(p, "vector", NULL);
	bool has_nmi = p && json_object_object_get_ex(p, "nmi", NULL);
	unsigned vcpu = 0;
	int kind;

	if (has_irq + has_vector + has_nmi != 1) {
		worker_error_set(&err, WORKER_ERROR_PARAMS, NULL, "give exactly one of irq, vector and nmi");
		goto fail;
	}
	if (inspect_param_vcpu(vm, p, &vcpu, &err) < 0)
		goto fail;
	kind = has_irq ? inject_line(vm, p, &o, &err) : has_vector ? inject_vector(vm, vcpu, p, &o, &err) :
	       inject_nmi(vm, vcpu, p, &o, &err);
	if (kind < 0)
		goto fail;
	__atomic_fetch_add(&vm->irqs_injected[kind], 1, __ATOMIC_RELAXED);
	rpc_call_result(call, o);
	return;
fail:
	rpc_call_error(call, &err, NULL);
}

/* --- bus.map -------------------------------------------------------------------- */

/* Devices KVM emulates in the kernel (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2):
 * their accesses never reach vmmd, so they have no counts. */
static const struct {
	enum bus_space space;
	uint64_t base, size;
	const char *device;
} in_kernel[] = {
	{ BUS_PIO, 0x20, 2, "kvm-pic-master" },
	{ BUS_PIO, 0x40, 4, "kvm-pit" },
	{ BUS_PIO, 0x61, 1, "kvm-pit-speaker" },
	{ BUS_PIO, 0xa0, 2, "kvm-pic-slave" },
	{ BUS_PIO, 0x4d0, 2, "kvm-pic-elcr" },
	{ BUS_MMIO, 0xfec00000, 0x100, "kvm-ioapic" },
	{ BUS_MMIO, 0xfee00000, 0x1000, "kvm-lapic" },
};

static struct json_object *region_json(uint64_t base, uint64_t size, const char *device, bool kernel,
				       const struct bus_region *r)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "base", json_object_new_uint64(base));
	json_object_object_add(o, "size", json_object_new_uint64(size));
	json_object_object_add(o, "device", json_object_new_string(device));
	json_object_object_add(o, "handler", json_object_new_string(kernel ? "kvm" : "vmmd"));
	json_object_object_add(o, "reads", r ? json_object_new_uint64(r->reads) : NULL);
	json_object_object_add(o, "writes", r ? json_object_new_uint64(r->writes) : NULL);
	json_object_object_add(o, "errors", r ? json_object_new_uint64(r->errors) : NULL);
	return o;
}

static struct json_object *space_json(struct vm *vm, enum bus_space space)
{
	struct bus_region regs[BUS_MAX_REGIONS];
	size_t n = bus_snapshot(vm->bus, space, regs, BUS_MAX_REGIONS), k = 0;
	/* Only hw mode has KVM's in-kernel irqchip and PIT. */
	size_t nk = vm->config->paging == VM_PAGING_HW ? ELEMENTSOF(in_kernel) : 0;
	struct json_object *a = json_object_new_array();
	/* Merge both lists in address order. */
	for (size_t i = 0; i <= n; i++) {
		uint64_t next = i < n ? regs[i].base : ~0ULL;
		for (; k < nk; k++) {
			if (in_kernel[k].space != space)
				continue;
			if (in_kernel[k].base > next)
				break;
			json_object_array_add(a, region_json(in_kernel[k].base, in_kernel[k].size,
							     in_kernel[k].device, true, NULL));
		}
		if (i < n)
			json_object_array_add(a, region_json(regs[i].base, regs[i].size, regs[i].device, false, &regs[i]));
	}
	return a;
}

/* stats.get's `bus`: the access counts of vmmd's own device models (the
 * ones bus.map lists with handler "vmmd"), for monitoring without a second
 * call per VM. */
void inspect_bus_stats(struct vm *vm, struct json_object *o)
{
	struct json_object *bus = json_object_new_object(), *regions = json_object_new_array();
	struct json_object *misses = json_object_new_object();
	static const char *const space_names[] = { [BUS_PIO] = "pio", [BUS_MMIO] = "mmio" };
	for (int space = BUS_PIO; vm && space <= BUS_MMIO; space++) {
		struct bus_region regs[BUS_MAX_REGIONS];
		size_t n = bus_snapshot(vm->bus, (enum bus_space) space, regs, BUS_MAX_REGIONS);
		for (size_t i = 0; i < n; i++) {
			struct json_object *r = json_object_new_object();
			json_object_object_add(r, "space", json_object_new_string(space_names[space]));
			json_object_object_add(r, "base", json_object_new_uint64(regs[i].base));
			json_object_object_add(r, "device", json_object_new_string(regs[i].device));
			json_object_object_add(r, "reads", json_object_new_uint64(regs[i].reads));
			json_object_object_add(r, "writes", json_object_new_uint64(regs[i].writes));
			json_object_object_add(r, "errors", json_object_new_uint64(regs[i].errors));
			json_object_array_add(regions, r);
		}
		json_object_object_add(misses, space_names[space],
				       json_object_new_uint64(bus_misses(vm->bus, (enum bus_space) space)));
	}
	json_object_object_add(bus, "regions", regions);
	json_object_object_add(bus, "misses", misses);
	json_object_object_add(o, "bus", bus);
}

void inspect_bus_map(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct json_object *o = json_object_new_object(), *misses = json_object_new_object();
	json_object_object_add(o, "pio", space_json(vm, BUS_PIO));
	json_object_object_add(o, "mmio", space_json(vm, BUS_MMIO));
	json_object_object_add(misses, "pio", json_object_new_uint64(bus_misses(vm->bus, BUS_PIO)));
	json_object_object_add(misses, "mmio", json_object_new_uint64(bus_misses(vm->bus, BUS_MMIO)));
	json_object_object_add(o, "misses", misses);
	rpc_call_result(call, o);
}
