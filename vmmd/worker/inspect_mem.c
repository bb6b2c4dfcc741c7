/* SPDX-License-Identifier: MIT */
/*
 * mem.read, mem.write, mmu.translate and mmu.guest, the JSON side: their
 * parameters, the messages for each fault, the answer. The accesses and
 * walks themselves, with the vCPUs held still, are guest_access.h's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup_json.h"
#include "base/macro.h"
#include "proto/base64.h"
#include "vmmd/worker/guest_access.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/nested_walk.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"

#define NESTED_LEVELS     4
#define GUEST_LIMIT_DFLT  256
#define GUEST_LIMIT_MAX   4096

_Static_assert(INSPECT_MEM_MAX == GUEST_ACCESS_MAX, "mem.read/mem.write move what one guest_access may");

static const char *const level_names[] = { "", "PT", "PD", "PDPT", "PML4" };

static int unsupported_paging(unsigned vcpu, enum guest_paging_kind kind, struct rpc_error *err)
{
	return worker_error_set(err, WORKER_ERROR_UNSUPPORTED, NULL,
				"vCPU %u uses %s paging; vmmd walks 4-level tables only", vcpu, guest_paging_name(kind));
}

static int not_canonical(uint64_t addr, struct rpc_error *err)
{
	return worker_error_set(err, WORKER_ERROR_PARAMS, "addr", "0x%llx is not a canonical virtual address",
				(unsigned long long) addr);
}

/* A failed guest_translate or guest_mappings, as the client reads it. */
static int walk_error(int r, unsigned vcpu, uint64_t addr, enum guest_paging_kind kind, struct rpc_error *err)
{
	if (r == -EOPNOTSUPP)
		return unsupported_paging(vcpu, kind, err);
	if (r == -EINVAL)
		return not_canonical(addr, err);
	if (r == -ESHUTDOWN || r == -ETIMEDOUT)
		return inspect_hold_error(r, err);
	return inspect_vcpu_error(r, vcpu, err);
}

/* A failed guest_access, as the client reads it. */
static int access_error(struct vm *vm, unsigned vcpu, uint64_t addr, int r, const struct guest_access_fault *f,
			struct rpc_error *err)
{
	if (r == -ESHUTDOWN || r == -ETIMEDOUT)
		return inspect_hold_error(r, err);
	if (r != -EFAULT)
		return worker_error_set(err, WORKER_ERROR_INTERNAL, NULL, "accessing guest memory failed: %s",
					strerror(-r));
	switch (f->kind) {
	case GUEST_FAULT_PAGING:
		return unsupported_paging(vcpu, f->paging, err);
	case GUEST_FAULT_NOT_CANONICAL:
		if (f->virt == addr)
			return not_canonical(addr, err);
		return worker_error_set(err, WORKER_ERROR_GUEST_ACCESS, "addr", "guest-virtual 0x%llx is not canonical",
					(unsigned long long) f->virt);
	case GUEST_FAULT_NOT_MAPPED:
		return worker_error_set(err, WORKER_ERROR_GUEST_ACCESS, "addr",
					"guest-virtual 0x%llx is not mapped (%s entry: %s)", (unsigned long long) f->virt,
					level_names[f->level], gw_fault_name(f->reason));
	case GUEST_FAULT_OUTSIDE_MEMORY:
		break;
	}
	if (f->virtual)
		return worker_error_set(err, WORKER_ERROR_GUEST_ACCESS, "addr",
					"guest-virtual 0x%llx maps to guest-physical 0x%llx, outside guest memory (%llu MiB)",
					(unsigned long long) f->virt, (unsigned long long) f->phys,
					(unsigned long long) (vm->mem.size >> 20));
	return worker_error_set(err, WORKER_ERROR_GUEST_ACCESS, "addr",
				"guest-physical 0x%llx is outside guest memory (%llu MiB)",
				(unsigned long long) f->phys, (unsigned long long) (vm->mem.size >> 20));
}

/* addr, space, vcpu: the common parameters of mem.read and mem.write. */
static int access_params(struct vm *vm, struct json_object *params, uint64_t *addr, bool *virtual,
			 unsigned *vcpu, struct rpc_error *err)
{
	struct json_object *v;

	if (inspect_param_u64(params, "addr", true, 0, addr, err) < 0 ||
	    inspect_param_vcpu(vm, params, vcpu, err) < 0)
		return -EINVAL;
	*virtual = false;
	if (json_object_object_get_ex(params, "space", &v)) {
		const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";

		if (strcmp(s, "virtual") == 0)
			*virtual = true;
		else if (strcmp(s, "physical") != 0)
			return worker_error_set(err, WORKER_ERROR_PARAMS, "space", "space must be physical or virtual");
	}
	return 0;
}

static int range_check(uint64_t addr, uint64_t len, struct rpc_error *err, const char *field)
{
	if (len > INSPECT_MEM_MAX)
		return worker_error_set(err, WORKER_ERROR_LIMIT, field, "at most %u bytes per access", INSPECT_MEM_MAX);
	if (len && addr + (len - 1) < addr)
		return worker_error_set(err, WORKER_ERROR_PARAMS, "addr", "addr + len overflows the address space");
	return 0;
}

void inspect_mem_read(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct guest_access_fault fault;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ char *b64 = NULL;
	struct json_object *o;
	uint64_t addr, len;
	unsigned vcpu;
	bool virtual;
	int r;

	if (access_params(vm, call->params, &addr, &virtual, &vcpu, &err) < 0 ||
	    inspect_param_u64(call->params, "len", true, 0, &len, &err) < 0 ||
	    range_check(addr, len, &err, "len") < 0)
		goto fail;
	buf = malloc(len ? len : 1);
	b64 = malloc(base64_encoded_size(len));
	if (!buf || !b64) {
		worker_error_set(&err, WORKER_ERROR_INTERNAL, NULL, "out of memory");
		goto fail;
	}
	r = guest_access(vm, vcpu, virtual, addr, buf, len, false, &fault);
	if (r < 0) {
		access_error(vm, vcpu, addr, r, &fault, &err);
		goto fail;
	}
	base64_encode(buf, len, b64);
	o = json_object_new_object();
	json_object_object_add(o, "addr", json_object_new_uint64(addr));
	json_object_object_add(o, "len", json_object_new_uint64(len));
	json_object_object_add(o, "space", json_object_new_string(virtual ? "virtual" : "physical"));
	json_object_object_add(o, "data", json_object_new_string(b64));
	rpc_call_result(call, o);
	return;
fail:
	rpc_call_error(call, &err, NULL);
}

void inspect_mem_write(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct guest_access_fault fault;
	_cleanup_free_ uint8_t *buf = NULL;
	struct json_object *data, *o;
	uint64_t addr;
	unsigned vcpu;
	bool virtual;
	long n;
	int r;

	if (access_params(vm, call->params, &addr, &virtual, &vcpu, &err) < 0)
		goto fail;
	if (!json_object_object_get_ex(call->params, "data", &data) || !json_object_is_type(data, json_type_string)) {
		worker_error_set(&err, WORKER_ERROR_PARAMS, "data", "data must be a base64 string");
		goto fail;
	}
	buf = malloc(INSPECT_MEM_MAX);
	if (!buf) {
		worker_error_set(&err, WORKER_ERROR_INTERNAL, NULL, "out of memory");
		goto fail;
	}
	n = base64_decode(json_object_get_string(data), buf, INSPECT_MEM_MAX);
	if (n == -ENOSPC) {
		worker_error_set(&err, WORKER_ERROR_LIMIT, "data", "at most %u bytes per write", INSPECT_MEM_MAX);
		goto fail;
	}
	if (n < 0) {
		worker_error_set(&err, WORKER_ERROR_PARAMS, "data", "data is not valid base64");
		goto fail;
	}
	if (range_check(addr, n, &err, "data") < 0)
		goto fail;
	r = guest_access(vm, vcpu, virtual, addr, buf, n, true, &fault);
	if (r < 0) {
		access_error(vm, vcpu, addr, r, &fault, &err);
		goto fail;
	}
	o = json_object_new_object();
	json_object_object_add(o, "written", json_object_new_uint64(n));
	rpc_call_result(call, o);
	return;
fail:
	rpc_call_error(call, &err, NULL);
}

/* --- mmu.translate ------------------------------------------------------------ */

static struct json_object *walk_json(const struct gw_result *w)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < w->n_steps; i++) {
		const struct gw_step *s = &w->steps[i];
		bool read = !(w->fault == GW_BAD_TABLE && i == w->n_steps - 1);
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "level", json_object_new_int(s->level));
		json_object_object_add(o, "name", json_object_new_string(level_names[s->level]));
		json_object_object_add(o, "table", json_object_new_uint64(s->table));
		json_object_object_add(o, "index", json_object_new_int(s->index));
		json_object_object_add(o, "address", json_object_new_uint64(gw_step_addr(s)));
		json_object_object_add(o, "entry", read ? json_object_new_uint64(s->entry) : NULL);
		json_object_object_add(o, "flags", read ? inspect_pte_flags_json(s->entry, s->level) :
				       json_object_new_array());
		json_object_array_add(a, o);
	}
	return a;
}

/* nested: the walk on this host's EPT/NPT (nested_walk.h), NULL where KVM
 * uses none for this VM. */
static struct json_object *refs_json(const struct gw_result *w, bool complete, struct json_object *nested)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "shadow_or_native", json_object_new_int(inspect_refs_1d(w->n_steps)));
	json_object_object_add(o, "nested_2d", json_object_new_int(inspect_refs_2d(w->n_steps, NESTED_LEVELS, complete)));
	json_object_object_add(o, "guest_levels", json_object_new_int(w->n_steps));
	json_object_object_add(o, "nested_levels", json_object_new_int(NESTED_LEVELS));
	json_object_object_add(o, "nested", nested);
	return o;
}

static struct json_object *nested_json(struct vm *vm, const struct guest_translation *t)
{
	struct nested_leaves leaves;
	if (!t->nested)
		return NULL;
	if (nested_leaves_read(vm->vm_fd, &leaves) < 0)
		leaves.known = false;
	return nested_walk_json(&t->walk, t->mapped, vm->tdp_levels, vm->tdp_via, &leaves, t->kvm_gpa);
}

static struct json_object *translation_json(struct vm *vm, unsigned vcpu, uint64_t addr,
					    const struct guest_translation *t)
{
	const struct gw_result *walk = &t->walk;
	bool paging = t->paging.kind != GUEST_PAGING_NONE;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "vcpu", json_object_new_int(vcpu));
	json_object_object_add(o, "mode", json_object_new_string(vm_paging_name(vm->config->paging)));
	json_object_object_add(o, "paging", json_object_new_string(guest_paging_name(t->paging.kind)));
	json_object_object_add(o, "cr3", json_object_new_uint64(t->paging.cr3));
	json_object_object_add(o, "virtual", json_object_new_uint64(addr));
	json_object_object_add(o, "mapped", json_object_new_boolean(t->mapped));
	json_object_object_add(o, "physical", t->mapped ? json_object_new_uint64(walk->phys) : NULL);
	json_object_object_add(o, "machine", t->backed ? json_object_new_uint64(t->machine) : NULL);
	json_object_object_add(o, "backed", json_object_new_boolean(t->backed));
	json_object_object_add(o, "page_size", t->mapped && paging ? json_object_new_uint64(walk->page_size) : NULL);
	if (t->mapped && paging) {
		char rights[5];

		inspect_rights(walk->user, walk->writable, walk->nx, rights);
		json_object_object_add(o, "rights", json_object_new_string(rights));
	}
	json_object_object_add(o, "walk", walk_json(walk));
	json_object_object_add(o, "references", refs_json(walk, t->mapped, nested_json(vm, t)));
	if (!t->mapped) {
		struct json_object *f = json_object_new_object();

		json_object_object_add(f, "level", json_object_new_int(walk->fault_level));
		json_object_object_add(f, "reason", json_object_new_string(gw_fault_name(walk->fault)));
		json_object_object_add(o, "fault", f);
	}
	return o;
}

void inspect_mmu_translate(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct guest_translation t = { 0 };
	struct json_object *o;
	uint64_t addr;
	unsigned vcpu;
	int r;

	if (inspect_param_u64(call->params, "addr", true, 0, &addr, &err) < 0 ||
	    inspect_param_vcpu(vm, call->params, &vcpu, &err) < 0)
		goto fail;
	r = guest_translate(vm, vcpu, addr, &t);
	if (r < 0) {
		walk_error(r, vcpu, addr, t.paging.kind, &err);
		goto fail;
	}
	o = translation_json(vm, vcpu, addr, &t);
	if (vm->shadow)
		shadow_inspect_translate(vm, vcpu, addr, o);
	rpc_call_result(call, o);
	return;
fail:
	rpc_call_error(call, &err, NULL);
}

/* --- mmu.guest ------------------------------------------------------------------ */

static int range_to_json(void *opaque, const struct gw_range *r)
{
	struct json_object *o = json_object_new_object();
	char rights[5];

	inspect_rights(r->user, r->writable, r->nx, rights);
	json_object_object_add(o, "virtual", json_object_new_uint64(r->virt));
	json_object_object_add(o, "physical", json_object_new_uint64(r->phys));
	json_object_object_add(o, "size", json_object_new_uint64(r->size));
	json_object_object_add(o, "flags", json_object_new_string(rights));
	json_object_array_add(opaque, o);
	return 0;
}

void inspect_mmu_guest(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	_cleanup_(json_object_putp) struct json_object *ranges = json_object_new_array();
	struct rpc_error err = { 0 };
	struct gw_enum_result res;
	struct guest_paging pg = { 0 };
	struct json_object *o;
	uint64_t from, to, limit;
	unsigned vcpu;
	int r;

	if (inspect_param_vcpu(vm, call->params, &vcpu, &err) < 0 ||
	    inspect_param_u64(call->params, "from", false, 0, &from, &err) < 0 ||
	    inspect_param_u64(call->params, "to", false, ~0ULL, &to, &err) < 0 ||
	    inspect_param_u64(call->params, "limit", false, GUEST_LIMIT_DFLT, &limit, &err) < 0)
		goto fail;
	if (from > to) {
		worker_error_set(&err, WORKER_ERROR_PARAMS, "to", "to must not be below from");
		goto fail;
	}
	if (limit < 1 || limit > GUEST_LIMIT_MAX) {
		worker_error_set(&err, WORKER_ERROR_PARAMS, "limit", "limit must be between 1 and %d", GUEST_LIMIT_MAX);
		goto fail;
	}
	r = guest_mappings(vm, vcpu, from, to, limit, range_to_json, ranges, &pg, &res);
	if (r < 0) {
		walk_error(r, vcpu, from, pg.kind, &err);
		goto fail;
	}
	o = json_object_new_object();
	json_object_object_add(o, "vcpu", json_object_new_int(vcpu));
	json_object_object_add(o, "mode", json_object_new_string(vm_paging_name(vm->config->paging)));
	json_object_object_add(o, "paging", json_object_new_string(guest_paging_name(pg.kind)));
	json_object_object_add(o, "cr3", json_object_new_uint64(pg.cr3));
	json_object_object_add(o, "ranges", TAKE_PTR(ranges));
	json_object_object_add(o, "count", json_object_new_uint64(res.ranges));
	json_object_object_add(o, "truncated", json_object_new_boolean(res.truncated));
	json_object_object_add(o, "next", res.truncated ? json_object_new_uint64(res.next) : NULL);
	json_object_object_add(o, "entries_read", json_object_new_uint64(res.entries));
	rpc_call_result(call, o);
	return;
fail:
	rpc_call_error(call, &err, NULL);
}
