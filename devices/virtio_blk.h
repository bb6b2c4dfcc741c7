/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2 section 5.2) over an image the worker has opened:
 * one request queue; reads, writes, flush (fdatasync) and GET_ID, with
 * pread/pwrite at sector * 512. The capacity is the image's size in whole
 * 512-byte sectors, taken once at creation.
 *
 * Limits, advertised so that Linux stays inside them: at most
 * VIRTIO_BLK_SEG_MAX data segments of at most VIRTIO_BLK_SIZE_MAX bytes, and
 * any request carrying more than VIRTIO_BLK_MAX_REQUEST data bytes fails with
 * VIRTIO_BLK_S_IOERR, as do data lengths that are not whole sectors, sectors
 * beyond the capacity and, on a read-only device, writes. Unknown request
 * types get VIRTIO_BLK_S_UNSUPP. The request header is copied before it is
 * decided on; its layout across descriptors does not matter (any layout).
 * A request with no 16-byte header or no status byte is a driver error: the
 * queue breaks and the transport sets DEVICE_NEEDS_RESET.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "devices/virtio_mmio.h"

#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_MAX_REQUEST (1u << 20)    /* data bytes in one request */
#define VIRTIO_BLK_SEG_MAX     (VIRTQ_MAX_SEGS - 2)   /* header and status take two */
#define VIRTIO_BLK_SIZE_MAX    4096          /* so SEG_MAX * SIZE_MAX <= MAX_REQUEST */
#define VIRTIO_BLK_ID_BYTES    20
#define VIRTIO_BLK_SERIAL      "vmmd-blk"

/* Feature bits. */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_FLUSH    9

/* Request types and status values. */
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

/* Config space: le64 capacity at 0, le32 size_max at 8, le32 seg_max at 12. */
#define VIRTIO_BLK_CONFIG_SIZE 36

struct virtio_blk;

/* fd stays the caller's (never closed here); it must be seekable, and
 * writable unless readonly. -EINVAL, -ENOMEM, or lseek's errno. */
int virtio_blk_new(const struct virtio_env *env, int fd, bool readonly, struct virtio_blk **ret);
void virtio_blk_free(struct virtio_blk *b);

/* The transport to register on the bus (virtio_mmio_io) and notify. */
struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *b);
/* Capacity in 512-byte sectors. */
uint64_t virtio_blk_capacity(const struct virtio_blk *b);
