/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/debug_exit.h"

struct exits {
	int status;
	unsigned calls;
};

static void record_exit(void *userdata, int status)
{
	struct exits *e = userdata;

	e->status = status;
	e->calls++;
}

static int write_value(struct debug_exit *dev, uint32_t v, unsigned size)
{
	uint8_t data[4] = { v, v >> 8, v >> 16, v >> 24 };

	return debug_exit_io(dev, 0, data, size, true);
}

static void test_statuses(void **state)
{
	struct exits e = { 0 };
	struct debug_exit dev = { .on_exit = record_exit, .userdata = &e };
	static const struct { uint32_t v; unsigned size; int status; } cases[] = {
		{ 0, 1, 1 },
		{ 1, 1, 3 },
		{ 0x10, 1, 0x21 },
		{ 0xff, 1, 0x1ff },
		{ 0x10, 2, 0x21 },
		{ 0x1234, 2, 0x2469 },
		{ 0x10, 4, 0x21 },
		{ 0x12345678, 4, 0x2468acf1 },
		/* 33-bit results keep their low 31 bits: never negative */
		{ 0xffffffff, 4, 0x7fffffff },
		{ 0x80000000, 4, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(write_value(&dev, cases[i].v, cases[i].size), 0);
		assert_int_equal(e.calls, i + 1);
		assert_int_equal(e.status, cases[i].status);
	}
}

static void test_little_endian(void **state)
{
	struct exits e = { 0 };
	struct debug_exit dev = { .on_exit = record_exit, .userdata = &e };
	uint8_t data[4] = { 0x10, 0x00, 0x00, 0x00 };

	assert_int_equal(debug_exit_io(&dev, 0, data, 4, true), 0);
	assert_int_equal(e.status, 0x21);
	/* only `size` bytes are consumed */
	data[0] = 0x01;
	data[1] = 0x7f;
	assert_int_equal(debug_exit_io(&dev, 0, data, 1, true), 0);
	assert_int_equal(e.status, 3);
}

static void test_reads_return_zero(void **state)
{
	struct exits e = { 0 };
	struct debug_exit dev = { .on_exit = record_exit, .userdata = &e };
	uint8_t data[4];

	for (unsigned size = 1; size <= 4; size *= 2) {
		memset(data, 0xaa, sizeof(data));
		assert_int_equal(debug_exit_io(&dev, 0, data, size, false), 0);
		for (unsigned i = 0; i < size; i++)
			assert_int_equal(data[i], 0);
		for (unsigned i = size; i < 4; i++)
			assert_int_equal(data[i], 0xaa);
	}
	assert_int_equal(e.calls, 0);
}

static void test_bad_accesses(void **state)
{
	struct exits e = { 0 };
	struct debug_exit dev = { .on_exit = record_exit, .userdata = &e };
	struct debug_exit no_cb = { .on_exit = NULL };
	uint8_t data[8] = { 0 };

	assert_int_equal(debug_exit_io(&dev, 0, data, 8, true), -EINVAL);
	assert_int_equal(debug_exit_io(&dev, 0, data, 3, true), -EINVAL);
	assert_int_equal(debug_exit_io(&dev, 0, data, 0, true), -EINVAL);
	assert_int_equal(debug_exit_io(&dev, 0, data, 8, false), -EINVAL);
	assert_int_equal(debug_exit_io(NULL, 0, data, 1, true), -EINVAL);
	assert_int_equal(debug_exit_io(&dev, 0, NULL, 1, true), -EINVAL);
	assert_int_equal(debug_exit_io(&no_cb, 0, data, 1, true), -EINVAL);
	assert_int_equal(e.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_little_endian),
		cmocka_unit_test(test_reads_return_zero),
		cmocka_unit_test(test_bad_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
