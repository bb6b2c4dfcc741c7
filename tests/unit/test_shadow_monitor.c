/* SPDX-License-Identifier: MIT */
/*
 * The monitor's pages at a per-VM PML4 slot (monitor.c): 510 for vmmd's own
 * guests, 509 for Xen PV guests (Linux's espfix owns 510). Everything that
 * holds a monitor address (IDT gates, the TSS's rsp0, the stubs' lookup)
 * must follow the slot.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmd/shadow/monitor.h"

#define MPA 0x10000ULL

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void check_slot(unsigned slot, uint64_t vbase)
{
	uint8_t *host = calloc(1, MPA + MON_PAGES * 4096);
	struct machine_memory mm = { .host = host, .size = MPA + MON_PAGES * 4096 };
	struct monitor mon;

	assert_non_null(host);
	assert_int_equal(monitor_build(&mm, MPA, slot, 0, &mon), 0);
	assert_int_equal(mon.slot, slot);
	assert_int_equal(mon.vbase, vbase);
	assert_int_equal(monitor_va(&mon, MON_PAGE_IDT), vbase + MON_PAGE_IDT * 4096);

	/* IDT gate 14 points at stub 14, inside the slot. */
	const uint8_t *gate = host + MPA + MON_PAGE_IDT * 4096 + 14 * 16;
	uint64_t lo = get64(gate), hi = get64(gate + 8);
	uint64_t target = (lo & 0xffff) | ((lo >> 48) & 0xffff) << 16 | hi << 32;
	assert_int_equal(target, monitor_stub_va(&mon, 14));
	assert_int_equal(monitor_stub_vector(&mon, target), 14);
	assert_int_equal(monitor_stub_vector(&mon, monitor_syscall_va(&mon)), 256);
	assert_int_equal(monitor_stub_vector(&mon, vbase - 8), -1);
	/* rsp0 of the TSS is the monitor stack's top. */
	assert_int_equal(get64(host + MPA + MON_PAGE_TSS * 4096 + 4), monitor_stack_top(&mon));
	assert_true(monitor_contains(&mon, vbase));
	assert_false(monitor_contains(&mon, vbase + MON_PAGES * 4096));
	assert_non_null(monitor_ptr(&mon, &mm, monitor_stack_top(&mon) - 8, 8));
	assert_null(monitor_ptr(&mon, &mm, monitor_stack_top(&mon) - 8, MON_PAGES * 4096));
	free(host);
}

static void test_slot_510(void **state)
{
	check_slot(MON_SLOT_DEFAULT, 0xffffff0000000000ULL);
}

static void test_slot_509(void **state)
{
	check_slot(MON_SLOT_XENPV, 0xfffffe8000000000ULL);
}

/* A window: read-only and user-accessible in kernel roots (pml4e_kernel),
 * absent from user roots; the monitor stays supervisor-only in both. */
static void test_window(void **state)
{
	unsigned pages = 600;   /* two PTs */
	uint64_t size = MPA + monitor_machine_pages(pages) * 4096;
	uint8_t *host = calloc(1, size);
	struct machine_memory mm = { .host = host, .size = size };
	struct monitor mon;

	assert_int_equal(monitor_build(&mm, MPA, MON_SLOT_XENPV, pages, &mon), 0);
	assert_int_equal(monitor_window_va(&mon), 0xfffffe8040000000ULL);
	uint8_t *w = monitor_window_ptr(&mon, &mm);
	assert_ptr_equal(w, host + MPA + MON_PAGES * 4096);
	/* Kernel root: L4 U, PDPT[0] (monitor) not U, PDPT[1] (window) U. */
	assert_int_equal(mon.pml4e_kernel & 7, 7);
	uint64_t pdpt_k = mon.pml4e_kernel & ~0xfffULL, pdpt_u = mon.pml4e & ~0xfffULL;
	assert_int_equal(get64(host + pdpt_k) & 4, 0);
	uint64_t pd = get64(host + pdpt_k + 8);
	assert_int_equal(pd & 7, 7);
	/* User root: the window's PDPT entry is absent. */
	assert_int_equal(get64(host + pdpt_u + 8), 0);
	assert_int_equal(get64(host + pdpt_u) & 4, 0);
	/* Window page 599 is in the second PT, read-only, U, NX, at its machine page. */
	uint64_t pt1 = get64(host + (pd & ~0xfffULL) + 8) & ~0xfffULL;
	uint64_t pte = get64(host + pt1 + (599 - 512) * 8);
	assert_int_equal(pte & ~0xfffULL & ~(1ULL << 63), MPA + (MON_PAGES + 599) * 4096ULL);
	assert_int_equal(pte & 7, 5);
	assert_true(pte >> 63);
	assert_int_equal(monitor_build(&mm, MPA, MON_SLOT_XENPV, MON_WINDOW_MAX_PAGES + 1, &mon), -EINVAL);
	assert_int_equal(monitor_build(&mm, MPA, MON_SLOT_XENPV, pages + 512, &mon), -ERANGE);
	free(host);
}

static void test_slot_refused(void **state)
{
	uint8_t *host = calloc(1, MPA + MON_PAGES * 4096);
	struct machine_memory mm = { .host = host, .size = MPA + MON_PAGES * 4096 };
	struct monitor mon;

	assert_int_equal(monitor_build(&mm, MPA, 255, 0, &mon), -EINVAL);   /* user half */
	assert_int_equal(monitor_build(&mm, MPA, 512, 0, &mon), -EINVAL);
	assert_int_equal(monitor_build(&mm, MPA + 4096, 509, 0, &mon), -ERANGE);   /* past the end */
	free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_510),
		cmocka_unit_test(test_slot_509),
		cmocka_unit_test(test_slot_refused),
		cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
