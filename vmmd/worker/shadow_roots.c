/* SPDX-License-Identifier: MIT */
/* worker.mmu.shadow: the shadow roots vmmd built and their mappings, in pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmd/common/worker_protocol.h"
#include "vmmd/shadow/engine.h"
#include "vmmd/worker/shadow_inspect.h"
#include "vmmd/worker/vm.h"

#define MAPPINGS_DEFAULT 256     /* per root, without `limit` */
#define MAPPINGS_MAX     65536

static struct json_object *u64(uint64_t v) { return json_object_new_uint64(v); }
static struct json_object *hex(uint64_t v) { return shadow_inspect_hex(v); }

/*
 * mmu.shadow in pages (issue 14, finding 2: the whole list of a guest that
 * touched its memory passed the channel's 4 MiB). Roots are listed in
 * (guest_cr3, kernel before user) order, at most `limit` mappings each and
 * SHADOW_PAGE_ITEMS roots and mappings per reply; when more is left the
 * reply's `next` is a cursor "CR3:kernel|user:VA" that the next call
 * passes back as `cursor`. Keys only grow, so paging ends even while the
 * guest changes its roots: one evicted meanwhile is skipped, one new and
 * past the cursor is listed.
 */
#define SHADOW_PAGE_ITEMS 512    /* ~70 KB of JSON: a page costs the worker and the supervisor a millisecond or two */

struct root_key {
	uint64_t cr3;
	bool user;
	uint64_t mpa;
};

static int key_cmp(const struct root_key *a, const struct root_key *b)
{
	if (a->cr3 != b->cr3)
		return a->cr3 < b->cr3 ? -1 : 1;
	return (int) a->user - (int) b->user;
}

static int key_qsort_cmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

struct root_list {
	struct root_key *keys;
	size_t n, cap;
};

static int collect_root(void *userdata, uint64_t guest_cr3, bool user, uint64_t root_mpa)
{
	struct root_list *l = userdata;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct root_key *k = realloc(l->keys, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		l->keys = k;
		l->cap = cap;
	}
	l->keys[l->n++] = (struct root_key) { guest_cr3, user, root_mpa };
	return 0;
}

/* "0x1000:kernel:0x400000" -> key and va; false if it is not one. */
static bool parse_cursor(const char *s, struct root_key *key, uint64_t *va)
{
	char kind[8], tail;
	unsigned long long cr3, v;
	if (sscanf(s, "%llx:%7[a-z]:%llx%c", &cr3, kind, &v, &tail) != 3)
		return false;
	if (strcmp(kind, "kernel") != 0 && strcmp(kind, "user") != 0)
		return false;
	*key = (struct root_key) { .cr3 = cr3, .user = strcmp(kind, "user") == 0 };
	*va = v;
	return true;
}

static struct json_object *cursor_json(uint64_t cr3, bool user, uint64_t va)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "0x%llx:%s:0x%llx", (unsigned long long) cr3, user ? "user" : "kernel",
		 (unsigned long long) va);
	return json_object_new_string(buf);
}

struct mapping_walk {
	struct json_object *list;
	uint64_t limit, count;
	bool more;            /* a mapping past the limit exists */
	uint64_t more_va;     /* its address: where the next page starts */
};

static int add_mapping(void *userdata, const struct smmu_mapping *m)
{
	struct mapping_walk *w = userdata;
	if (w->count >= w->limit) {
		w->more = true;
		w->more_va = m->va;
		return -ECANCELED;   /* stop: smmu_foreach_mapping goes on after a positive value */
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

struct page {
	struct vm *vm;
	const char *want;     /* "kernel", "user" or "all" */
	uint64_t from, to, limit, current_cr3;
	uint64_t left;        /* items this page may still take */
	struct json_object *roots, *next;
};

/* One root's entry from va on; false when the page is full. */
static bool page_root(struct page *pg, const struct root_key *k, uint64_t va)
{
	const char *kind = k->user ? "user" : "kernel";
	if (pg->left <= 1) {
		pg->next = cursor_json(k->cr3, k->user, va);
		return false;
	}
	pg->left--;
	uint64_t limit = pg->limit < pg->left ? pg->limit : pg->left;
	struct mapping_walk mw = { .list = json_object_new_array(), .limit = limit };
	smmu_foreach_mapping(pg->vm->shadow->smmu, k->cr3, k->user, va, pg->to, add_mapping, &mw);
	pg->left -= mw.count;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "guest_cr3", hex(k->cr3));
	json_object_object_add(o, "machine", hex(k->mpa));
	json_object_object_add(o, "current", json_object_new_boolean(k->cr3 == pg->current_cr3));
	json_object_object_add(o, "mappings", mw.list);
	/* Cut by `limit`: the rest of this root is not listed. Cut by the
	 * page: it goes on in the next one. */
	bool page_cut = mw.more && limit < pg->limit;
	json_object_object_add(o, "truncated", json_object_new_boolean(mw.more && !page_cut));
	json_object_array_add(pg->roots, o);
	if (page_cut) {
		pg->next = cursor_json(k->cr3, k->user, mw.more_va);
		return false;
	}
	return true;
}

static uint64_t param_u64(struct json_object *params, const char *name, uint64_t dflt)
{
	struct json_object *v;
	if (!params || !json_object_object_get_ex(params, name, &v))
		return dflt;
	return (uint64_t) json_object_get_int64(v);
}

static void fail_params(struct rpc_call *call, const char *field, const char *message)
{
	struct rpc_error err = { 0 };
	worker_error_set(&err, WORKER_ERROR_PARAMS, field, "%s", message);
	rpc_call_error(call, &err, NULL);
}

void shadow_inspect_mmu(struct worker *w, struct vm *vm, struct rpc_call *call)
{
	if (!vm->shadow) {
		struct rpc_error err = { 0 };
		worker_error_set(&err, WORKER_ERROR_UNSUPPORTED, NULL,
				 "mmu.shadow: this VM runs in hw mode (KVM's paging, not vmmd's)");
		rpc_call_error(call, &err, NULL);
		return;
	}
	struct json_object *v;
	const char *root = "all";
	if (call->params && json_object_object_get_ex(call->params, "root", &v))
		root = json_object_get_string(v);
	struct root_key start = { 0 };
	uint64_t start_va = 0;
	bool resume = call->params && json_object_object_get_ex(call->params, "cursor", &v);
	if (resume && !parse_cursor(json_object_get_string(v), &start, &start_va)) {
		fail_params(call, "cursor", "cursor must be a `next` from an earlier mmu.shadow reply");
		return;
	}
	uint64_t vcpu = param_u64(call->params, "vcpu", 0);
	struct page pg = {
		.vm = vm, .want = root, .roots = json_object_new_array(), .left = SHADOW_PAGE_ITEMS,
		.from = param_u64(call->params, "from", 0),
		.to = param_u64(call->params, "to", UINT64_MAX),
		.limit = param_u64(call->params, "limit", MAPPINGS_DEFAULT),
	};
	if (pg.limit > MAPPINGS_MAX)
		pg.limit = MAPPINGS_MAX;
	if (vcpu < vm->n_vcpus && vm->vcpus[vcpu].shadow)
		pg.current_cr3 = vm->vcpus[vcpu].shadow->cpu.pcb.cr3;

	struct root_list roots = { 0 };
	pthread_mutex_lock(&vm->shadow->lock);
	int r = smmu_foreach_root(vm->shadow->smmu, collect_root, &roots);
	if (r == 0) {
		qsort(roots.keys, roots.n, sizeof(roots.keys[0]), key_qsort_cmp);
		for (size_t i = 0; i < roots.n; i++) {
			const struct root_key *k = &roots.keys[i];
			int c = resume ? key_cmp(k, &start) : 1;
			if (c < 0 || (strcmp(root, "all") != 0 && strcmp(root, k->user ? "user" : "kernel") != 0))
				continue;
			uint64_t va = c == 0 && start_va > pg.from ? start_va : pg.from;
			if (va > pg.to)
				continue;
			if (!page_root(&pg, k, va))
				break;
		}
	}
	pthread_mutex_unlock(&vm->shadow->lock);
	free(roots.keys);
	if (r < 0) {
		json_object_put(pg.roots);
		json_object_put(pg.next);
		struct rpc_error err = { 0 };
		worker_error_set(&err, WORKER_ERROR_INTERNAL, NULL, "mmu.shadow: out of memory listing the roots");
		rpc_call_error(call, &err, NULL);
		return;
	}

	struct json_object *res = json_object_new_object();
	json_object_object_add(res, "strategy",
			       json_object_new_string(vm_strategy_name(vm->config->strategy)));
	json_object_object_add(res, "roots", pg.roots);
	json_object_object_add(res, "next", pg.next);
	struct json_object *stats = json_object_new_object();
	shadow_inspect_stats(vm, stats);
	struct json_object *sh;
	if (json_object_object_get_ex(stats, "shadow", &sh))
		json_object_object_add(res, "stats", json_object_get(sh));
	json_object_put(stats);
	rpc_call_result(call, res);
}
