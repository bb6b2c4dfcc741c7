/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio register file, driven as Linux's virtio_mmio driver does,
 * with virtio-rng as the device behind it (its queue handler is trivial).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio_mmio.h"
#include "devices/virtio_rng.h"
#include "tests/unit/virtio_guest.h"

#define F_INDIRECT VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)
#define F_VERSION_1 VIRTIO_BIT(VIRTIO_F_VERSION_1)

/* One 16-byte rng request on queue 0, published (not kicked). */
static uint16_t post_request(struct vg_rng_fixture *f)
{
	struct vg_buf b = { vg_alloc(&f->g, 16), 16, true };

	return vg_add_chain(&f->g, 0, &b, 1);
}

static void test_identity(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	assert_int_equal(vg_rd(g, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_ID), 4);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_VENDOR_ID_REG), 0x646d6d76);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	/* write-only registers read 0 */
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DRIVER_FEATURES), 0);

	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 0x10000000);
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 0x1);
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 0);
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(virtio_mmio_num_queues(g->t), 1);
	assert_int_equal(vg_stats(g).errors, 0);
}

static void test_linux_probe(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	uint32_t id, len;

	vg_start(g, 256);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 1);
	uint16_t head = post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	vg_used(g, 0, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 16);
	assert_int_equal(g->irqs, 1);
	/* Linux's vm_interrupt: read, then ack what it read */
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	vg_wr(g, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(vg_stats(g).errors, 0);
}

static void test_features_need_version_1(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	/* a legacy driver: FEATURES_OK does not stick */
	assert_int_equal(vg_negotiate(g, F_INDIRECT), 0x03);
	assert_int_equal(vg_stats(g).errors, 1);
	/* nor does DRIVER_OK without it */
	vg_wr(g, VIRTIO_MMIO_STATUS, 0x07);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x03);
	assert_int_equal(vg_stats(g).errors, 2);
	/* after a reset, a modern driver gets in */
	assert_int_equal(vg_negotiate(g, F_VERSION_1), 0x0b);
}

static void test_features_unoffered_refused(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	vg_wr(g, VIRTIO_MMIO_STATUS, 0);
	vg_wr(g, VIRTIO_MMIO_STATUS, 0x03);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_RING_F_EVENT_IDX);   /* not offered */
	vg_wr(g, VIRTIO_MMIO_STATUS, 0x0b);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x03);
	/* the driver may try again before FEATURES_OK */
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_RING_F_INDIRECT_DESC);
	vg_wr(g, VIRTIO_MMIO_STATUS, 0x0b);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x0b);
	/* and features are frozen after */
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(vg_stats(g).errors, 2);
	/* feature select above 1 is nothing */
	vg_wr(g, VIRTIO_MMIO_STATUS, 0);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(vg_stats(g).errors, 3);
}

static void test_status_bits_sticky(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	vg_start(g, 16);
	/* clearing bits other than by reset does nothing; NEEDS_RESET is the device's */
	vg_wr(g, VIRTIO_MMIO_STATUS, 0x01);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x0f);
	vg_wr(g, VIRTIO_MMIO_STATUS, 0x4f);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x0f);
	vg_wr(g, VIRTIO_MMIO_STATUS, 0x8f);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x8f);
}

static void test_reset(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	vg_start(g, 16);
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), 1);

	vg_wr(g, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 0);
	/* a notification now does nothing */
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);

	/* and the device starts again from index 0 */
	vg_start(g, 16);
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	assert_int_equal(vg_stats(g).requests, 2);
}

static void expect_needs_reset(struct vg *g, unsigned irqs)
{
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(g->irqs, irqs);
	assert_true(vg_stats(g).needs_reset);
}

static void test_queue_num_checked(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	const uint32_t bad[] = { 0, 3, 100, 257, 512, 0x10000, 0xffffffff };
	uint64_t errors = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned irqs = g->irqs;

		assert_int_equal(vg_negotiate(g, ~0ULL), 0x0b);
		assert_int_equal(vg_setup_queue(g, 0, bad[i]), 0);
		expect_needs_reset(g, irqs + 1);
		assert_int_equal(vg_stats(g).errors, ++errors);
		/* DRIVER_OK does not clear it, and the queue is never processed */
		vg_driver_ok(g);
		assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x4f);
		vg_kick(g, 0);
		assert_int_equal(vg_used_idx(g, 0), 0);
	}
	/* every size the spec allows works */
	for (uint32_t num = 1; num <= 256; num *= 2) {
		vg_start(g, num);
		post_request(f);
		vg_kick(g, 0);
		assert_int_equal(vg_used_idx(g, 0), 1);
	}
	assert_int_equal(vg_stats(g).errors, errors);
}

static void write_queue(struct vg *g, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 0);
	vg_wr(g, VIRTIO_MMIO_QUEUE_NUM, num);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t) desc);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t) (desc >> 32));
	vg_wr(g, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t) avail);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t) (avail >> 32));
	vg_wr(g, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t) used);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t) (used >> 32));
	vg_wr(g, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void test_queue_rings_checked(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	const struct { uint64_t desc, avail, used; } bad[] = {
		{ 0x10008, 0x11000, 0x12000 },                  /* descriptors not 16-aligned */
		{ 0x10000, 0x11001, 0x12000 },                  /* available ring odd */
		{ 0x10000, 0x11000, 0x12002 },                  /* used ring not 4-aligned */
		{ VG_RAM_SIZE - 0x800, 0x11000, 0x12000 },      /* table runs off RAM's end */
		{ 0x10000, VG_RAM_SIZE - 0x10, 0x12000 },
		{ 0x10000, 0x11000, VG_RAM_SIZE - 0x100 },
		{ 0x10000, 0x11000, 1ULL << 40 },
		{ 0xfffffffffffff000ULL, 0x11000, 0x12000 },    /* wraps */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned irqs = g->irqs;

		assert_int_equal(vg_negotiate(g, ~0ULL), 0x0b);
		write_queue(g, 256, bad[i].desc, bad[i].avail, bad[i].used);
		assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 0);
		expect_needs_reset(g, irqs + 1);
	}
	assert_int_equal(vg_stats(g).errors, sizeof(bad) / sizeof(bad[0]));

	/* rings ending at RAM's last byte are fine (sizes 4096, 6 + 512, 6 + 2048) */
	const struct { uint64_t desc, avail, used; } edge[] = {
		{ VG_RAM_SIZE - 0x1000, 0x11000, 0x12000 },
		{ 0x10000, VG_RAM_SIZE - 0x206, 0x12000 },
		{ 0x10000, 0x11000, VG_RAM_SIZE - 0x808 },
	};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		assert_int_equal(vg_negotiate(g, ~0ULL), 0x0b);
		write_queue(g, 256, edge[i].desc, edge[i].avail, edge[i].used);
		assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 1);
		assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x0b);
	}
	assert_int_equal(vg_stats(g).errors, sizeof(bad) / sizeof(bad[0]));
}

static void test_queue_frozen_while_ready(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	vg_start(g, 16);
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 0);
	vg_wr(g, VIRTIO_MMIO_QUEUE_NUM, 3);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xdead0000);
	vg_wr(g, VIRTIO_MMIO_QUEUE_READY, 1);   /* again: no change */
	assert_int_equal(vg_stats(g).errors, 2);
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	/* a queue register for a queue that does not exist */
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 7);
	vg_wr(g, VIRTIO_MMIO_QUEUE_NUM, 16);
	vg_wr(g, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(vg_stats(g).errors, 4);
	assert_false(vg_stats(g).needs_reset);

	/* QueueReady 0 stops it (Linux's del_vq reads it back) */
	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, 0);
	vg_wr(g, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 0);
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
}

static void test_bad_accesses(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	uint8_t data[8];

	memset(data, 0x5a, sizeof(data));
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_MAGIC_VALUE, data, 2, false), -EINVAL);
	assert_int_equal(data[0], 0);
	assert_int_equal(data[1], 0);
	assert_int_equal(data[2], 0x5a);
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_MAGIC_VALUE + 1, data, 4, false), -EINVAL);
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_MAGIC_VALUE, data, 8, false), -EINVAL);
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_STATUS, data, 1, true), -EINVAL);
	assert_int_equal(vg_stats(g).errors, 4);
	/* outside the region or odd sizes: refused before anything */
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_SIZE, data, 4, false), -EINVAL);
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_SIZE - 2, data, 4, false), -EINVAL);
	assert_int_equal(virtio_mmio_io(g->t, 0, data, 3, false), -EINVAL);
	assert_int_equal(virtio_mmio_io(g->t, 0, NULL, 4, false), -EINVAL);
	assert_int_equal(virtio_mmio_io(NULL, 0, data, 4, false), -EINVAL);
	/* writes to read-only registers are ignored and counted */
	vg_wr(g, VIRTIO_MMIO_MAGIC_VALUE, 0);
	vg_wr(g, VIRTIO_MMIO_INTERRUPT_STATUS, 3);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(vg_stats(g).errors, 6);
	/* the config space (empty for rng) reads 0 at any size and ignores writes */
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_CONFIG, data, 8, false), 0);
	assert_int_equal(data[7], 0);
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_SIZE - 1, data, 1, true), 0);
	assert_int_equal(virtio_mmio_io(g->t, VIRTIO_MMIO_SIZE - 8, data, 8, false), 0);
}

static void test_interrupt_suppressed(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	vg_start(g, 16);
	vg_set_avail_flags(g, 0, VIRTQ_AVAIL_F_NO_INTERRUPT);
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	assert_int_equal(g->irqs, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	vg_set_avail_flags(g, 0, 0);
	post_request(f);
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 3);
	assert_int_equal(g->irqs, 1);           /* one per pass */
	assert_int_equal(vg_stats(g).interrupts, 1);
}

static void test_early_kick(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;

	assert_int_equal(vg_negotiate(g, ~0ULL), 0x0b);
	assert_int_equal(vg_setup_queue(g, 0, 16), 1);
	post_request(f);
	vg_kick(g, 0);
	assert_int_equal(vg_used_idx(g, 0), 0);         /* not before DRIVER_OK */
	vg_driver_ok(g);
	assert_int_equal(vg_used_idx(g, 0), 1);         /* but at it */
	assert_int_equal(g->irqs, 1);
}

static void test_notify_api(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	struct virtio_mmio_stats s;

	vg_start(g, 16);
	post_request(f);
	assert_int_equal(virtio_mmio_queue_notify(g->t, 0), 0);
	assert_int_equal(vg_used_idx(g, 0), 1);
	assert_int_equal(virtio_mmio_queue_notify(g->t, 1), -EINVAL);
	assert_int_equal(virtio_mmio_queue_notify(NULL, 0), -EINVAL);
	/* a device-side pass is not a notification */
	post_request(f);
	assert_int_equal(virtio_mmio_queue_process(g->t, 0), 0);
	assert_int_equal(vg_used_idx(g, 0), 2);
	/* a kick for a queue that does not exist is counted */
	vg_kick(g, 5);
	s = vg_stats(g);
	assert_int_equal(s.notifications, 2);
	assert_int_equal(s.requests, 2);
	assert_int_equal(s.bytes_written, 32);
	assert_int_equal(s.errors, 1);
	assert_int_equal(s.interrupts, 2);
	assert_false(s.needs_reset);
}

static int dummy_process(void *opaque, unsigned queue, struct virtq *vq)
{
	return 0;
}

static void test_new_refuses(void **state)
{
	struct vg g;
	struct virtio_mmio *t = NULL;
	struct virtio_mmio_device dev = { .device_id = 4, .num_queues = 1 };
	struct virtio_env env;

	vg_init(&g);
	env = g.env;
	assert_int_equal(virtio_mmio_new(&env, &dev, &t), -EINVAL);     /* no process */
	dev.process = dummy_process;
	dev.num_queues = 0;
	assert_int_equal(virtio_mmio_new(&env, &dev, &t), -EINVAL);
	dev.num_queues = VIRTIO_MMIO_MAX_QUEUES + 1;
	assert_int_equal(virtio_mmio_new(&env, &dev, &t), -EINVAL);
	dev.num_queues = 1;
	dev.config_size = VIRTIO_MMIO_CONFIG_MAX + 1;
	assert_int_equal(virtio_mmio_new(&env, &dev, &t), -EINVAL);
	dev.config_size = 4;
	assert_int_equal(virtio_mmio_new(&env, &dev, &t), -EINVAL);     /* no config image */
	env.gpa_ptr = NULL;
	dev.config_size = 0;
	assert_int_equal(virtio_mmio_new(&env, &dev, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(virtio_mmio_num_queues(NULL), 0);
	virtio_mmio_free(NULL);
	vg_fini(&g);
}

/* --- concurrency: notifications from several threads while the guest posts --- */

struct kicker {
	struct vg *g;
	bool stop;
};

static void *kick_loop(void *arg)
{
	struct kicker *k = arg;

	while (!__atomic_load_n(&k->stop, __ATOMIC_RELAXED)) {
		virtio_mmio_queue_notify(k->g->t, 0);
		(void) vg_rd(k->g, VIRTIO_MMIO_INTERRUPT_STATUS);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct vg_rng_fixture *f = *state;
	struct vg *g = &f->g;
	struct kicker k = { .g = g };
	pthread_t threads[3];
	enum { N = 2000 };
	uint64_t buf = vg_alloc(g, 8);

	vg_start(g, 256);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, kick_loop, &k), 0);
	for (unsigned i = 0; i < N; i++) {
		struct vg_buf b = { buf, 8, true };

		/* keep at most 128 outstanding, like a driver with a full ring */
		while ((uint16_t) (g->q[0].avail_idx - vg_used_idx(g, 0)) >= 128)
			;
		vg_add_chain(g, 0, &b, 1);
		if (i % 7 == 0)
			vg_kick(g, 0);
	}
	vg_kick(g, 0);
	__atomic_store_n(&k.stop, true, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);
	assert_int_equal(vg_used_idx(g, 0), (uint16_t) N);
	assert_int_equal(vg_stats(g).requests, N);
	assert_int_equal(vg_stats(g).errors, 0);
	/* every used entry names a descriptor, each with 8 bytes */
	for (unsigned i = 0; i < 256; i++) {
		uint32_t id, len;

		vg_used(g, 0, (uint16_t) i, &id, &len);
		assert_true(id < 256);
		assert_int_equal(len, 8);
	}
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, vg_rng_setup, vg_rng_teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_linux_probe),
		T(test_features_need_version_1),
		T(test_features_unoffered_refused),
		T(test_status_bits_sticky),
		T(test_reset),
		T(test_queue_num_checked),
		T(test_queue_rings_checked),
		T(test_queue_frozen_while_ready),
		T(test_bad_accesses),
		T(test_interrupt_suppressed),
		T(test_early_kick),
		T(test_notify_api),
		cmocka_unit_test(test_new_refuses),
		T(test_concurrent),
	};
#undef T

	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
