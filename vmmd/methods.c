/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/macro.h"
#include "vmmd/methods.h"
#include "vmmd/sd_notify.h"
#include "vmmd/token_bucket.h"
#include "vmmd/worker_link.h"

#define LIVE      (VM_STATE_BIT(VM_STATE_RUNNING) | VM_STATE_BIT(VM_STATE_PAUSED))
#define NOT_LIVE  (VM_STATE_BIT(VM_STATE_CREATED) | VM_STATE_BIT(VM_STATE_STOPPED) | VM_STATE_BIT(VM_STATE_CRASHED))
#define NAME_PARAM { "name", PARAM_STRING, true, "the VM's name" }
#define VCPU_PARAM { "vcpu", PARAM_INT, false, "vCPU index (default 0)" }
#define FILES_PARAM { "files", PARAM_OBJECT, false, "the VM's files as descriptors sent with the message " \
		      "(SCM_RIGHTS), by field: {\"kernel\": 0, \"console.log\": 1, ...} (docs/operations.md)" }
#define ADDR_PARAM { "addr", PARAM_INT, true, "guest address" }
#define SPACE_PARAM { "space", PARAM_STRING, false, "physical (default) or virtual (through the vCPU's page tables)" }

const struct method vmm_methods[] = {
	{ .name = "rpc.discover", .summary = "The OpenRPC document of this API", .fn = method_rpc_discover,
	  .role = ACCESS_MONITOR },
	{ .name = "vmm.version", .summary = "vmmd's version and the host's virtualization facts",
	  .fn = method_vmm_version, .role = ACCESS_MONITOR },
	{ .name = "vmm.stats", .summary = "vmmd's own CPU, memory, connections and VMs by state (for monitoring)",
	  .fn = method_vmm_stats, .role = ACCESS_MONITOR },
	{ .name = "vmm.whoami", .summary = "The caller's uid and role, and the methods that role may call",
	  .fn = method_vmm_whoami, .role = ACCESS_MONITOR },
	/* The console topic needs debug (events.c): guests print secrets there. */
	{ .name = "events.subscribe", .summary = "Receive event notifications on this connection",
	  .fn = method_events_subscribe, .role = ACCESS_MONITOR,
	  .params = { { "topics", PARAM_ARRAY, true, "state, console, fault, stats" },
		      { "name", PARAM_STRING, false, "only this VM's events" } } },
	{ .name = "vm.create", .summary = "Define a VM from a config", .fn = method_vm_create,
	  .role = ACCESS_ADMIN,
	  .params = { { "config", PARAM_OBJECT, true, "the VM config (docs/config.md)" }, FILES_PARAM } },
	{ .name = "vm.start", .summary = "Start a VM's worker and boot its guest", .fn = method_vm_start,
	  .role = ACCESS_ADMIN, .takes_vm = true, .states = NOT_LIVE, .params = { NAME_PARAM, FILES_PARAM } },
	{ .name = "vm.pause", .summary = "Park every vCPU (idempotent)", .fn = method_vm_pause,
	  .role = ACCESS_ADMIN, .takes_vm = true, .states = LIVE, .params = { NAME_PARAM } },
	{ .name = "vm.resume", .summary = "Let the vCPUs run again (idempotent)", .fn = method_vm_resume,
	  .role = ACCESS_ADMIN, .takes_vm = true, .states = LIVE, .params = { NAME_PARAM } },
	/* In any state and while busy too: a stop ends a worker whatever it does
	 * (a start that hangs, an adoption that waits); without one, InvalidState. */
	{ .name = "vm.stop", .summary = "Stop the guest and its worker", .fn = method_vm_stop,
	  .role = ACCESS_ADMIN, .takes_vm = true, .states = VM_STATES_ANY, .while_busy = true,
	  .params = { NAME_PARAM, { "force", PARAM_BOOL, false, "kill the worker at once" } } },
	{ .name = "vm.destroy", .summary = "Forget a VM that is not running", .fn = method_vm_destroy,
	  .role = ACCESS_ADMIN, .takes_vm = true, .states = NOT_LIVE, .params = { NAME_PARAM } },
	{ .name = "vm.list", .summary = "Every VM with its state", .fn = method_vm_list,
	  .role = ACCESS_MONITOR },
	/* Below debug without the command lines (methods_vm.c): they often carry secrets. */
	{ .name = "vm.info", .summary = "A VM's config, state, worker, exit and stats", .fn = method_vm_info,
	  .role = ACCESS_MONITOR, .takes_vm = true, .states = VM_STATES_ANY, .while_busy = true,
	  .params = { NAME_PARAM } },
	/* Debug: guests print what they hold on their console (Linux: its command line, at boot). */
	{ .name = "vm.console.read", .summary = "Console output from an absolute offset",
	  .fn = method_vm_console_read, .role = ACCESS_DEBUG, .takes_vm = true, .states = VM_STATES_ANY,
	  .while_busy = true,
	  .params = { NAME_PARAM, { "offset", PARAM_INT, false, "first byte wanted (default 0)" },
		      { "max", PARAM_INT, false, "at most this many bytes (default 65536, ≤ 1 MiB)" } } },
	{ .name = "vm.console.write", .summary = "Send bytes to the guest's COM1", .fn = method_vm_console_write,
	  .role = ACCESS_ADMIN, .takes_vm = true, .states = LIVE,
	  .params = { NAME_PARAM, { "data", PARAM_STRING, true, "base64, at most 4096 bytes decoded" } } },
	{ .name = "mmu.shadow", .summary = "Shadow page-table roots and mappings (shadow mode)",
	  .fn = method_mmu_shadow, .role = ACCESS_DEBUG, .takes_vm = true, .costs_guest = true, .states = LIVE,
	  .params = { NAME_PARAM, { "vcpu", PARAM_INT, false, "whose current address space is marked" },
		      { "root", PARAM_STRING, false, "kernel, user or all (default)" },
		      { "from", PARAM_INT, false, "lowest virtual address listed" },
		      { "to", PARAM_INT, false, "highest virtual address listed" },
		      { "limit", PARAM_INT, false, "mappings per root in one reply (default 256)" },
		      { "cursor", PARAM_STRING, false, "where to go on: an earlier reply's next" } } },
	/* Introspection and control (methods_inspect.c, docs/introspection.md). */
	{ .name = "vcpu.state", .summary = "A vCPU's registers, segments, control registers and guest PCB",
	  .fn = method_vcpu_state, .role = ACCESS_DEBUG, .takes_vm = true, .costs_guest = true, .states = LIVE,
	  .params = { NAME_PARAM, VCPU_PARAM } },
	{ .name = "vcpu.regs.set", .summary = "Change general registers of a paused VM's vCPU",
	  .fn = method_vcpu_regs_set, .role = ACCESS_ADMIN, .takes_vm = true,
	  .states = VM_STATE_BIT(VM_STATE_PAUSED),
	  .params = { NAME_PARAM, VCPU_PARAM,
		      { "regs", PARAM_OBJECT, true, "{rax..r15, rip, rflags: integer}, any subset" } } },
	/* Admin: guest memory holds the guest's secrets. */
	{ .name = "mem.read", .summary = "Read guest memory by physical or virtual address",
	  .fn = method_mem_read, .role = ACCESS_ADMIN, .takes_vm = true, .costs_guest = true, .states = LIVE,
	  .params = { NAME_PARAM, ADDR_PARAM, { "len", PARAM_INT, true, "bytes, at most 1048576" },
		      SPACE_PARAM, VCPU_PARAM } },
	{ .name = "mem.write", .summary = "Write guest memory by physical or virtual address",
	  .fn = method_mem_write, .role = ACCESS_ADMIN, .takes_vm = true, .costs_guest = true, .states = LIVE,
	  .params = { NAME_PARAM, ADDR_PARAM, { "data", PARAM_STRING, true, "base64, at most 1 MiB decoded" },
		      SPACE_PARAM, VCPU_PARAM } },
	{ .name = "mmu.translate", .summary = "Walk the vCPU's page tables for one virtual address",
	  .fn = method_mmu_translate, .role = ACCESS_DEBUG, .takes_vm = true, .costs_guest = true, .states = LIVE,
	  .params = { NAME_PARAM, VCPU_PARAM, ADDR_PARAM } },
	{ .name = "mmu.guest", .summary = "The guest's page-table mappings as coalesced ranges",
	  .fn = method_mmu_guest, .role = ACCESS_DEBUG, .takes_vm = true, .costs_guest = true, .states = LIVE,
	  .params = { NAME_PARAM, VCPU_PARAM,
		      { "from", PARAM_INT, false, "lowest virtual address (default 0)" },
		      { "to", PARAM_INT, false, "highest virtual address, inclusive (default 2^64-1)" },
		      { "limit", PARAM_INT, false, "at most this many ranges (default 256, 1..4096)" } } },
	{ .name = "irq.inject", .summary = "Inject an IRQ line edge, a vector (MSI) or an NMI",
	  .fn = method_irq_inject, .role = ACCESS_ADMIN, .takes_vm = true, .costs_guest = true, .states = LIVE,
	  .params = { NAME_PARAM, { "irq", PARAM_INT, false, "GSI 0..23: raise then lower the line" },
		      { "vector", PARAM_INT, false, "32..255: a fixed MSI to the vCPU's LAPIC" },
		      { "nmi", PARAM_BOOL, false, "true: an NMI to the vCPU" },
		      { "vcpu", PARAM_INT, false, "target of vector and nmi (default 0)" } } },
	{ .name = "bus.map", .summary = "Every PIO and MMIO region with its device and access counts",
	  .fn = method_bus_map, .role = ACCESS_DEBUG, .takes_vm = true, .states = LIVE,
	  .params = { NAME_PARAM } },
	{ .name = "stats.get", .summary = "Exit, interrupt (and shadow-mode) counters, total and per vCPU",
	  .fn = method_stats_get, .role = ACCESS_MONITOR, .takes_vm = true, .states = VM_STATES_ANY,
	  .params = { NAME_PARAM } },
};
const size_t vmm_methods_count = ELEMENTSOF(vmm_methods);

enum access_role method_role(const struct method *m)
{
	/* A row without a role is a mistake (test_vmmd_methods catches it); until then, the safe side. */
	return m->role == ACCESS_NONE ? ACCESS_ADMIN : m->role;
}

uint64_t method_call_owner(struct rpc_call *call)
{
	struct rpc_peer *p = rpc_peer_of_call(call);
	const struct client *c = p ? rpc_peer_get_data(p) : NULL;
	if (!c)
		return 0;
	return (c->role == ACCESS_ADMIN ? WORKER_OWNER_ADMIN : 0) | ((uint64_t) c->uid + 1);
}

const struct method *method_find(const char *name)
{
	for (size_t i = 0; i < vmm_methods_count; i++)
		if (strcmp(vmm_methods[i].name, name) == 0)
			return &vmm_methods[i];
	return NULL;
}

static void states_text(unsigned mask, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int s = VM_STATE_CREATED; s <= VM_STATE_CRASHED; s++)
		if (mask & VM_STATE_BIT(s)) {
			size_t n = strlen(buf);
			snprintf(buf + n, size - n, "%s%s", n ? ", " : "", vm_state_name(s));
		}
}

/* A call that holds the guest's vCPUs: take a token from the client's
 * bucket, or refuse it (ResourceLimit naming the limit and when to retry).
 * Before the parameters, like the role: a refused call costs nothing. */
static bool pace(struct daemon *d, struct client *c, struct rpc_call *call, const struct method *m)
{
	struct rpc_error err = { .code = RPC_RESOURCE_LIMIT };
	unsigned rate = d->config.inspect_per_second, wait_ms = 0;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (token_bucket_take(&c->inspect_bucket, rate, (uint64_t) now.tv_sec * 1000000000u + now.tv_nsec, &wait_ms))
		return true;
	snprintf(err.message, sizeof(err.message), "%s: at most %u calls a second that hold a guest's vCPUs, per "
		 "connection (limits.inspect_per_second); try again in %u ms", m->name, rate, wait_ms);
	struct json_object *data = json_object_new_object();
	json_object_object_add(data, "limit", json_object_new_string("inspect_per_second"));
	json_object_object_add(data, "max", json_object_new_int64(rate));
	json_object_object_add(data, "retry_after_ms", json_object_new_int64(wait_ms));
	rpc_call_error(call, &err, data);
	return false;
}

void methods_dispatch(struct daemon *d, struct client *c, struct rpc_call *call)
{
	const struct method *m = method_find(call->method);
	if (!m) {
		rpc_call_errorf(call, RPC_METHOD_NOT_FOUND, NULL, "method '%s' not found", call->method);
		return;
	}
	if (c && c->role < method_role(m)) {   /* before params: no side effects, no hints */
		rpc_call_errorf(call, RPC_PERMISSION_DENIED, NULL, "%s needs the %s role; uid %u has %s",
			    m->name, access_role_name(method_role(m)), (unsigned) c->uid,
			    access_role_name(c->role));
		return;
	}
	if (m->costs_guest && c && c->role < ACCESS_ADMIN && !pace(d, c, call, m))
		return;
	struct rpc_error err = { 0 };
	if (params_check(call->params, m->params, &err) < 0) {
		rpc_call_error(call, &err, NULL);
		return;
	}
	struct vm_record *vm = NULL;
	if (m->takes_vm) {
		const char *name = param_string(call->params, "name", "");
		vm = registry_find(&d->registry, name);
		if (!vm) {
			rpc_call_errorf(call, RPC_NO_SUCH_VM, NULL, "no VM named '%s'", name);
			return;
		}
		if (!(m->states & VM_STATE_BIT(vm->state))) {
			char allowed[96];
			states_text(m->states, allowed, sizeof(allowed));
			rpc_call_errorf(call, RPC_INVALID_STATE, NULL, "%s: VM '%s' is %s (allowed: %s)",
				    m->name, vm->name, vm_state_name(vm->state), allowed);
			return;
		}
		if (vm->busy && !m->while_busy) {
			rpc_call_errorf(call, RPC_INVALID_STATE, NULL, "%s: VM '%s' is changing state, try again",
				    m->name, vm->name);
			return;
		}
	}
	m->fn(d, c, call, vm);
	/* vm.create/vm.destroy change the count (state changes tell systemd in
	 * lifecycle_set_state). Only admin calls can: the status walks every VM,
	 * and after each of a scrape's hundred stats.get that was N² per batch. */
	if (method_role(m) >= ACCESS_ADMIN)
		daemon_notify_status(d);   /* no-op unless it changed */
}
