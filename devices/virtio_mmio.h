/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio transport (virtio 1.2 section 4.2, register layout version
 * 2, "modern" only): the 0x200-byte register file a Linux guest finds with
 * virtio_mmio.device=512@BASE:IRQ, feature negotiation, queue setup and the
 * interrupt status. A device model (virtio_blk.c, ...) describes itself with
 * a struct virtio_mmio_device and processes its queues when asked; the
 * transport owns the queues, the locking and the interrupt.
 *
 * Rules the transport enforces on the driver: VIRTIO_F_VERSION_1 must be
 * accepted and no unoffered feature may be (else FEATURES_OK is refused);
 * DRIVER_OK needs FEATURES_OK; queue registers are frozen while the queue
 * is ready; a queue that is enabled with a bad size or bad rings, or whose
 * rings or chains turn out malformed, sets DEVICE_NEEDS_RESET and raises a
 * configuration-change interrupt; the device then does nothing until the
 * driver resets it (status 0). Such errors are counted, never logged.
 *
 * Thread safety: one mutex per transport; virtio_mmio_io (vCPU threads),
 * virtio_mmio_queue_notify and the devices' host-side input (worker thread)
 * may race. Device queue processing runs with the mutex held; the interrupt
 * callback and the device's `unlocked` hook run after it is dropped.
 * virtio_mmio_free must not race with any other call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "devices/virtqueue.h"

#define VIRTIO_MMIO_SIZE         0x200
#define VIRTIO_MMIO_MAGIC        0x74726976      /* "virt" */
#define VIRTIO_MMIO_VERSION      2
#define VIRTIO_MMIO_VENDOR_ID    0x646d6d76      /* "vmmd" */
#define VIRTIO_MMIO_MAX_QUEUES   8
#define VIRTIO_MMIO_CONFIG_MAX   0x100

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION_REG         0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID_REG       0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050   /* the worker's ioeventfd goes here */
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING  0x1
#define VIRTIO_MMIO_INT_CONFIG 0x2

/* What a device model tells the transport about itself. */
struct virtio_mmio_device {
	uint32_t device_id;
	unsigned num_queues;            /* 1 .. VIRTIO_MMIO_MAX_QUEUES */
	/* Device-specific feature bits offered; the transport adds
	 * VIRTIO_F_VERSION_1 and VIRTIO_RING_F_INDIRECT_DESC. */
	uint64_t features;
	/* Config space image, little-endian, copied; the driver reads it at
	 * 0x100. Reads outside [0, config_size) return 0; writes are ignored. */
	const void *config;
	size_t config_size;             /* at most VIRTIO_MMIO_CONFIG_MAX */

	/*
	 * Take what the driver made available on `queue` (virtq_pop ...
	 * virtq_push). Called with the transport mutex held, only while the
	 * driver is DRIVER_OK and the queue is ready, at most once at a time per
	 * transport. A negative errno (or virtq_fail) says the driver broke the
	 * protocol: the transport sets DEVICE_NEEDS_RESET.
	 */
	int (*process)(void *opaque, unsigned queue, struct virtq *vq);
	/* Optional: called after processing with the mutex dropped, on the same
	 * thread, for work that must not hold it (calling an output sink). */
	void (*unlocked)(void *opaque);
	/* Optional: the driver reset the device (mutex held). */
	void (*reset)(void *opaque);
	void *opaque;
};

struct virtio_mmio_stats {
	uint64_t notifications;   /* queue notifications (QueueNotify writes, virtio_mmio_queue_notify) */
	uint64_t interrupts;      /* notify_irq calls */
	uint64_t requests;        /* chains completed into the used rings */
	uint64_t bytes_read;      /* payload taken from guest buffers (blk writes, console output) */
	uint64_t bytes_written;   /* payload put into guest buffers (blk reads, rng, console input) */
	uint64_t request_errors;  /* requests answered with an error status (I/O error, refused, unsupported) */
	uint64_t errors;          /* driver errors: malformed chains or rings, bad setup, bad register access */
	bool needs_reset;         /* DEVICE_NEEDS_RESET is set now */
};

struct virtio_mmio;

/* env and dev are copied (with the config image). -EINVAL: missing
 * callbacks, no queues or too many, config too large; -ENOMEM. */
int virtio_mmio_new(const struct virtio_env *env, const struct virtio_mmio_device *dev,
		    struct virtio_mmio **ret);
void virtio_mmio_free(struct virtio_mmio *t);

/* bus_io_fn for the VIRTIO_MMIO_SIZE region. Registers below 0x100 take
 * aligned 4-byte accesses only (others: -EINVAL, reads give 0); the config
 * space takes 1, 2, 4 and 8 bytes. A QueueNotify write processes the queue. */
int virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

/* The guest notified `queue` (the worker's ioeventfd on QueueNotify fired):
 * process it. 0, or -EINVAL when queue >= virtio_mmio_num_queues(). Driver
 * errors show in the stats, not here. */
int virtio_mmio_queue_notify(struct virtio_mmio *t, unsigned queue);

/* The device has something for `queue` (host input arrived): process it,
 * as for a notification, without counting one. For device models. */
int virtio_mmio_queue_process(struct virtio_mmio *t, unsigned queue);

unsigned virtio_mmio_num_queues(const struct virtio_mmio *t);
void virtio_mmio_get_stats(struct virtio_mmio *t, struct virtio_mmio_stats *ret);
