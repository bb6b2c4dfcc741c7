/* SPDX-License-Identifier: MIT */
#include "tests/unit/virtio_guest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void *vg_gpa_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
	struct vg *g = opaque;

	assert_true(len > 0);   /* the contract: never asked for 0 bytes */
	if (gpa > VG_RAM_SIZE || len > VG_RAM_SIZE - gpa)
		return NULL;
	return g->ram + gpa;
}

static void vg_notify_irq(void *opaque)
{
	struct vg *g = opaque;

	__atomic_add_fetch(&g->irqs, 1, __ATOMIC_RELAXED);
}

void vg_init(struct vg *g)
{
	memset(g, 0, sizeof(*g));
	g->ram = aligned_alloc(4096, VG_RAM_SIZE);
	assert_non_null(g->ram);
	memset(g->ram, 0, VG_RAM_SIZE);
	g->env = (struct virtio_env) { .gpa_ptr = vg_gpa_ptr, .notify_irq = vg_notify_irq, .opaque = g };
	g->heap = VG_HEAP_BASE;
}

void vg_fini(struct vg *g)
{
	free(g->ram);
	g->ram = NULL;
}

void *vg_host(struct vg *g, uint64_t gpa)
{
	assert_true(gpa < VG_RAM_SIZE);
	return g->ram + gpa;
}

uint64_t vg_alloc(struct vg *g, uint32_t len)
{
	uint64_t gpa = g->heap;

	assert_true(len <= VG_RAM_SIZE - gpa);
	g->heap = (gpa + len + 15) & ~15ULL;
	memset(g->ram + gpa, 0, len);
	return gpa;
}

uint32_t vg_rd(struct vg *g, uint64_t offset)
{
	uint8_t data[4] = { 0xee, 0xee, 0xee, 0xee };
	uint32_t v;

	assert_int_equal(virtio_mmio_io(g->t, offset, data, 4, false), 0);
	memcpy(&v, data, 4);
	return v;
}

void vg_wr(struct vg *g, uint64_t offset, uint32_t value)
{
	uint8_t data[4];

	memcpy(data, &value, 4);
	assert_int_equal(virtio_mmio_io(g->t, offset, data, 4, true), 0);
}

uint32_t vg_negotiate(struct vg *g, uint64_t accept)
{
	uint64_t offer;
	uint32_t status;

	assert_int_equal(vg_rd(g, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_VERSION_REG), 2);
	vg_wr(g, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0);
	status = VIRTIO_STATUS_ACKNOWLEDGE;
	vg_wr(g, VIRTIO_MMIO_STATUS, status);
	status |= VIRTIO_STATUS_DRIVER;
	vg_wr(g, VIRTIO_MMIO_STATUS, status);

	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offer = (uint64_t) vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offer |= vg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES);

	accept &= offer;
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) (accept >> 32));
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) accept);

	status |= VIRTIO_STATUS_FEATURES_OK;
	vg_wr(g, VIRTIO_MMIO_STATUS, status);
	return vg_rd(g, VIRTIO_MMIO_STATUS);
}

uint32_t vg_setup_queue(struct vg *g, unsigned q, uint32_t num)
{
	struct vg_queue *vq = &g->q[q];
	uint64_t base = VG_RING_BASE + (uint64_t) q * VG_RING_STRIDE;

	assert_true(q < VG_MAX_QUEUES);
	memset(g->ram + base, 0, VG_RING_STRIDE);
	*vq = (struct vg_queue) { .num = num, .desc = base, .avail = base + 0x1000, .used = base + 0x2000 };

	vg_wr(g, VIRTIO_MMIO_QUEUE_SEL, q);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	vg_wr(g, VIRTIO_MMIO_QUEUE_NUM, num);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t) vq->desc);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t) (vq->desc >> 32));
	vg_wr(g, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t) vq->avail);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t) (vq->avail >> 32));
	vg_wr(g, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t) vq->used);
	vg_wr(g, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t) (vq->used >> 32));
	vg_wr(g, VIRTIO_MMIO_QUEUE_READY, 1);
	return vg_rd(g, VIRTIO_MMIO_QUEUE_READY);
}

void vg_driver_ok(struct vg *g)
{
	vg_wr(g, VIRTIO_MMIO_STATUS, vg_rd(g, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

void vg_start(struct vg *g, uint32_t num)
{
	unsigned n = virtio_mmio_num_queues(g->t);

	assert_int_equal(vg_negotiate(g, ~0ULL), 0x0b);
	for (unsigned q = 0; q < n; q++)
		assert_int_equal(vg_setup_queue(g, q, num), 1);
	vg_driver_ok(g);
	assert_int_equal(vg_rd(g, VIRTIO_MMIO_STATUS), 0x0f);
}

void vg_set_desc(struct vg *g, unsigned q, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = vg_host(g, g->q[q].desc + 16 * (uint64_t) idx);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

void vg_set_avail_idx(struct vg *g, unsigned q, uint16_t idx)
{
	__atomic_store_n((uint16_t *) vg_host(g, g->q[q].avail + 2), idx, __ATOMIC_RELEASE);
}

void vg_set_avail_flags(struct vg *g, unsigned q, uint16_t flags)
{
	__atomic_store_n((uint16_t *) vg_host(g, g->q[q].avail), flags, __ATOMIC_RELEASE);
}

void vg_publish(struct vg *g, unsigned q, uint16_t head)
{
	struct vg_queue *vq = &g->q[q];
	uint16_t *slot = vg_host(g, vq->avail + 4 + 2 * (uint64_t) (vq->avail_idx % vq->num));

	*slot = head;
	vq->avail_idx++;
	vg_set_avail_idx(g, q, vq->avail_idx);
}

static uint16_t take_desc(struct vg_queue *vq)
{
	uint16_t idx = vq->next_desc;

	vq->next_desc = (uint16_t) ((vq->next_desc + 1) % vq->num);
	return idx;
}

uint16_t vg_add_chain(struct vg *g, unsigned q, const struct vg_buf *bufs, unsigned n)
{
	struct vg_queue *vq = &g->q[q];
	uint16_t head = vq->next_desc;
	uint16_t idx = take_desc(vq);

	assert_true(n > 0 && n <= vq->num);
	for (unsigned i = 0; i < n; i++) {
		bool last = i + 1 == n;
		uint16_t next = last ? 0 : take_desc(vq);
		uint16_t flags = (bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT);

		vg_set_desc(g, q, idx, bufs[i].gpa, bufs[i].len, flags, next);
		idx = next;
	}
	vg_publish(g, q, head);
	return head;
}

uint16_t vg_add_indirect(struct vg *g, unsigned q, const struct vg_buf *bufs, unsigned n)
{
	struct vg_queue *vq = &g->q[q];
	uint64_t table = vg_alloc(g, 16 * n);
	uint16_t head = take_desc(vq);

	for (unsigned i = 0; i < n; i++) {
		uint8_t *d = vg_host(g, table + 16 * (uint64_t) i);
		uint32_t len = bufs[i].len;
		uint16_t flags = (bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		uint16_t next = (uint16_t) (i + 1 < n ? i + 1 : 0);

		memcpy(d, &bufs[i].gpa, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
	}
	vg_set_desc(g, q, head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	vg_publish(g, q, head);
	return head;
}

void vg_kick(struct vg *g, unsigned q)
{
	vg_wr(g, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

uint16_t vg_used_idx(struct vg *g, unsigned q)
{
	return __atomic_load_n((uint16_t *) vg_host(g, g->q[q].used + 2), __ATOMIC_ACQUIRE);
}

void vg_used(struct vg *g, unsigned q, uint16_t i, uint32_t *ret_id, uint32_t *ret_len)
{
	const uint8_t *e = vg_host(g, g->q[q].used + 4 + 8 * (uint64_t) (i % g->q[q].num));

	memcpy(ret_id, e, 4);
	memcpy(ret_len, e + 4, 4);
}

struct virtio_mmio_stats vg_stats(struct vg *g)
{
	struct virtio_mmio_stats s;

	virtio_mmio_get_stats(g->t, &s);
	return s;
}

int vg_rng_setup(void **state)
{
	struct vg_rng_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	vg_init(&f->g);
	if (virtio_rng_new(&f->g.env, &f->rng) < 0)
		return -1;
	f->g.t = virtio_rng_mmio(f->rng);
	*state = f;
	return 0;
}

int vg_rng_teardown(void **state)
{
	struct vg_rng_fixture *f = *state;

	virtio_rng_free(f->rng);
	vg_fini(&f->g);
	free(f);
	return 0;
}
