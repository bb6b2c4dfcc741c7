/* SPDX-License-Identifier: MIT */
/* The 2-D walk of mmu.translate (vmmd/worker/nested_walk.h) and the nested
 * tables' depth (vmmd/common/host_probe.h), without KVM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmmd/common/host_probe.h"
#include "vmmd/worker/nested_walk.h"

static const struct nested_leaves small_only = { .known = true, .n_4k = 100 };
static const struct nested_leaves with_2m = { .known = true, .n_4k = 100, .n_2m = 3 };
static const struct nested_leaves with_1g = { .known = true, .n_4k = 100, .n_1g = 1 };
static const struct nested_leaves unknown = { .known = false };

/* A guest walk that read n entries (levels 4 down), the page found when complete. */
static struct gw_result walk(int n, bool complete)
{
	struct gw_result w = { .n_steps = n, .fault = complete ? GW_OK : GW_NOT_PRESENT, .phys = 0x123000 };
	for (int i = 0; i < n; i++)
		w.steps[i] = (struct gw_step) { .level = 4 - i, .table = 0x1000 * (i + 1), .index = (unsigned) i };
	return w;
}

static void count(const struct gw_result *w, bool complete, int levels, const struct nested_leaves *l,
		  unsigned want_min, unsigned want_max)
{
	unsigned lo, hi;
	nested_walk_count(w, complete, levels, l, &lo, &hi);
	assert_int_equal(lo, want_min);
	assert_int_equal(hi, want_max);
}

static void test_counts(void **state)
{
	struct gw_result w4 = walk(4, true), w3 = walk(3, true), w2 = walk(2, false);
	/* The seed's (4 + 1) x (4 + 1) - 1 = 24; with 5-level nested tables 29. */
	count(&w4, true, 4, &small_only, 24, 24);
	count(&w4, true, 5, &small_only, 29, 29);
	/* A 2 MiB guest page: 3 entries, 4 nested walks. */
	count(&w3, true, 4, &small_only, 19, 19);
	/* No page at the end: one nested walk fewer. */
	count(&w2, false, 5, &small_only, 12, 12);
	/* Large nested leaves: each nested walk may end a level (2 MiB) or two (1 GiB) early. */
	count(&w4, true, 4, &with_2m, 19, 24);
	count(&w4, true, 4, &with_1g, 14, 24);
	count(&w4, true, 4, &unknown, 14, 24);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_json(void **state)
{
	struct gw_result w = walk(4, true);
	struct json_object *o = nested_walk_json(&w, true, 5, "npt", &small_only, 0x123000);
	assert_string_equal(json_object_get_string(get(o, "via")), "npt");
	assert_int_equal(json_object_get_int(get(o, "levels")), 5);
	assert_true(json_object_get_boolean(get(o, "exact")));
	assert_int_equal(json_object_get_int(get(o, "total")), 29);
	assert_int_equal(json_object_get_uint64(get(get(o, "leaves"), "4k")), 100);
	struct json_object *steps = get(o, "steps");
	assert_int_equal(json_object_array_length(steps), 5);
	static const char *const reads[] = { "PML4 entry", "PDPT entry", "PD entry", "PT entry", "page" };
	static const uint64_t at[] = { 0x1000, 0x2008, 0x3010, 0x4018, 0x123000 };
	for (size_t i = 0; i < 5; i++) {
		struct json_object *s = json_object_array_get_idx(steps, i);
		assert_string_equal(json_object_get_string(get(s, "reads")), reads[i]);
		assert_true(json_object_get_uint64(get(s, "physical")) == at[i]);
		assert_int_equal(json_object_get_int(get(s, "nested_refs")), 5);
	}
	assert_true(json_object_get_uint64(get(o, "kvm_translate")) == 0x123000);
	json_object_put(o);

	/* Large leaves: a range, no total; KVM found no page. */
	o = nested_walk_json(&w, true, 4, "ept", &with_2m, -1);
	assert_false(json_object_get_boolean(get(o, "exact")));
	assert_null(get(o, "total"));
	assert_int_equal(json_object_get_int(get(o, "total_min")), 19);
	assert_int_equal(json_object_get_int(get(o, "total_max")), 24);
	struct json_object *s0 = json_object_array_get_idx(get(o, "steps"), 0);
	assert_null(get(s0, "nested_refs"));
	assert_int_equal(json_object_get_int(get(s0, "nested_refs_min")), 3);
	assert_int_equal(json_object_get_int(get(s0, "nested_refs_max")), 4);
	assert_null(get(o, "kvm_translate"));
	json_object_put(o);
}

static void test_tdp_levels(void **state)
{
	/* NPT follows the host kernel's paging. */
	assert_int_equal(host_tdp_levels("svm", false, 48), 4);
	assert_int_equal(host_tdp_levels("svm", true, 48), 5);
	/* EPT: 5 levels only where a guest may address more than 48 bits. */
	assert_int_equal(host_tdp_levels("vmx", false, 52), 4);
	assert_int_equal(host_tdp_levels("vmx", true, 46), 4);
	assert_int_equal(host_tdp_levels("vmx", true, 52), 5);
	/* No nested paging at all. */
	assert_int_equal(host_tdp_levels("pvm", true, 52), 0);
	assert_int_equal(host_tdp_levels("none", false, 40), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_tdp_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
