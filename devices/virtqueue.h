/* SPDX-License-Identifier: MIT */
/*
 * One split virtqueue (virtio 1.2 section 2.7), device side: take descriptor
 * chains from the available ring as lists of host segments, give them back
 * through the used ring. The rings live in guest memory and the guest is
 * hostile, so this is where the checks are:
 *  - every descriptor is copied to the host before it is looked at, and each
 *    ring index is read once: the guest may rewrite them while we decide;
 *  - queue size, ring alignment and ring placement are checked on enable;
 *  - an available index more than the queue size ahead, a head or next index
 *    out of range, a chain longer than its table (which catches loops), a
 *    buffer not wholly in guest RAM, an indirect table that is empty, not a
 *    multiple of 16 bytes, longer than VIRTQ_MAX_INDIRECT entries, nested,
 *    chained, not at the head, or not negotiated, and a device-readable
 *    buffer after a device-writable one all break the queue: it refuses
 *    every later pop until it is enabled again, and the transport sets
 *    DEVICE_NEEDS_RESET;
 *  - our own used index is the truth; the guest's copy is never read back.
 * VIRTIO_RING_F_EVENT_IDX is not implemented: the driver always kicks and
 * the device honours VRING_AVAIL_F_NO_INTERRUPT only.
 * Not thread-safe: the transport serializes all calls on one queue.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio.h"

#define VIRTQ_MAX_SIZE     256    /* largest queue size offered (QueueNumMax) */
#define VIRTQ_MAX_INDIRECT 256    /* entries in one indirect table */
#define VIRTQ_MAX_SEGS     256    /* segments in one chain: max(queue size, indirect table) */

#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* A guest buffer, translated and bounds-checked. Zero-length descriptors
 * give no segment. */
struct virtq_seg {
	uint8_t *ptr;
	uint32_t len;
};

struct virtq_chain {
	uint16_t head;          /* what virtq_push() gives back */
	unsigned n_out;         /* device-readable segments: seg[0 .. n_out) */
	unsigned n_in;          /* device-writable segments: seg[n_out .. n_out + n_in) */
	uint64_t out_bytes;     /* total readable bytes */
	uint64_t in_bytes;      /* total writable bytes */
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

/* Counters the queue and its device keep; the transport adds them up. */
struct virtq_stats {
	uint64_t requests;        /* chains given back (virtq_push) */
	uint64_t bytes_read;      /* payload the device took from guest buffers */
	uint64_t bytes_written;   /* payload the device put into guest buffers */
	uint64_t request_errors;  /* requests answered with an error status */
	uint64_t errors;          /* driver errors: malformed chains, bad rings */
};

struct virtq {
	/* Set by the transport (the driver's register values) before enable. */
	const struct virtio_env *env;
	uint32_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool indirect_ok;       /* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	bool ready;             /* enabled (virtq_enable succeeded) */
	bool broken;            /* a driver error seen since enable: no more pops */
	struct virtq_stats stats;

	/* Ring state, private to virtqueue.c. */
	uint8_t *desc, *avail, *used;   /* valid during one pass only */
	uint16_t last_avail;            /* next available entry to take */
	uint16_t avail_seen;            /* the guest's available index last read */
	uint16_t used_idx;              /* our used index, never read back */
	uint32_t budget;                /* pops left in this pass */
	bool pushed;                    /* used entries since virtq_should_notify */
};

/*
 * Checks the driver's setup and starts the queue from index 0: -EINVAL for a
 * size that is 0, above VIRTQ_MAX_SIZE or not a power of two, or misaligned
 * rings (descriptors 16, available ring 2, used ring 4 bytes); -EFAULT when a
 * ring is not wholly in guest RAM. On failure the queue stays disabled.
 */
int virtq_enable(struct virtq *vq);
/* Stops the queue; the driver's size and addresses stay, as do the stats. */
void virtq_disable(struct virtq *vq);

/*
 * Starts one processing pass: maps the rings again and allows at most one
 * queue's worth of pops, so a guest that keeps posting cannot hold the
 * device forever (it kicks again, and the next pass takes the rest).
 * -EIO when the queue is not ready or is broken, -EFAULT (and broken) when a
 * ring has left guest RAM.
 */
int virtq_begin(struct virtq *vq);

/*
 * Takes the next available chain: 1 and *ret filled, 0 when none is
 * available or the pass budget is spent, or a negative errno when the ring
 * or chain is malformed (the queue is then broken and the error counted).
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *ret);
/* Puts back the chain the last virtq_pop() took, unanswered (the device
 * cannot take it now and will retry on a later pass). */
void virtq_unpop(struct virtq *vq);
/* Gives a popped chain back with `len` bytes written into its writable
 * buffers. -EINVAL when the queue is not ready or head is out of range. */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Marks the queue broken for a driver error the device found (a request
 * with no room for its status, for example), counting it. */
void virtq_fail(struct virtq *vq);

/* Whether chains were given back since the last call and the driver has not
 * asked for no interrupts. Clears the "given back" state. */
bool virtq_should_notify(struct virtq *vq);

/* Copy between the host and a chain, at a byte offset into its readable
 * (read) or writable (write) buffers. Return the bytes copied, less than len
 * when the chain ends first. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, size_t len);

/* The readable or writable bytes [offset, offset+len) of a chain as at most
 * VIRTQ_MAX_SEGS iovecs in iov; returns how many, stopping early when the
 * chain ends first. */
unsigned virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
			 struct iovec *iov);
