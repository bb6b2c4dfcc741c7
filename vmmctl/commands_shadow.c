/* SPDX-License-Identifier: MIT */
/* vmmctl shadow NAME [--root kernel|user] [--limit N]: the shadow page tables vmmd built,
 * every page of them (mmu.shadow's `next`), as one result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmctl/json_util.h"
#include "vmmctl/output.h"
#include "vmmctl/vmmctl.h"

static const struct cmd_option shadow_options[] = {
	{ .name = "--root", .has_arg = true },
	{ .name = "--limit", .has_arg = true },
	{ .name = "--vcpu", .has_arg = true },
	{ .name = NULL },
};

static void print_root(struct json_object *root)
{
	struct json_object *maps = json_lookup(root, "mappings");
	size_t n = maps ? json_object_array_length(maps) : 0;
	printf("%s root for guest cr3 %s at machine %s%s: %zu mapping%s%s\n",
	       json_lookup_str(root, "kind", "?"), json_lookup_str(root, "guest_cr3", "?"),
	       json_lookup_str(root, "machine", "?"),
	       json_object_get_boolean(json_lookup(root, "current")) ? " (current)" : "",
	       n, n == 1 ? "" : "s", json_object_get_boolean(json_lookup(root, "truncated")) ? " (truncated)" : "");
	if (n == 0)
		return;
	printf("  %-20s %-14s %-8s %-20s %s\n", "VIRTUAL", "MACHINE", "FLAGS", "GUEST PTE", "AT");
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(maps, i);
		uint64_t flags = strtoull(json_lookup_str(m, "flags", "0"), NULL, 0);
		char f[8];
		snprintf(f, sizeof(f), "%c%c%c%c", flags & 1 ? 'P' : '-', flags & 2 ? 'W' : '-',
			 flags & 4 ? 'U' : '-', flags >> 63 ? '-' : 'X');
		printf("  %-20s %-14s %-8s %-20s %s\n", json_lookup_str(m, "virtual", "?"),
		       json_lookup_str(m, "machine", "?"), f, json_lookup_str(m, "guest_pte", "?"),
		       json_lookup_str(m, "guest_pte_address", "?"));
	}
}

#define SHADOW_MAX_PAGES 4096   /* 16 M mappings: a guest that outgrows this is still listed in part */

/* Append a page's roots to the result's; a root cut by the page goes on in
 * the next page's first entry, which joins it. */
static void merge_page(struct json_object *res, struct json_object *page)
{
	struct json_object *roots = json_lookup(res, "roots"), *more = json_lookup(page, "roots");
	for (size_t i = 0; more && i < json_object_array_length(more); i++) {
		struct json_object *r = json_object_array_get_idx(more, i);
		size_t n = json_object_array_length(roots);
		struct json_object *last = n ? json_object_array_get_idx(roots, n - 1) : NULL;
		if (i == 0 && last &&
		    strcmp(json_lookup_str(last, "kind", ""), json_lookup_str(r, "kind", "?")) == 0 &&
		    strcmp(json_lookup_str(last, "guest_cr3", ""), json_lookup_str(r, "guest_cr3", "?")) == 0) {
			struct json_object *to = json_lookup(last, "mappings"), *from = json_lookup(r, "mappings");
			for (size_t j = 0; to && from && j < json_object_array_length(from); j++)
				json_object_array_add(to, json_object_get(json_object_array_get_idx(from, j)));
			json_object_object_add(last, "truncated", json_object_get(json_lookup(r, "truncated")));
			continue;
		}
		json_object_array_add(roots, json_object_get(r));
	}
	json_object_object_add(res, "stats", json_object_get(json_lookup(page, "stats")));
	json_object_object_add(res, "next", json_object_get(json_lookup(page, "next")));
}

/* mmu.shadow until its `next` is null. */
static int shadow_all(struct ctl *ctl, struct json_object *params, struct json_object **ret)
{
	struct json_object *res = NULL;
	for (int pages = 0; pages < SHADOW_MAX_PAGES; pages++) {
		struct json_object *page;
		int r = ctl_call(ctl, "mmu.shadow", json_object_get(params), &page);
		if (r < 0) {
			json_object_put(res);
			return r;
		}
		if (!res)
			res = page;
		else {
			merge_page(res, page);
			json_object_put(page);
		}
		struct json_object *next = json_lookup(res, "next");
		if (!json_object_is_type(next, json_type_string))
			break;
		json_object_object_add(params, "cursor", json_object_get(next));
	}
	*ret = res;
	return 0;
}

static int cmd_shadow(struct ctl *ctl, const struct cmd_args *args)
{
	struct json_object *params = ctl_params_name(args->argv[0]), *res;
	if (!params)
		return ctl_oom();
	const char *root = cmd_args_get(args, "--root");
	if (root) {
		if (strcmp(root, "kernel") != 0 && strcmp(root, "user") != 0 && strcmp(root, "all") != 0) {
			json_object_put(params);
			return ctl_usage_error(ctl, "shadow: --root must be kernel, user or all");
		}
		json_object_object_add(params, "root", json_object_new_string(root));
	}
	static const char *const ints[] = { "--limit", "--vcpu" };
	for (size_t i = 0; i < 2; i++) {
		const char *v = cmd_args_get(args, ints[i]);
		char *end;
		if (!v)
			continue;
		long long n = strtoll(v, &end, 0);
		if (*v == '\0' || *end || n < 0) {
			json_object_put(params);
			return ctl_usage_error(ctl, "shadow: %s needs a number", ints[i]);
		}
		json_object_object_add(params, ints[i] + 2, json_object_new_int64(n));
	}
	int r = shadow_all(ctl, params, &res);
	json_object_put(params);
	if (r < 0)
		return r;
	if (ctl->json) {
		print_json(stdout, res);
	} else {
		printf("strategy: %s\n", json_lookup_str(res, "strategy", "?"));
		struct json_object *roots = json_lookup(res, "roots"), *st = json_lookup(res, "stats");
		if (st)
			printf("fills %s, flushes %s, write-protect faults %s, root loads %s, pool %s/%s pages\n",
			       json_object_get_string(json_lookup(st, "fills")),
			       json_object_get_string(json_lookup(st, "flushes")),
			       json_object_get_string(json_lookup(st, "write_protect_faults")),
			       json_object_get_string(json_lookup(st, "roots")),
			       json_object_get_string(json_lookup(st, "pool_used")),
			       json_object_get_string(json_lookup(st, "pool_pages")));
		for (size_t i = 0; roots && i < json_object_array_length(roots); i++)
			print_root(json_object_array_get_idx(roots, i));
	}
	json_object_put(res);
	return 0;
}

const struct cmd_entry cmd_shadow_entry = {
	.name = "shadow",
	.usage = "NAME [--root kernel|user] [--limit N] [--vcpu N]",
	.summary = "show the shadow page tables vmmd built (shadow mode)",
	.min_args = 1, .max_args = 1,
	.options = shadow_options,
	.exec = cmd_shadow,
};
