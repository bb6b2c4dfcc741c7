/* SPDX-License-Identifier: MIT */
/* The physmap (vmmd/shadow/physmap.c): identity and scattered placement of
 * guest frames in machine memory, with bounds checks in both directions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmmd/shadow/physmap.h"

#define GP 64
#define MP 80

static void test_identity(void **state)
{
	struct physmap pm;

	assert_int_equal(physmap_init(&pm, GP, MP, 0), 0);
	for (uint64_t i = 0; i < GP; i++) {
		assert_int_equal(physmap_gpa_to_mpa(&pm, i * 4096 + 0x123), i * 4096 + 0x123);
		assert_int_equal(physmap_mpa_to_gpa(&pm, i * 4096 + 7), i * 4096 + 7);
	}
	/* Above guest memory: machine frames that are not guest's (monitor, pool). */
	assert_int_equal(physmap_gpa_to_mpa(&pm, GP * 4096), UINT64_MAX);
	assert_int_equal(physmap_mpa_to_gpa(&pm, GP * 4096), UINT64_MAX);
	assert_int_equal(physmap_mpa_to_gpa(&pm, (MP - 1) * 4096ULL + 4095), UINT64_MAX);
	/* Beyond machine memory, and absurd addresses. */
	assert_int_equal(physmap_mpa_to_gpa(&pm, MP * 4096ULL), UINT64_MAX);
	assert_int_equal(physmap_gpa_to_mpa(&pm, UINT64_MAX), UINT64_MAX);
	assert_int_equal(physmap_mpa_to_gpa(&pm, UINT64_MAX), UINT64_MAX);
	physmap_free(&pm);
	physmap_free(&pm);     /* idempotent */
	physmap_free(NULL);
}

static void test_scatter_is_a_permutation(void **state)
{
	struct physmap pm, again, other;
	unsigned moved = 0;
	bool seen[GP] = { 0 };

	assert_int_equal(physmap_init(&pm, GP, MP, 42), 0);
	for (uint64_t g = 0; g < GP; g++) {
		uint64_t m = physmap_gpa_to_mpa(&pm, g * 4096 + 0x10);
		assert_int_not_equal(m, UINT64_MAX);
		assert_int_equal(m % 4096, 0x10);
		assert_true(m / 4096 < GP);            /* the first guest_pages machine frames */
		assert_false(seen[m / 4096]);
		seen[m / 4096] = true;
		assert_int_equal(physmap_mpa_to_gpa(&pm, m), g * 4096 + 0x10);
		moved += m / 4096 != g;
	}
	assert_true(moved > GP / 2);

	/* Deterministic per seed; another seed gives another placement. */
	assert_int_equal(physmap_init(&again, GP, MP, 42), 0);
	assert_memory_equal(pm.to_machine, again.to_machine, GP * sizeof(uint32_t));
	assert_int_equal(physmap_init(&other, GP, MP, 43), 0);
	assert_memory_not_equal(pm.to_machine, other.to_machine, GP * sizeof(uint32_t));
	for (uint64_t m = GP; m < MP; m++)
		assert_int_equal(physmap_mpa_to_gpa(&pm, m * 4096), UINT64_MAX);
	physmap_free(&pm);
	physmap_free(&again);
	physmap_free(&other);
}

static void test_init_errors(void **state)
{
	struct physmap pm = { .guest_pages = 7 };

	assert_int_equal(physmap_init(&pm, 0, MP, 0), -EINVAL);
	assert_int_equal(physmap_init(&pm, MP + 1, MP, 0), -EINVAL);
	assert_int_equal(physmap_init(&pm, 1, UINT32_MAX, 0), -E2BIG);
	assert_int_equal(physmap_init(NULL, 1, 1, 0), -EINVAL);
	assert_int_equal(pm.guest_pages, 7);     /* untouched on failure */
	/* guest_pages == machine_pages is fine (no room for a pool, but valid). */
	assert_int_equal(physmap_init(&pm, 4, 4, 9), 0);
	physmap_free(&pm);
}

static void test_pointers(void **state)
{
	struct physmap pm;
	struct machine_memory mm = { .size = MP * 4096ULL };
	uint8_t *p;

	mm.host = calloc(1, mm.size);
	assert_non_null(mm.host);
	assert_int_equal(physmap_init(&pm, GP, MP, 5), 0);

	/* Guest pointer = host + machine address of the (scattered) frame. */
	p = physmap_guest_ptr(&pm, &mm, 3 * 4096 + 100, 8);
	assert_ptr_equal(p, mm.host + physmap_gpa_to_mpa(&pm, 3 * 4096 + 100));
	/* Up to the end of the page, never across it. */
	assert_non_null(physmap_guest_ptr(&pm, &mm, 3 * 4096 + 4088, 8));
	assert_null(physmap_guest_ptr(&pm, &mm, 3 * 4096 + 4089, 8));
	assert_null(physmap_guest_ptr(&pm, &mm, 3 * 4096, 4097));
	assert_null(physmap_guest_ptr(&pm, &mm, GP * 4096, 1));
	assert_null(physmap_guest_ptr(&pm, &mm, UINT64_MAX - 3, 2));

	assert_ptr_equal(machine_ptr(&mm, 0, mm.size), mm.host);
	assert_ptr_equal(machine_ptr(&mm, mm.size - 8, 8), mm.host + mm.size - 8);
	assert_null(machine_ptr(&mm, mm.size - 8, 9));
	assert_null(machine_ptr(&mm, mm.size + 1, 0));
	assert_null(machine_ptr(&mm, 8, SIZE_MAX));         /* mpa + len overflows */
	assert_null(machine_ptr(&mm, UINT64_MAX, 1));

	physmap_free(&pm);
	free(mm.host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_scatter_is_a_permutation),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_pointers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
