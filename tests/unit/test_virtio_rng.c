/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio_rng.h"
#include "tests/unit/virtio_guest.h"

static bool all_bytes(const uint8_t *p, size_t len, uint8_t value)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != value)
			return false;
	return true;
}

static void test_identity(void **state)
{
	struct vg_rng_fixture *f = *state;

	assert_int_equal(vg_rd(&f->g, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(virtio_mmio_num_queues(f->g.t), 1);
	vg_wr(&f->g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(vg_rd(&f->g, VIRTIO_MMIO_DEVICE_FEATURES), 1u << VIRTIO_RING_F_INDIRECT_DESC);
	vg_wr(&f->g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(vg_rd(&f->g, VIRTIO_MMIO_DEVICE_FEATURES), 1);
	/* no config space */
	assert_int_equal(vg_rd(&f->g, VIRTIO_MMIO_CONFIG), 0);
}

static void test_fill(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t buf = vg_alloc(&f->g, 64);
	struct vg_buf b = { buf, 64, true };
	uint32_t id, len;

	vg_start(&f->g, 16);
	uint16_t head = vg_add_chain(&f->g, 0, &b, 1);
	vg_kick(&f->g, 0);
	assert_int_equal(vg_used_idx(&f->g, 0), 1);
	vg_used(&f->g, 0, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 64);
	/* 64 zero bytes from getrandom: 2^-512 */
	assert_false(all_bytes(vg_host(&f->g, buf), 64, 0));
	assert_int_equal(f->g.irqs, 1);
	assert_int_equal(vg_rd(&f->g, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);

	struct virtio_mmio_stats s = vg_stats(&f->g);
	assert_int_equal(s.requests, 1);
	assert_int_equal(s.bytes_written, 64);
	assert_int_equal(s.bytes_read, 0);
	assert_int_equal(s.notifications, 1);
	assert_int_equal(s.errors, 0);
}

static void test_segments(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t a = vg_alloc(&f->g, 100), b = vg_alloc(&f->g, 28);
	struct vg_buf bufs[] = { { a, 100, true }, { b, 28, true } };
	uint32_t id, len;

	vg_start(&f->g, 16);
	vg_add_chain(&f->g, 0, bufs, 2);
	vg_add_indirect(&f->g, 0, bufs, 2);
	vg_kick(&f->g, 0);
	assert_int_equal(vg_used_idx(&f->g, 0), 2);
	vg_used(&f->g, 0, 0, &id, &len);
	assert_int_equal(len, 128);
	vg_used(&f->g, 0, 1, &id, &len);
	assert_int_equal(len, 128);
	assert_false(all_bytes(vg_host(&f->g, b), 28, 0));
}

static void test_capped(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint32_t size = VIRTIO_RNG_MAX_REQUEST + 4096;
	uint64_t buf = vg_alloc(&f->g, size);
	struct vg_buf b = { buf, size, true };
	uint32_t id, len;

	memset(vg_host(&f->g, buf), 0xaa, size);
	vg_start(&f->g, 16);
	vg_add_chain(&f->g, 0, &b, 1);
	vg_kick(&f->g, 0);
	vg_used(&f->g, 0, 0, &id, &len);
	assert_int_equal(len, VIRTIO_RNG_MAX_REQUEST);
	/* nothing written past the cap */
	assert_true(all_bytes((uint8_t *) vg_host(&f->g, buf) + VIRTIO_RNG_MAX_REQUEST, 4096, 0xaa));
	assert_int_equal(vg_stats(&f->g).bytes_written, VIRTIO_RNG_MAX_REQUEST);
}

static void test_readable_only(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t buf = vg_alloc(&f->g, 32);
	struct vg_buf b = { buf, 32, false };
	uint32_t id, len = 99;

	vg_start(&f->g, 16);
	vg_add_chain(&f->g, 0, &b, 1);
	vg_kick(&f->g, 0);
	assert_int_equal(vg_used_idx(&f->g, 0), 1);
	vg_used(&f->g, 0, 0, &id, &len);
	assert_int_equal(len, 0);
	assert_true(all_bytes(vg_host(&f->g, buf), 32, 0));
	assert_false(vg_stats(&f->g).needs_reset);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, vg_rng_setup, vg_rng_teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_fill),
		T(test_segments),
		T(test_capped),
		T(test_readable_only),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
