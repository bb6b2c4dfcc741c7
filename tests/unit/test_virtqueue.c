/* SPDX-License-Identifier: MIT */
/*
 * Split-ring chains from a hostile driver, through the transport and
 * virtio-rng (which fills every writable buffer it is given). A malformed
 * ring must set DEVICE_NEEDS_RESET with a config interrupt, touch nothing,
 * and keep the queue dead until the driver resets the device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio_rng.h"
#include "tests/unit/virtio_guest.h"

#define NEXT  VIRTQ_DESC_F_NEXT
#define WRITE VIRTQ_DESC_F_WRITE
#define INDIR VIRTQ_DESC_F_INDIRECT

/* The rng fixture plus 4 KiB of guest memory filled with 0xaa. */
static int setup(void **state)
{
	if (vg_rng_setup(state) < 0)
		return -1;
	struct vg_rng_fixture *f = *state;
	f->scratch = vg_alloc(&f->g, 4096);
	memset(vg_host(&f->g, f->scratch), 0xaa, 4096);
	return 0;
}

static bool untouched(struct vg_rng_fixture *f)
{
	const uint8_t *p = vg_host(&f->g, f->scratch);

	for (unsigned i = 0; i < 4096; i++)
		if (p[i] != 0xaa)
			return false;
	return true;
}

static uint32_t used_len(struct vg *g, uint16_t i)
{
	uint32_t id, len;

	vg_used(g, 0, i, &id, &len);
	return len;
}

/* Kick; the device must have refused the ring as a whole. */
static void expect_broken(struct vg_rng_fixture *f)
{
	struct vg *g = &f->g;
	struct virtio_mmio_stats s;

	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x4f);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(g->irqs, 1);
	s = vg_stats(g);
	assert_true(s.needs_reset);
	assert_int_equal(s.errors, 1);
	assert_int_equal(s.requests, 0);
	assert_true(untouched(f));

	/* dead until reset: a good chain now is not taken, and nothing is counted twice */
	struct vg_buf b = { f->scratch, 16, true };
	vg_add_chain(g, 0, &b, 1);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 0);
	assert_int_equal(vg_stats(g).errors, 1);
	assert_int_equal(g->irqs, 1);

	/* after a reset the same device works */
	vg_start(g, 16);
	vg_add_chain(g, 0, &b, 1);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	assert_int_equal(used_len(g, 0), 16);
	assert_false(vg_stats(g).needs_reset);
}

static void test_good_chain(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf bufs[] = {
		{ f->scratch, 0, true },            /* empty: no segment, no harm */
		{ f->scratch + 100, 10, true },
		{ f->scratch + 200, 20, true },
		{ f->scratch + 4095, 1, true },
	};

	vg_start(g, 16);
	vg_add_chain(g, 0, bufs, 4);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	assert_int_equal(used_len(g, 0), 31);
	assert_int_equal(((uint8_t *) vg_host(g, f->scratch))[99], 0xaa);
	assert_int_equal(((uint8_t *) vg_host(g, f->scratch))[110], 0xaa);
	assert_int_equal(vg_stats(g).errors, 0);
}

static void test_chain_of_queue_size(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf bufs[256];

	for (unsigned i = 0; i < 256; i++)
		bufs[i] = (struct vg_buf) { f->scratch + 8 * i, 8, true };
	vg_start(g, 256);
	vg_add_chain(g, 0, bufs, 256);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	assert_int_equal(used_len(g, 0), 2048);
}

static void test_full_ring(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf b = { f->scratch, 4, true };

	/* exactly a queue's worth outstanding is legal; then it wraps */
	vg_start(g, 4);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 4; i++)
			vg_add_chain(g, 0, &b, 1);
		vg_kick(g, 0);
		assert_int_equal(vg_used_idx(g, 0), 4 * (round + 1));
	}
	assert_int_equal(vg_stats(g).errors, 0);
}

static void test_desc_outside_ram(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, VG_RAM_SIZE - 4, 8, WRITE, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_desc_wraps(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 8, WRITE | NEXT, 1);
	vg_set_desc(&f->g, 0, 1, ~0ULL - 3, 16, WRITE, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_desc_huge_len(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 0xffffffff, WRITE, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_next_out_of_range(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 8, WRITE | NEXT, 16);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_chain_loop(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 8, WRITE | NEXT, 1);
	vg_set_desc(&f->g, 0, 1, f->scratch + 8, 8, WRITE | NEXT, 2);
	vg_set_desc(&f->g, 0, 2, f->scratch + 16, 8, WRITE | NEXT, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_empty_loop(void **state)
{
	struct vg_rng_fixture *f = *state;

	/* zero-length descriptors add no segment: only the step count ends this */
	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 0, WRITE | NEXT, 1);
	vg_set_desc(&f->g, 0, 1, f->scratch, 0, WRITE | NEXT, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_self_loop(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 5, f->scratch, 8, WRITE | NEXT, 5);
	vg_publish(&f->g, 0, 5);
	expect_broken(f);
}

static void test_head_out_of_range(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	/* what lies just past the table looks like a good descriptor */
	vg_set_desc(&f->g, 0, 16, f->scratch, 8, WRITE, 0);
	vg_publish(&f->g, 0, 16);
	expect_broken(f);
}

static void test_avail_idx_jump(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 8, WRITE, 0);
	vg_set_avail_idx(&f->g, 0, 17);
	expect_broken(f);
}

static void test_avail_idx_backwards(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf b = { f->scratch + 2048, 8, true };

	vg_start(g, 16);
	vg_add_chain(g, 0, &b, 1);
	vg_add_chain(g, 0, &b, 1);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 2);
	g->irqs = 0;
	vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS);
	vg_wr(g, VIRTIO_MMIO_INTERRUPT_ACK, 1);
	vg_set_avail_idx(g, 0, 1);
	vg_kick(g, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x4f);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(vg_used_idx(g, 0), 2);
	assert_int_equal(g->irqs, 1);
}

static void test_readable_after_writable(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 8, WRITE | NEXT, 1);
	vg_set_desc(&f->g, 0, 1, f->scratch + 8, 8, NEXT, 2);
	vg_set_desc(&f->g, 0, 2, f->scratch + 16, 8, WRITE, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

/* --- indirect tables ------------------------------------------------------------- */

static void test_indirect_good(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	struct vg_buf bufs[256];

	for (unsigned i = 0; i < 256; i++)
		bufs[i] = (struct vg_buf) { f->scratch + 16 * i, 16, true };
	vg_start(g, 16);
	vg_add_indirect(g, 0, bufs, 3);
	vg_add_indirect(g, 0, bufs, 256);       /* the largest table allowed */
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 2);
	assert_int_equal(used_len(g, 0), 48);
	assert_int_equal(used_len(g, 1), 4096);
	assert_int_equal(vg_stats(g).errors, 0);
}

/* Writes a table of n entries, each chaining to the next, and points
 * descriptor 0 at it with the given length and flags. */
static uint64_t indirect_table(struct vg_rng_fixture *f, unsigned n)
{
	uint64_t table = vg_alloc(&f->g, 16 * n);

	for (unsigned i = 0; i < n; i++) {
		uint8_t *d = vg_host(&f->g, table + 16 * i);
		uint64_t addr = f->scratch + 8 * (i % 512);
		uint32_t len = 8;
		uint16_t flags = WRITE | (i + 1 < n ? NEXT : 0);
		uint16_t next = (uint16_t) (i + 1);

		memcpy(d, &addr, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
	}
	return table;
}

static void set_table_entry(struct vg_rng_fixture *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			    uint16_t flags, uint16_t next)
{
	uint8_t *d = vg_host(&f->g, table + 16 * i);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void test_indirect_bad_len(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t table = indirect_table(f, 257);

	/* empty buffers but the last: only the table length is wrong */
	for (unsigned i = 0; i < 256; i++)
		set_table_entry(f, table, i, f->scratch, 0, WRITE | NEXT, (uint16_t) (i + 1));
	const uint32_t lens[] = { 0, 8, 17, 16 * 257, 0xfffffff0 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		f->g.irqs = 0;
		vg_start(&f->g, 16);
		/* expect_broken starts from a fresh stats view: compare deltas */
		uint64_t errors = vg_stats(&f->g).errors;
		vg_set_desc(&f->g, 0, 0, table, lens[i], INDIR, 0);
		vg_publish(&f->g, 0, 0);
		vg_kick(&f->g, 0);
		assert_int_equal(vg_used_idx(&f->g, 0), 0);
		assert_int_equal(vg_rd(&f->g, VIRTIO_MMIO_STATUS), 0x4f);
		assert_int_equal(f->g.irqs, 1);
		assert_int_equal(vg_stats(&f->g).errors, errors + 1);
		assert_true(untouched(f));
	}
}

static void test_indirect_outside_ram(void **state)
{
	struct vg_rng_fixture *f = *state;

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, VG_RAM_SIZE - 32, 64, INDIR, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_indirect_nested(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t table = indirect_table(f, 2);

	set_table_entry(f, table, 1, table, 32, INDIR, 0);
	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, table, 32, INDIR, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_indirect_with_next(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t table = indirect_table(f, 2);

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, table, 32, INDIR | NEXT, 1);
	vg_set_desc(&f->g, 0, 1, f->scratch, 8, WRITE, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_indirect_not_head(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t table = indirect_table(f, 2);

	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, f->scratch, 8, WRITE | NEXT, 1);
	vg_set_desc(&f->g, 0, 1, table, 32, INDIR, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_indirect_not_negotiated(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	uint64_t table = indirect_table(f, 2);

	assert_int_equal(vg_negotiate(g, VIRTIO_BIT(VIRTIO_F_VERSION_1)), 0x0b);
	assert_int_equal(vg_setup_queue(g, 0, 16), 1);
	vg_driver_ok(g);
	vg_set_desc(g, 0, 0, table, 32, INDIR, 0);
	vg_publish(g, 0, 0);
	expect_broken(f);
}

static void test_indirect_loop(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t table = indirect_table(f, 4);

	set_table_entry(f, table, 3, f->scratch, 8, WRITE | NEXT, 1);
	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, table, 64, INDIR, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_indirect_next_out_of_range(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t table = indirect_table(f, 4);

	/* next 3 is in the guest's table but beyond the length it declared */
	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, table, 48, INDIR, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

static void test_indirect_entry_outside_ram(void **state)
{
	struct vg_rng_fixture *f = *state;
	uint64_t table = indirect_table(f, 2);

	set_table_entry(f, table, 1, VG_RAM_SIZE, 1, WRITE, 0);
	vg_start(&f->g, 16);
	vg_set_desc(&f->g, 0, 0, table, 32, INDIR, 0);
	vg_publish(&f->g, 0, 0);
	expect_broken(f);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, vg_rng_teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_chain),
		T(test_chain_of_queue_size),
		T(test_full_ring),
		T(test_desc_outside_ram),
		T(test_desc_wraps),
		T(test_desc_huge_len),
		T(test_next_out_of_range),
		T(test_chain_loop),
		T(test_self_loop),
		T(test_empty_loop),
		T(test_head_out_of_range),
		T(test_avail_idx_jump),
		T(test_avail_idx_backwards),
		T(test_readable_after_writable),
		T(test_indirect_good),
		T(test_indirect_bad_len),
		T(test_indirect_outside_ram),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_not_head),
		T(test_indirect_not_negotiated),
		T(test_indirect_loop),
		T(test_indirect_next_out_of_range),
		T(test_indirect_entry_outside_ram),
	};
#undef T

	/* a chain walk that loops fails the run, not hangs it */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
