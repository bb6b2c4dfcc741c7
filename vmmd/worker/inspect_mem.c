/* SPDX-License-Identifier: MIT */
/*
 * Guest memory by physical or virtual address, the software page walk
 * (mmu.translate) and the guest's mappings as ranges (mmu.guest).
 *
 * A virtual range is translated page by page through the vCPU's current
 * CR3, with every vCPU parked so the tables hold still; all of it is
 * translated and checked before a byte is copied, so a write that would
 * fault half-way writes nothing. Physical accesses need no pause: they
 * touch the memory the guest sees, like a DMA would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/base64.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/inspect.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"

#define CHUNKS_MAX        ((INSPECT_MEM_MAX >> 12) + 2)   /* 4 KiB pages a 1 MiB range can touch */
#define NESTED_LEVELS     4
#define GUEST_LIMIT_DFLT  256
#define GUEST_LIMIT_MAX   4096
#define GUEST_ENTRIES_MAX (1u << 20)   /* page-table entries one mmu.guest reads at most */

static const char *const level_names[] = { "", "PT", "PD", "PDPT", "PML4" };

static int guest_read(void *opaque, uint64_t paddr, uint64_t *ret)
{
	struct vm *vm = opaque;
	const void *p = guest_memory_ptr(&vm->mem, paddr, 8);
	if (!p)
		return -EFAULT;
	memcpy(ret, p, 8);
	return 0;
}

void inspect_guest_reader(struct vm *vm, struct gw_memory *ret)
{
	*ret = (struct gw_memory) { .read = guest_read, .opaque = vm };
}

/* One piece of an access: len bytes at guest-physical phys. */
struct chunk {
	uint64_t phys;
	uint64_t len;
};

struct access {
	struct chunk chunks[CHUNKS_MAX];
	size_t n;
};

static int outside_memory(struct vm *vm, uint64_t phys, uint64_t len, struct rpc_error *err,
			  bool virtual, uint64_t virt)
{
	uint64_t bad = phys >= vm->mem.size ? phys : vm->mem.size;
	if (virtual)
		return rpc_error_set_field(err, RPC_GUEST_ACCESS, "addr",
					   "guest-virtual 0x%llx maps to guest-physical 0x%llx, outside guest memory (%llu MiB)",
					   (unsigned long long) (virt + (bad - phys)), (unsigned long long) bad,
					   (unsigned long long) (vm->mem.size >> 20));
	return rpc_error_set_field(err, RPC_GUEST_ACCESS, "addr",
				   "guest-physical 0x%llx is outside guest memory (%llu MiB)",
				   (unsigned long long) bad, (unsigned long long) (vm->mem.size >> 20));
}

/* Translate [addr, addr+len) into physical chunks, or say which address fails. */
static int resolve(struct vm *vm, unsigned vcpu, bool virtual, uint64_t addr, uint64_t len,
		   struct access *a, struct rpc_error *err)
{
	a->n = 0;
	if (len == 0)
		return 0;
	struct inspect_paging pg = { 0 };
	if (virtual) {
		int r = inspect_get_paging(vm, vcpu, &pg);
		if (r < 0)
			return inspect_paging_error(r, vcpu, err);
		const char *kind = inspect_paging_kind(&pg);
		if (strcmp(kind, "none") == 0)
			virtual = false;   /* paging off: virtual (linear) = physical */
		else if (strcmp(kind, "4-level") != 0)
			return rpc_error_set(err, RPC_UNSUPPORTED, "vCPU %u uses %s paging; vmmd walks 4-level tables only",
					     vcpu, kind);
		else if (!x86_canonical(addr))
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, "addr",
						   "0x%llx is not a canonical virtual address", (unsigned long long) addr);
	}
	if (!virtual) {
		if (!guest_memory_ptr(&vm->mem, addr, len))
			return outside_memory(vm, addr, len, err, false, 0);
		a->chunks[a->n++] = (struct chunk) { addr, len };
		return 0;
	}
	struct gw_memory mem;
	struct gw_config cfg;
	inspect_guest_reader(vm, &mem);
	inspect_walk_config(&pg, &cfg);
	uint64_t cur = addr, left = len;
	while (left > 0) {
		struct gw_result w;
		if (gw_translate(&mem, pg.cr3, cur, &cfg, &w) < 0) {
			if (w.fault == GW_NON_CANONICAL)
				return rpc_error_set_field(err, RPC_GUEST_ACCESS, "addr",
							   "guest-virtual 0x%llx is not canonical", (unsigned long long) cur);
			return rpc_error_set_field(err, RPC_GUEST_ACCESS, "addr",
						   "guest-virtual 0x%llx is not mapped (%s entry: %s)",
						   (unsigned long long) cur, level_names[w.fault_level], gw_fault_name(w.fault));
		}
		uint64_t in_page = w.page_size - (cur & (w.page_size - 1));
		uint64_t n = left < in_page ? left : in_page;
		if (!guest_memory_ptr(&vm->mem, w.phys, n))
			return outside_memory(vm, w.phys, n, err, true, cur);
		if (a->n && a->chunks[a->n - 1].phys + a->chunks[a->n - 1].len == w.phys)
			a->chunks[a->n - 1].len += n;
		else if (a->n == CHUNKS_MAX)
			return rpc_error_set(err, RPC_INTERNAL_ERROR, "too many pieces");   /* not reached: len ≤ 1 MiB */
		else
			a->chunks[a->n++] = (struct chunk) { w.phys, n };
		cur += n;
		left -= n;
	}
	return 0;
}

/* addr, len/data, space, vcpu: the common parameters of mem.read and mem.write. */
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
			return rpc_error_set_field(err, RPC_INVALID_PARAMS, "space", "space must be physical or virtual");
	}
	return 0;
}

static int range_check(uint64_t addr, uint64_t len, struct rpc_error *err, const char *field)
{
	if (len > INSPECT_MEM_MAX)
		return rpc_error_set_field(err, RPC_RESOURCE_LIMIT, field, "at most %u bytes per access", INSPECT_MEM_MAX);
	if (len && addr + (len - 1) < addr)
		return rpc_error_set_field(err, RPC_INVALID_PARAMS, "addr", "addr + len overflows the address space");
	return 0;
}

/* Virtual addresses are walked through a vCPU's page tables: hold the
 * vCPUs still meanwhile, so the tables cannot change under the walk. */
static int hold_vcpus(struct vm *vm, struct inspect_hold *h, struct rpc_error *err)
{
	int r = inspect_hold(vm, h);
	if (r < 0)
		rpc_error_set(err, RPC_INVALID_STATE, "%s", r == -ESHUTDOWN ? "the VM is stopping" :
			      "the vCPUs did not stop in time");
	return r;
}

/* Between buf and the resolved chunks of guest memory, in order. */
static void copy_chunks(struct vm *vm, const struct access *a, uint8_t *buf, bool to_guest)
{
	uint64_t off = 0;
	for (size_t i = 0; i < a->n; i++) {
		uint8_t *g = guest_memory_ptr(&vm->mem, a->chunks[i].phys, a->chunks[i].len);
		if (to_guest)
			memcpy(g, buf + off, a->chunks[i].len);
		else
			memcpy(buf + off, g, a->chunks[i].len);
		off += a->chunks[i].len;
	}
}

void inspect_mem_read(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct inspect_hold h = { 0 };
	struct access *a = NULL;
	uint8_t *buf = NULL;
	char *b64 = NULL;
	uint64_t addr, len;
	unsigned vcpu;
	bool virtual, held = false;
	if (access_params(vm, call->params, &addr, &virtual, &vcpu, &err) < 0 ||
	    inspect_param_u64(call->params, "len", true, 0, &len, &err) < 0 ||
	    range_check(addr, len, &err, "len") < 0)
		goto fail;
	a = malloc(sizeof(*a));
	buf = malloc(len ? len : 1);
	b64 = malloc(base64_encoded_size(len));
	if (!a || !buf || !b64) {
		rpc_error_set(&err, RPC_INTERNAL_ERROR, "out of memory");
		goto fail;
	}
	if (virtual && hold_vcpus(vm, &h, &err) < 0)
		goto fail;
	held = virtual;
	if (resolve(vm, vcpu, virtual, addr, len, a, &err) < 0)
		goto fail;
	copy_chunks(vm, a, buf, false);
	if (held)
		inspect_release(vm, &h);
	held = false;
	base64_encode(buf, len, b64);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "addr", json_object_new_uint64(addr));
	json_object_object_add(o, "len", json_object_new_uint64(len));
	json_object_object_add(o, "space", json_object_new_string(virtual ? "virtual" : "physical"));
	json_object_object_add(o, "data", json_object_new_string(b64));
	rpc_call_result(call, o);
	goto out;
fail:
	if (held)
		inspect_release(vm, &h);
	inspect_fail(call, &err);
out:
	free(a);
	free(buf);
	free(b64);
}

void inspect_mem_write(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct inspect_hold h = { 0 };
	struct access *a = NULL;
	struct json_object *data;
	uint8_t *buf = NULL;
	uint64_t addr;
	unsigned vcpu;
	bool virtual, held = false;
	if (access_params(vm, call->params, &addr, &virtual, &vcpu, &err) < 0)
		goto fail;
	if (!json_object_object_get_ex(call->params, "data", &data) || !json_object_is_type(data, json_type_string)) {
		rpc_error_set_field(&err, RPC_INVALID_PARAMS, "data", "data must be a base64 string");
		goto fail;
	}
	a = malloc(sizeof(*a));
	buf = malloc(INSPECT_MEM_MAX);
	if (!a || !buf) {
		rpc_error_set(&err, RPC_INTERNAL_ERROR, "out of memory");
		goto fail;
	}
	long n = base64_decode(json_object_get_string(data), buf, INSPECT_MEM_MAX);
	if (n < 0) {
		if (n == -ENOSPC)
			rpc_error_set_field(&err, RPC_RESOURCE_LIMIT, "data", "at most %u bytes per write", INSPECT_MEM_MAX);
		else
			rpc_error_set_field(&err, RPC_INVALID_PARAMS, "data", "data is not valid base64");
		goto fail;
	}
	if (range_check(addr, n, &err, "data") < 0)
		goto fail;
	if (virtual && hold_vcpus(vm, &h, &err) < 0)
		goto fail;
	held = virtual;
	if (resolve(vm, vcpu, virtual, addr, n, a, &err) < 0)
		goto fail;
	copy_chunks(vm, a, buf, true);
	if (held)
		inspect_release(vm, &h);
	held = false;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "written", json_object_new_uint64(n));
	rpc_call_result(call, o);
	goto out;
fail:
	if (held)
		inspect_release(vm, &h);
	inspect_fail(call, &err);
out:
	free(a);
	free(buf);
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
		json_object_object_add(o, "address", json_object_new_uint64(s->table + 8ULL * s->index));
		json_object_object_add(o, "entry", read ? json_object_new_uint64(s->entry) : NULL);
		json_object_object_add(o, "flags", read ? inspect_pte_flags_json(s->entry, s->level) :
				       json_object_new_array());
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *refs_json(const struct gw_result *w, bool complete)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "shadow_or_native", json_object_new_int(inspect_refs_1d(w->n_steps)));
	json_object_object_add(o, "nested_2d", json_object_new_int(inspect_refs_2d(w->n_steps, NESTED_LEVELS, complete)));
	json_object_object_add(o, "guest_levels", json_object_new_int(w->n_steps));
	json_object_object_add(o, "nested_levels", json_object_new_int(NESTED_LEVELS));
	return o;
}

void inspect_mmu_translate(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct inspect_hold h;
	struct inspect_paging pg;
	uint64_t addr;
	unsigned vcpu;
	int r;
	if (inspect_param_u64(call->params, "addr", true, 0, &addr, &err) < 0 ||
	    inspect_param_vcpu(vm, call->params, &vcpu, &err) < 0)
		goto fail;
	r = inspect_hold(vm, &h);
	if (r < 0) {
		rpc_error_set(&err, RPC_INVALID_STATE, "%s", r == -ESHUTDOWN ? "the VM is stopping" :
			      "the vCPUs did not stop in time");
		goto fail;
	}
	r = inspect_get_paging(vm, vcpu, &pg);
	const char *kind = r < 0 ? "?" : inspect_paging_kind(&pg);
	struct gw_result walk = { 0 };
	struct gw_memory mem;
	struct gw_config cfg;
	inspect_guest_reader(vm, &mem);
	inspect_walk_config(&pg, &cfg);
	bool paging = strcmp(kind, "none") != 0;
	if (r == 0 && paging && strcmp(kind, "4-level") == 0)
		r = gw_translate(&mem, pg.cr3, addr, &cfg, &walk);
	inspect_release(vm, &h);
	if (r < 0 && r != -EFAULT && r != -EINVAL) {
		inspect_paging_error(r, vcpu, &err);
		goto fail;
	}
	if (paging && strcmp(kind, "4-level") != 0) {
		rpc_error_set(&err, RPC_UNSUPPORTED, "vCPU %u uses %s paging; vmmd walks 4-level tables only", vcpu, kind);
		goto fail;
	}
	if (r == -EINVAL) {
		rpc_error_set_field(&err, RPC_INVALID_PARAMS, "addr", "0x%llx is not a canonical virtual address",
				    (unsigned long long) addr);
		goto fail;
	}
	if (!paging) {   /* linear = physical */
		walk.phys = addr;
		walk.page_size = 0;
	}
	bool mapped = r == 0;
	bool backed = mapped && walk.phys < vm->mem.size;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "vcpu", json_object_new_int(vcpu));
	json_object_object_add(o, "mode", json_object_new_string(vm_paging_name(vm->config->paging)));
	json_object_object_add(o, "paging", json_object_new_string(kind));
	json_object_object_add(o, "cr3", json_object_new_uint64(pg.cr3));
	json_object_object_add(o, "virtual", json_object_new_uint64(addr));
	json_object_object_add(o, "mapped", json_object_new_boolean(mapped));
	json_object_object_add(o, "physical", mapped ? json_object_new_uint64(walk.phys) : NULL);
	/* hw mode: one KVM memory slot at guest-physical 0, so machine = physical where RAM backs it.
	 * Shadow mode: through the physmap (identity, or scattered). */
	uint64_t machine = vm->shadow && backed ? physmap_gpa_to_mpa(&vm->shadow->pm, walk.phys) : walk.phys;
	json_object_object_add(o, "machine", backed ? json_object_new_uint64(machine) : NULL);
	json_object_object_add(o, "backed", json_object_new_boolean(backed));
	json_object_object_add(o, "page_size", mapped && paging ? json_object_new_uint64(walk.page_size) : NULL);
	if (mapped && paging) {
		char rights[5];
		inspect_rights(walk.user, walk.writable, walk.nx, rights);
		json_object_object_add(o, "rights", json_object_new_string(rights));
	}
	json_object_object_add(o, "walk", walk_json(&walk));
	json_object_object_add(o, "references", refs_json(&walk, mapped));
	if (!mapped) {
		struct json_object *f = json_object_new_object();
		json_object_object_add(f, "level", json_object_new_int(walk.fault_level));
		json_object_object_add(f, "reason", json_object_new_string(gw_fault_name(walk.fault)));
		json_object_object_add(o, "fault", f);
	}
	if (vm->shadow)
		shadow_inspect_translate(vm, vcpu, addr, o);
	rpc_call_result(call, o);
	return;
fail:
	inspect_fail(call, &err);
}

/* --- mmu.guest ------------------------------------------------------------------ */

static int range_to_json(void *opaque, const struct gw_range *r)
{
	char rights[5];
	inspect_rights(r->user, r->writable, r->nx, rights);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "virtual", json_object_new_uint64(r->virt));
	json_object_object_add(o, "physical", json_object_new_uint64(r->phys));
	json_object_object_add(o, "size", json_object_new_uint64(r->size));
	json_object_object_add(o, "flags", json_object_new_string(rights));
	json_object_array_add(opaque, o);
	return 0;
}

void inspect_mmu_guest(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	struct rpc_error err = { 0 };
	struct inspect_hold h;
	struct inspect_paging pg;
	uint64_t from, to, limit;
	unsigned vcpu;
	int r;
	if (inspect_param_vcpu(vm, call->params, &vcpu, &err) < 0 ||
	    inspect_param_u64(call->params, "from", false, 0, &from, &err) < 0 ||
	    inspect_param_u64(call->params, "to", false, ~0ULL, &to, &err) < 0 ||
	    inspect_param_u64(call->params, "limit", false, GUEST_LIMIT_DFLT, &limit, &err) < 0)
		goto fail;
	if (from > to) {
		rpc_error_set_field(&err, RPC_INVALID_PARAMS, "to", "to must not be below from");
		goto fail;
	}
	if (limit < 1 || limit > GUEST_LIMIT_MAX) {
		rpc_error_set_field(&err, RPC_INVALID_PARAMS, "limit", "limit must be between 1 and %d", GUEST_LIMIT_MAX);
		goto fail;
	}
	r = inspect_hold(vm, &h);
	if (r < 0) {
		rpc_error_set(&err, RPC_INVALID_STATE, "%s", r == -ESHUTDOWN ? "the VM is stopping" :
			      "the vCPUs did not stop in time");
		goto fail;
	}
	struct json_object *ranges = json_object_new_array();
	struct gw_enum_result res = { 0 };
	r = inspect_get_paging(vm, vcpu, &pg);
	const char *kind = r < 0 ? "?" : inspect_paging_kind(&pg);
	if (r == 0 && strcmp(kind, "4-level") == 0) {
		struct gw_memory mem;
		struct gw_config cfg;
		inspect_guest_reader(vm, &mem);
		inspect_walk_config(&pg, &cfg);
		gw_enumerate(&mem, pg.cr3, from, to, &cfg, limit, GUEST_ENTRIES_MAX,
			     range_to_json, ranges, &res);
	}
	inspect_release(vm, &h);
	if (r < 0 || (strcmp(kind, "4-level") != 0 && strcmp(kind, "none") != 0)) {
		json_object_put(ranges);
		if (r < 0)
			inspect_paging_error(r, vcpu, &err);
		else
			rpc_error_set(&err, RPC_UNSUPPORTED, "vCPU %u uses %s paging; vmmd walks 4-level tables only",
				      vcpu, kind);
		goto fail;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "vcpu", json_object_new_int(vcpu));
	json_object_object_add(o, "mode", json_object_new_string(vm_paging_name(vm->config->paging)));
	json_object_object_add(o, "paging", json_object_new_string(kind));
	json_object_object_add(o, "cr3", json_object_new_uint64(pg.cr3));
	json_object_object_add(o, "ranges", ranges);
	json_object_object_add(o, "count", json_object_new_uint64(res.ranges));
	json_object_object_add(o, "truncated", json_object_new_boolean(res.truncated));
	json_object_object_add(o, "next", res.truncated ? json_object_new_uint64(res.next) : NULL);
	json_object_object_add(o, "entries_read", json_object_new_uint64(res.entries));
	rpc_call_result(call, o);
	return;
fail:
	inspect_fail(call, &err);
}
