/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmmd/shadow/engine.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"

#define MAPPINGS_DEFAULT 256
#define MAPPINGS_MAX     65536

static struct json_object *u64(uint64_t v) { return json_object_new_uint64(v); }

static struct json_object *hex(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long) v);
	return json_object_new_string(buf);
}

void shadow_inspect_stats(struct vm *vm, struct json_object *o)
{
	if (!vm->shadow)
		return;
	struct shadow_stats st;
	shadow_get_stats(vm->shadow, &st);

	struct json_object *traps = json_object_new_object(), *by_class = json_object_new_object();
	uint64_t total = 0;
	for (int c = 0; c < STRAP_MAX; c++) {
		json_object_object_add(by_class, shadow_trap_class_name(c), u64(st.traps[c]));
		total += st.traps[c];
	}
	struct json_object *by_mnemonic = json_object_new_object();
	for (unsigned i = 0; i < st.n_mnemonics; i++)
		json_object_object_add(by_mnemonic, st.mnemonics[i].name, u64(st.mnemonics[i].count));
	struct json_object *by_vector = json_object_new_object();
	for (int v = 0; v < 32; v++)
		if (st.vector_counts[v]) {
			char name[8];
			snprintf(name, sizeof(name), "%d", v);
			json_object_object_add(by_vector, name, u64(st.vector_counts[v]));
		}
	json_object_object_add(traps, "total", u64(total));
	json_object_object_add(traps, "by_class", by_class);
	json_object_object_add(traps, "privileged_by_mnemonic", by_mnemonic);
	json_object_object_add(traps, "reflected_by_vector", by_vector);
	json_object_object_add(o, "traps", traps);

	struct json_object *sh = json_object_new_object();
	json_object_object_add(sh, "fills", u64(st.mmu.fills));
	json_object_object_add(sh, "flushes", u64(st.mmu.flushes));
	json_object_object_add(sh, "invlpg", u64(st.mmu.invlpg));
	json_object_object_add(sh, "write_protect_faults", u64(st.mmu.write_protect_faults));
	json_object_object_add(sh, "resyncs", u64(st.mmu.resyncs));
	json_object_object_add(sh, "unshadowed", u64(st.mmu.unshadowed));
	json_object_object_add(sh, "roots", u64(st.mmu.root_loads));
	json_object_object_add(sh, "cache_hits", u64(st.mmu.root_cache_hits));
	json_object_object_add(sh, "cache_misses", u64(st.mmu.root_cache_misses));
	json_object_object_add(sh, "guest_faults", u64(st.mmu.guest_faults));
	json_object_object_add(sh, "mmio_faults", u64(st.mmu.mmio_faults));
	json_object_object_add(sh, "pool_used", u64(st.mmu.pool_used));
	json_object_object_add(sh, "pool_pages", u64(st.mmu.pool_pages));
	json_object_object_add(sh, "pool_recycled", u64(st.mmu.pool_recycled));
	json_object_object_add(o, "shadow", sh);

	struct json_object *pt = json_object_new_object();
	json_object_object_add(pt, "guest", u64(st.guest_pt_switches));
	json_object_object_add(pt, "shadow", u64(st.mmu.root_loads));
	json_object_object_add(o, "pt_switches", pt);
}

struct mapping_walk {
	struct json_object *list;
	uint64_t limit, count;
	bool truncated;
};

static int add_mapping(void *userdata, const struct smmu_mapping *m)
{
	struct mapping_walk *w = userdata;
	if (w->count >= w->limit) {
		w->truncated = true;
		return 1;   /* stop */
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "virtual", hex(m->va));
	json_object_object_add(o, "machine", hex(m->mpa));
	json_object_object_add(o, "size", u64(m->size));
	json_object_object_add(o, "flags", hex(m->flags));
	json_object_object_add(o, "guest_pte", hex(m->guest_pte));
	json_object_object_add(o, "guest_pte_address", hex(m->guest_pte_gpa));
	json_object_array_add(w->list, o);
	w->count++;
	return 0;
}

struct root_walk {
	struct vm *vm;
	struct json_object *roots;
	const char *want;     /* "kernel", "user" or "all" */
	uint64_t from, to, limit;
	uint64_t current_cr3;
};

static int add_root(void *userdata, uint64_t guest_cr3, bool user, uint64_t root_mpa)
{
	struct root_walk *rw = userdata;
	const char *kind = user ? "user" : "kernel";
	if (strcmp(rw->want, "all") != 0 && strcmp(rw->want, kind) != 0)
		return 0;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "guest_cr3", hex(guest_cr3));
	json_object_object_add(o, "machine", hex(root_mpa));
	json_object_object_add(o, "current", json_object_new_boolean(guest_cr3 == rw->current_cr3));
	struct mapping_walk mw = { .list = json_object_new_array(), .limit = rw->limit };
	smmu_foreach_mapping(rw->vm->shadow->smmu, guest_cr3, user, rw->from, rw->to, add_mapping, &mw);
	json_object_object_add(o, "mappings", mw.list);
	json_object_object_add(o, "truncated", json_object_new_boolean(mw.truncated));
	json_object_array_add(rw->roots, o);
	return 0;
}

static uint64_t param_u64(struct json_object *params, const char *name, uint64_t dflt)
{
	struct json_object *v;
	if (!params || !json_object_object_get_ex(params, name, &v))
		return dflt;
	return (uint64_t) json_object_get_int64(v);
}

void shadow_inspect_mmu(struct vm *vm, struct rpc_call *call)
{
	if (!vm->shadow) {
		struct rpc_error err = { 0 };
		rpc_error_set(&err, RPC_UNSUPPORTED, "mmu.shadow: this VM runs in hw mode (KVM's paging, not vmmd's)");
		rpc_call_error(call, &err, NULL);
		return;
	}
	struct json_object *v;
	const char *root = "all";
	if (call->params && json_object_object_get_ex(call->params, "root", &v))
		root = json_object_get_string(v);
	uint64_t vcpu = param_u64(call->params, "vcpu", 0);
	struct root_walk rw = {
		.vm = vm, .roots = json_object_new_array(), .want = root,
		.from = param_u64(call->params, "from", 0),
		.to = param_u64(call->params, "to", UINT64_MAX),
		.limit = param_u64(call->params, "limit", MAPPINGS_DEFAULT),
	};
	if (rw.limit > MAPPINGS_MAX)
		rw.limit = MAPPINGS_MAX;
	if (vcpu < vm->n_vcpus && vm->vcpus[vcpu].shadow)
		rw.current_cr3 = vm->vcpus[vcpu].shadow->cpu.pcb.cr3;
	pthread_mutex_lock(&vm->shadow->lock);
	smmu_foreach_root(vm->shadow->smmu, add_root, &rw);
	pthread_mutex_unlock(&vm->shadow->lock);

	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "strategy",
			       json_object_new_string(vm->config->strategy == VM_SHADOW_VTLB ? "vtlb" : "cached"));
	json_object_object_add(res, "roots", rw.roots);
	struct json_object *stats = json_object_new_object();
	shadow_inspect_stats(vm, stats);
	struct json_object *sh;
	if (json_object_object_get_ex(stats, "shadow", &sh))
		json_object_object_add(res, "stats", json_object_get(sh));
	json_object_put(stats);
	rpc_call_result(call, res);
}
