/* SPDX-License-Identifier: MIT */
/*
 * irq.inject and bus.map.
 *
 * Interrupts in hw mode go through KVM's in-kernel irqchip (PIC, IOAPIC,
 * one LAPIC per vCPU), so each kind uses the path real hardware would:
 *   irq N     KVM_IRQ_LINE: raise then lower GSI N (an edge on the PIC and
 *             IOAPIC pin N; the guest's own routing decides the vector)
 *   vector V  KVM_SIGNAL_MSI: a fixed-delivery, edge MSI with vector V to
 *             the LAPIC of `vcpu` (KVM_INTERRUPT is only for VMs without
 *             an in-kernel irqchip)
 *   nmi       KVM_NMI on the vCPU (what QEMU's `nmi` does with an in-kernel
 *             irqchip): queued, taken when the vCPU next runs
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/macro.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/shadow_platform.h"
#include "vmmd/worker/shadow_run.h"
#include "vmmd/worker/vm.h"

#define IRQ_LINES       24            /* GSIs with a PIC and/or IOAPIC pin */
#define VECTOR_MIN      32            /* 0..31 are exceptions */
#define MSI_ADDR_BASE   0xfee00000u

static void count(struct vm *vm, enum inspect_irq_kind k)
{
	__atomic_fetch_add(&vm->irqs_injected[k], 1, __ATOMIC_RELAXED);
}

void inspect_irq_inject(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct json_object *p = call->params, *v;
	bool has_irq = p && json_object_object_get_ex(p, "irq", NULL);
	bool has_vector = p && json_object_object_get_ex(p, "vector", NULL);
	bool has_nmi = p && json_object_object_get_ex(p, "nmi", NULL);
	bool has_vcpu = p && json_object_object_get_ex(p, "vcpu", NULL);
	uint64_t n = 0;
	unsigned vcpu = 0;
	int r;
	if (has_irq + has_vector + has_nmi != 1) {
		rpc_error_set(&err, RPC_INVALID_PARAMS, "give exactly one of irq, vector and nmi");
		goto fail;
	}
	if (inspect_param_vcpu(vm, p, &vcpu, &err) < 0)
		goto fail;
	struct json_object *o = json_object_new_object();
	/* Shadow mode has no in-kernel irqchip: lines go to vmmd's PIC model,
	 * vectors and NMI are reflected by the engine when the virtual IF allows
	 * (an NMI too, a documented simplification). */
	bool shadow = vm->shadow != NULL;
	if (has_irq) {
		if (inspect_param_u64(p, "irq", true, 0, &n, &err) < 0)
			goto fail_o;
		if (n >= IRQ_LINES) {
			rpc_error_set_field(&err, RPC_INVALID_PARAMS, "irq", "irq must be between 0 and %d", IRQ_LINES - 1);
			goto fail_o;
		}
		if (has_vcpu) {
			rpc_error_set_field(&err, RPC_INVALID_PARAMS, "vcpu",
					    "an IRQ line is routed by the guest's PIC/IOAPIC, not sent to a vCPU");
			goto fail_o;
		}
		struct kvm_irq_level up = { .irq = (uint32_t) n, .level = 1 }, down = { .irq = (uint32_t) n };
		if (shadow) {
			if (n >= 16) {
				rpc_error_set_field(&err, RPC_INVALID_PARAMS, "irq", "shadow mode has a PIC pair only: irq 0-15");
				goto fail_o;
			}
			shadow_platform_set_irq(vm, (unsigned) n, 1);
			shadow_platform_set_irq(vm, (unsigned) n, 0);
			up.status = 1;
		} else if (ioctl(vm->vm_fd, KVM_IRQ_LINE_STATUS, &up) < 0 || ioctl(vm->vm_fd, KVM_IRQ_LINE, &down) < 0) {
			rpc_error_set(&err, RPC_INTERNAL_ERROR, "KVM_IRQ_LINE failed: %s", strerror(errno));
			goto fail_o;
		}
		count(vm, INSPECT_IRQ_LINE);
		/* status: > 0 an edge some chip latched, 0 already pending (coalesced), < 0 nobody took it. */
		json_object_object_add(o, "kind", json_object_new_string("irq"));
		json_object_object_add(o, "irq", json_object_new_int((int) n));
		json_object_object_add(o, "via", json_object_new_string(shadow ? "vmmd PIC" : "KVM_IRQ_LINE"));
		json_object_object_add(o, "status", json_object_new_int(up.status));
		json_object_object_add(o, "delivered", json_object_new_boolean(up.status > 0));
		json_object_object_add(o, "pending", json_object_new_boolean(false));
	} else if (has_vector) {
		if (inspect_param_u64(p, "vector", true, 0, &n, &err) < 0)
			goto fail_o;
		if (n < VECTOR_MIN || n > 255) {
			rpc_error_set_field(&err, RPC_INVALID_PARAMS, "vector", "vector must be between %d and 255",
					    VECTOR_MIN);
			goto fail_o;
		}
		/* Physical destination = APIC ID, which KVM sets to the vCPU index. */
		struct kvm_msi msi = { .address_lo = MSI_ADDR_BASE | (vcpu << 12), .data = (uint32_t) n };
		if (shadow) {
			shadow_run_raise(&vm->vcpus[vcpu], (unsigned) n);
			r = 0;
		} else {
			r = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);
		}
		if (r < 0) {
			rpc_error_set(&err, RPC_INTERNAL_ERROR, "KVM_SIGNAL_MSI failed: %s", strerror(errno));
			goto fail_o;
		}
		count(vm, INSPECT_IRQ_VECTOR);
		json_object_object_add(o, "kind", json_object_new_string("vector"));
		json_object_object_add(o, "vector", json_object_new_int((int) n));
		json_object_object_add(o, "vcpu", json_object_new_int(vcpu));
		json_object_object_add(o, "via", json_object_new_string(shadow ? "virtual IDT" : "KVM_SIGNAL_MSI"));
		json_object_object_add(o, "status", json_object_new_int(r));
		/* 0: the LAPIC refused it (software-disabled, or the guest masked it).
		 * Shadow mode: queued in the PCB until the virtual IF allows it. */
		json_object_object_add(o, "delivered", json_object_new_boolean(r > 0));
		json_object_object_add(o, "pending", json_object_new_boolean(shadow));
	} else {
		json_object_object_get_ex(p, "nmi", &v);
		if (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v)) {
			rpc_error_set_field(&err, RPC_INVALID_PARAMS, "nmi", "nmi must be true");
			goto fail_o;
		}
		if (shadow) {
			shadow_run_raise(&vm->vcpus[vcpu], 2);
			count(vm, INSPECT_IRQ_NMI);
			json_object_object_add(o, "kind", json_object_new_string("nmi"));
			json_object_object_add(o, "vcpu", json_object_new_int(vcpu));
			json_object_object_add(o, "via", json_object_new_string("virtual IDT"));
			json_object_object_add(o, "delivered", json_object_new_boolean(false));
			json_object_object_add(o, "pending", json_object_new_boolean(true));
			rpc_call_result(call, o);
			return;
		}
		/* A vCPU ioctl: the vCPU must be out of KVM_RUN. */
		struct inspect_hold h;
		r = inspect_hold(vm, &h);
		if (r < 0) {
			rpc_error_set(&err, RPC_INVALID_STATE, "%s", r == -ESHUTDOWN ? "the VM is stopping" :
				      "the vCPUs did not stop in time");
			goto fail_o;
		}
		r = ioctl(vm->vcpus[vcpu].fd, KVM_NMI) < 0 ? -errno : 0;
		inspect_release(vm, &h);
		if (r < 0) {
			rpc_error_set(&err, RPC_INTERNAL_ERROR, "KVM_NMI failed: %s", strerror(-r));
			goto fail_o;
		}
		count(vm, INSPECT_IRQ_NMI);
		json_object_object_add(o, "kind", json_object_new_string("nmi"));
		json_object_object_add(o, "vcpu", json_object_new_int(vcpu));
		json_object_object_add(o, "via", json_object_new_string("KVM_NMI"));
		json_object_object_add(o, "delivered", json_object_new_boolean(false));
		json_object_object_add(o, "pending", json_object_new_boolean(true));
	}
	rpc_call_result(call, o);
	return;
fail_o:
	json_object_put(o);
fail:
	inspect_fail(call, &err);
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
