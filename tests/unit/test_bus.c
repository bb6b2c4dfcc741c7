/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "devices/bus.h"

/* A handler that records its last access and answers reads with a pattern. */
struct probe {
	uint64_t offset;
	unsigned size;
	bool is_write;
	uint8_t written[8];
	int result;
	unsigned calls;
};

static int probe_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct probe *p = opaque;

	p->offset = offset;
	p->size = size;
	p->is_write = is_write;
	p->calls++;
	if (is_write)
		memcpy(p->written, data, size);
	else
		for (unsigned i = 0; i < size; i++)
			data[i] = (uint8_t) (0xa0 + i);
	return p->result;
}

static int counting_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	if (!is_write)
		memset(data, 0, size);
	return 0;
}

static int setup(void **state)
{
	*state = bus_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	bus_free(*state);
	return 0;
}

static void test_overlap_refused(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };

	assert_int_equal(bus_register(b, BUS_PIO, 0x3f8, 8, "uart", probe_io, &p), 0);
	/* tail, head, inside, around, same base */
	assert_int_equal(bus_register(b, BUS_PIO, 0x3fc, 8, "x", probe_io, &p), -EEXIST);
	assert_int_equal(bus_register(b, BUS_PIO, 0x3f0, 9, "x", probe_io, &p), -EEXIST);
	assert_int_equal(bus_register(b, BUS_PIO, 0x3f9, 1, "x", probe_io, &p), -EEXIST);
	assert_int_equal(bus_register(b, BUS_PIO, 0x300, 0x200, "x", probe_io, &p), -EEXIST);
	assert_int_equal(bus_register(b, BUS_PIO, 0x3f8, 1, "x", probe_io, &p), -EEXIST);
	/* the other space is independent */
	assert_int_equal(bus_register(b, BUS_MMIO, 0x3f8, 8, "mmio", probe_io, &p), 0);
}

static void test_adjacent_allowed(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };

	assert_int_equal(bus_register(b, BUS_PIO, 0x3f8, 8, "uart", probe_io, &p), 0);
	assert_int_equal(bus_register(b, BUS_PIO, 0x400, 4, "after", probe_io, &p), 0);
	assert_int_equal(bus_register(b, BUS_PIO, 0x3f0, 8, "before", probe_io, &p), 0);
	/* a gap filled exactly between two regions */
	assert_int_equal(bus_register(b, BUS_PIO, 0x410, 4, "far", probe_io, &p), 0);
	assert_int_equal(bus_register(b, BUS_PIO, 0x404, 12, "gap", probe_io, &p), 0);
}

static void test_invalid_registrations(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };

	assert_int_equal(bus_register(b, BUS_MMIO, 0x1000, 0, "zero", probe_io, &p), -EINVAL);
	assert_int_equal(bus_register(b, BUS_MMIO, UINT64_MAX - 1, 4, "wrap", probe_io, &p), -EINVAL);
	assert_int_equal(bus_register(b, BUS_MMIO, 1, UINT64_MAX, "wrap", probe_io, &p), -EINVAL);
	assert_int_equal(bus_register(b, BUS_PIO, 0xfff0, 0x11, "big", probe_io, &p), -EINVAL);
	assert_int_equal(bus_register(b, BUS_PIO, 0x10000, 1, "big", probe_io, &p), -EINVAL);
	assert_int_equal(bus_register(b, BUS_PIO, 0x10, 4, "nofn", NULL, &p), -EINVAL);
	assert_int_equal(bus_register(b, BUS_PIO, 0x10, 4, NULL, probe_io, &p), -EINVAL);
	assert_int_equal(bus_register(b, (enum bus_space) 7, 0x10, 4, "space", probe_io, &p), -EINVAL);
	assert_int_equal(bus_register(NULL, BUS_PIO, 0x10, 4, "nobus", probe_io, &p), -EINVAL);
	/* the very end of port space is fine */
	assert_int_equal(bus_register(b, BUS_PIO, 0xfff0, 0x10, "top", probe_io, &p), 0);

	struct bus_region out[2];
	assert_int_equal(bus_snapshot(b, BUS_PIO, out, 2), 1);
	assert_int_equal(bus_snapshot(b, BUS_MMIO, out, 2), 0);
}

static void test_table_full(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };

	for (unsigned i = 0; i < BUS_MAX_REGIONS; i++)
		assert_int_equal(bus_register(b, BUS_MMIO, 0x1000 * (uint64_t) i, 0x100, "r", probe_io, &p), 0);
	assert_int_equal(bus_register(b, BUS_MMIO, 0x100000, 0x100, "r", probe_io, &p), -ENOSPC);
	assert_int_equal(bus_register(b, BUS_PIO, 0x10, 1, "pio", probe_io, &p), 0);
}

static void test_dispatch_offsets_and_counters(void **state)
{
	struct bus *b = *state;
	struct probe uart = { 0 }, dev = { 0 };
	uint8_t data[8];
	struct bus_region out[4];

	assert_int_equal(bus_register(b, BUS_PIO, 0x3f8, 8, "uart", probe_io, &uart), 0);
	assert_int_equal(bus_register(b, BUS_MMIO, 0xd0000000, 0x1000, "virtio", probe_io, &dev), 0);

	data[0] = 'A';
	assert_int_equal(bus_dispatch(b, BUS_PIO, 0x3f8, data, 1, true), 0);
	assert_int_equal(uart.offset, 0);
	assert_true(uart.is_write);
	assert_int_equal(uart.written[0], 'A');

	assert_int_equal(bus_dispatch(b, BUS_PIO, 0x3fd, data, 1, false), 0);
	assert_int_equal(uart.offset, 5);
	assert_false(uart.is_write);
	assert_int_equal(data[0], 0xa0);

	memcpy(data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(bus_dispatch(b, BUS_MMIO, 0xd0000ff8, data, 8, true), 0);
	assert_int_equal(dev.offset, 0xff8);
	assert_int_equal(dev.size, 8);
	assert_memory_equal(dev.written, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);

	/* a failing handler is counted as an error and its result passed on */
	dev.result = -EIO;
	assert_int_equal(bus_dispatch(b, BUS_MMIO, 0xd0000000, data, 4, false), -EIO);

	assert_int_equal(bus_snapshot(b, BUS_PIO, out, 4), 1);
	assert_string_equal(out[0].device, "uart");
	assert_int_equal(out[0].reads, 1);
	assert_int_equal(out[0].writes, 1);
	assert_int_equal(out[0].errors, 0);
	assert_int_equal(bus_snapshot(b, BUS_MMIO, out, 4), 1);
	assert_int_equal(out[0].reads, 1);
	assert_int_equal(out[0].writes, 1);
	assert_int_equal(out[0].errors, 1);
	assert_int_equal(bus_misses(b, BUS_PIO), 0);
	assert_int_equal(bus_misses(b, BUS_MMIO), 0);
}

static void test_holes(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };
	uint8_t data[8];

	assert_int_equal(bus_register(b, BUS_PIO, 0x3f8, 8, "uart", probe_io, &p), 0);

	memset(data, 0x11, sizeof(data));
	assert_int_equal(bus_dispatch(b, BUS_PIO, 0x80, data, 4, false), -ENOENT);
	assert_memory_equal(data, "\xff\xff\xff\xff\x11\x11\x11\x11", 8);
	/* below every region, just past the end, and straddling the end */
	assert_int_equal(bus_dispatch(b, BUS_PIO, 0x3f7, data, 1, false), -ENOENT);
	assert_int_equal(bus_dispatch(b, BUS_PIO, 0x400, data, 1, false), -ENOENT);
	memset(data, 0x11, sizeof(data));
	assert_int_equal(bus_dispatch(b, BUS_PIO, 0x3fe, data, 4, false), -ENOENT);
	assert_memory_equal(data, "\xff\xff\xff\xff\x11", 5);
	/* writes miss without touching the data; addresses near the top */
	assert_int_equal(bus_dispatch(b, BUS_PIO, 0x500, data, 2, true), -ENOENT);
	assert_int_equal(bus_dispatch(b, BUS_MMIO, UINT64_MAX, data, 8, false), -ENOENT);
	assert_int_equal(p.calls, 0);

	assert_int_equal(bus_misses(b, BUS_PIO), 5);
	assert_int_equal(bus_misses(b, BUS_MMIO), 1);

	struct bus_region out[1];
	assert_int_equal(bus_snapshot(b, BUS_PIO, out, 1), 1);
	assert_int_equal(out[0].reads, 0);
	assert_int_equal(out[0].writes, 0);
}

static void test_size_checks(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };
	uint8_t data[16];
	static const unsigned bad[] = { 0, 3, 5, 6, 7, 16, 4096 };
	static const unsigned good[] = { 1, 2, 4, 8 };

	assert_int_equal(bus_register(b, BUS_MMIO, 0x1000, 0x100, "dev", probe_io, &p), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(data, 0x11, sizeof(data));
		assert_int_equal(bus_dispatch(b, BUS_MMIO, 0x1000, data, bad[i], false), -EINVAL);
		assert_int_equal(data[0], 0x11);
		assert_int_equal(bus_dispatch(b, BUS_MMIO, 0x9000, data, bad[i], false), -EINVAL);
	}
	assert_int_equal(p.calls, 0);
	assert_int_equal(bus_misses(b, BUS_MMIO), 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(bus_dispatch(b, BUS_MMIO, 0x1000, data, good[i], false), 0);
		assert_int_equal(p.size, good[i]);
	}
	assert_int_equal(bus_dispatch(b, BUS_MMIO, 0x1000, NULL, 1, false), -EINVAL);
	assert_int_equal(bus_dispatch(b, (enum bus_space) 2, 0x1000, data, 1, false), -EINVAL);
	assert_int_equal(bus_dispatch(NULL, BUS_MMIO, 0x1000, data, 1, false), -EINVAL);
}

static void test_snapshot_order(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };
	static const uint64_t bases[] = { 0x500, 0x20, 0x3f8, 0xf4, 0x60, 0x1000, 0x40 };
	static const uint64_t sorted[] = { 0x20, 0x40, 0x60, 0xf4, 0x3f8, 0x500, 0x1000 };
	struct bus_region out[BUS_MAX_REGIONS];
	char name[32];

	for (size_t i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "dev%zx", (size_t) bases[i]);
		assert_int_equal(bus_register(b, BUS_PIO, bases[i], 4, name, probe_io, &p), 0);
	}
	assert_int_equal(bus_snapshot(b, BUS_PIO, out, BUS_MAX_REGIONS), 7);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(out[i].base, sorted[i]);
		assert_int_equal(out[i].size, 4);
		assert_int_equal(out[i].space, BUS_PIO);
		snprintf(name, sizeof(name), "dev%zx", (size_t) sorted[i]);
		assert_string_equal(out[i].device, name);
	}
	/* a short buffer gets the lowest regions, nothing written past it */
	memset(out, 0, sizeof(out));
	assert_int_equal(bus_snapshot(b, BUS_PIO, out, 3), 3);
	assert_int_equal(out[2].base, 0x60);
	assert_int_equal(out[3].base, 0);
	/* every registered region still dispatches after the reordering */
	for (size_t i = 0; i < 7; i++) {
		uint8_t v;
		assert_int_equal(bus_dispatch(b, BUS_PIO, bases[i] + 3, &v, 1, false), 0);
		assert_int_equal(p.offset, 3);
	}
}

static void test_long_name_truncated(void **state)
{
	struct bus *b = *state;
	struct probe p = { 0 };
	struct bus_region out[1];
	const char *longname = "a-device-name-much-longer-than-thirty-one-characters";

	assert_int_equal(bus_register(b, BUS_PIO, 0x10, 1, longname, probe_io, &p), 0);
	assert_int_equal(bus_snapshot(b, BUS_PIO, out, 1), 1);
	assert_int_equal(strlen(out[0].device), 31);
	assert_memory_equal(out[0].device, longname, 31);
}

#define THREADS 8
#define ITERATIONS 20000

static void *dispatch_thread(void *arg)
{
	struct bus *b = arg;
	uint8_t data[4] = { 0 };

	for (unsigned i = 0; i < ITERATIONS; i++) {
		bus_dispatch(b, BUS_PIO, 0x3f8 + (i % 8), data, 1, i & 1);
		bus_dispatch(b, BUS_PIO, 0x80, data, 1, false);
	}
	return NULL;
}

static void test_concurrent_counters(void **state)
{
	struct bus *b = *state;
	pthread_t t[THREADS];
	struct bus_region out[1];

	assert_int_equal(bus_register(b, BUS_PIO, 0x3f8, 8, "uart", counting_io, NULL), 0);
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, dispatch_thread, b), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	assert_int_equal(bus_snapshot(b, BUS_PIO, out, 1), 1);
	assert_int_equal(out[0].reads, THREADS * ITERATIONS / 2);
	assert_int_equal(out[0].writes, THREADS * ITERATIONS / 2);
	assert_int_equal(bus_misses(b, BUS_PIO), THREADS * ITERATIONS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_overlap_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adjacent_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_registrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch_offsets_and_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_name_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_counters, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
