/* SPDX-License-Identifier: MIT */
/* The paging facts of a CPUID table (x86/cpuid.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "x86/cpuid.h"

static void test_facts(void **state)
{
	struct kvm_cpuid_entry2 e[3] = {
		{ .function = 0x1, .eax = 0x80000008u },
		{ .function = 0x80000001u, .edx = 1u << 26 },
		{ .function = 0x80000008u, .eax = 0x3028 },   /* 48 virtual, 40 physical */
	};
	struct gw_config c;

	x86_cpuid_paging(e, 3, &c);
	assert_int_equal(c.phys_bits, 40);
	assert_false(c.no_1g);
	e[1].edx = 0;
	x86_cpuid_paging(e, 3, &c);
	assert_true(c.no_1g);
	/* Nonsense widths and missing leaves: 52 bits, the widest. */
	e[2].eax = 0x3010;
	x86_cpuid_paging(e, 3, &c);
	assert_int_equal(c.phys_bits, 52);
	x86_cpuid_paging(e, 1, &c);
	assert_int_equal(c.phys_bits, 52);
	assert_false(c.no_1g);
	assert_false(c.nxe || c.wp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
