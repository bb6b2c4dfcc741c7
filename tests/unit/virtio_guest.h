/* SPDX-License-Identifier: MIT */
/*
 * A fake guest for the virtio unit tests: guest RAM in a malloc'd buffer
 * (gpa 0 .. VG_RAM_SIZE, with the bounds check the worker's gpa_ptr does),
 * an interrupt counter, and the driver side of virtio-mmio and split rings,
 * driven the way Linux's virtio_mmio and virtio_ring drivers drive them. The
 * raw helpers (vg_set_desc, vg_publish) let tests build malformed rings.
 * Failures are cmocka assertions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio_mmio.h"
#include "devices/virtio_rng.h"

#define VG_RAM_SIZE   (8u << 20)
#define VG_RING_BASE  0x10000u        /* queue q's rings at VG_RING_BASE + q * VG_RING_STRIDE */
#define VG_RING_STRIDE 0x4000u
#define VG_HEAP_BASE  0x100000u       /* buffers from here up */
#define VG_MAX_QUEUES 8

struct vg_queue {
	uint32_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx;             /* the driver's next available index */
	uint16_t next_desc;             /* next descriptor to hand out, mod num */
};

struct vg {
	uint8_t *ram;
	struct virtio_env env;
	struct virtio_mmio *t;
	unsigned irqs;                  /* notify_irq calls */
	uint64_t heap;
	struct vg_queue q[VG_MAX_QUEUES];
};

/* One buffer of a chain. */
struct vg_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;                     /* device-writable */
};

void vg_init(struct vg *g);
void vg_fini(struct vg *g);

/* The cmocka fixture of the tests that drive a virtio-rng (the simplest
 * device, so the transport tests use it too): *state is one of these. */
struct vg_rng_fixture {
	struct vg g;
	struct virtio_rng *rng;
	uint64_t scratch;       /* a test's own guest buffer, 0 until it allocates one */
};
int vg_rng_setup(void **state);
int vg_rng_teardown(void **state);

void *vg_host(struct vg *g, uint64_t gpa);
/* A zeroed buffer of len bytes, 16-aligned, from the bump heap. */
uint64_t vg_alloc(struct vg *g, uint32_t len);

/* Register access through virtio_mmio_io; a failed access fails the test. */
uint32_t vg_rd(struct vg *g, uint64_t offset);
void vg_wr(struct vg *g, uint64_t offset, uint32_t value);

/* Linux's probe up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, read the
 * offer, accept offer & accept, FEATURES_OK. Returns the status read back. */
uint32_t vg_negotiate(struct vg *g, uint64_t accept);
/* Linux's vm_setup_vq for queue q with num entries at the fixed layout;
 * returns QueueReady read back. */
uint32_t vg_setup_queue(struct vg *g, unsigned q, uint32_t num);
void vg_driver_ok(struct vg *g);
/* All of it: negotiate (accepting everything offered), every queue with
 * num entries, DRIVER_OK; asserts status 0x0f. */
void vg_start(struct vg *g, uint32_t num);

/* Writes descriptor idx of queue q as is. */
void vg_set_desc(struct vg *g, unsigned q, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next);
/* Puts head in the next available slot and publishes it (avail idx + 1). */
void vg_publish(struct vg *g, unsigned q, uint16_t head);
void vg_set_avail_idx(struct vg *g, unsigned q, uint16_t idx);
void vg_set_avail_flags(struct vg *g, unsigned q, uint16_t flags);
/* A well-formed chain from consecutive descriptors, published; returns the head. */
uint16_t vg_add_chain(struct vg *g, unsigned q, const struct vg_buf *bufs, unsigned n);
/* One descriptor pointing at an indirect table holding bufs, published. */
uint16_t vg_add_indirect(struct vg *g, unsigned q, const struct vg_buf *bufs, unsigned n);
void vg_kick(struct vg *g, unsigned q);

uint16_t vg_used_idx(struct vg *g, unsigned q);
/* Used ring entry i (mod num). */
void vg_used(struct vg *g, unsigned q, uint16_t i, uint32_t *ret_id, uint32_t *ret_len);

struct virtio_mmio_stats vg_stats(struct vg *g);
