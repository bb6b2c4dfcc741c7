/* SPDX-License-Identifier: MIT */
/*
 * What the virtio pieces share: the numbers from the virtio 1.2 spec that
 * the transport, the ring and the device models all use (device IDs, status
 * bits, transport feature bits), and the environment a device is handed.
 * The environment is a struct of callbacks because the devices library must
 * not know the worker: it gets guest-memory translation and an interrupt
 * sink, and nothing else of the VM, so every model is unit-testable with a
 * malloc'd "guest RAM".
 */
#pragma once

#include <stdint.h>

/* Device IDs (virtio 1.2 section 5). */
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

/* Feature bit numbers reserved for the transport and the ring (6). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

#define VIRTIO_BIT(n) (1ULL << (n))

struct virtio_env {
	/* Host pointer for guest-physical [gpa, gpa+len), NULL when any byte
	 * lies outside guest RAM. Never asked for len 0. The pointer must stay
	 * valid at least until the device call that asked for it returns. */
	void *(*gpa_ptr)(void *opaque, uint64_t gpa, uint64_t len);
	/* Raise the device's interrupt (edge: the worker writes an irqfd).
	 * Never called with a device lock held; may be called from any thread
	 * that drives the device. */
	void (*notify_irq)(void *opaque);
	void *opaque;
};
