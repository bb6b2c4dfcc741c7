/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request handling. A request is a chain:
 *   readable:  struct { le32 type; le32 reserved; le64 sector; } then, for
 *              writes, the data;
 *   writable:  for reads the data, for GET_ID up to 20 bytes of serial, and
 *              always, as the last byte, the status.
 * Data moves with preadv/pwritev straight between the image and the guest
 * buffers (already translated and bounds-checked by the ring). The used
 * length is the bytes written into the guest: data read (or id) plus the
 * status byte.
 */
#include "devices/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define HEADER_SIZE 16

struct virtio_blk {
	int fd;
	bool readonly;
	uint64_t capacity;              /* sectors */
	struct virtio_mmio *mmio;
	struct virtq_chain chain;       /* scratch: the transport serializes processing */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* All of iov, retrying short transfers; -EIO at end of file (the image
 * shrank under us). */
static int transfer_all(int fd, struct iovec *iov, unsigned n, off_t offset, bool write)
{
	while (n > 0) {
		ssize_t r = write ? pwritev(fd, iov, (int) n, offset) : preadv(fd, iov, (int) n, offset);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		offset += r;
		while (n > 0 && (size_t) r >= iov->iov_len) {
			r -= (ssize_t) iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *) iov->iov_base + r;
			iov->iov_len -= (size_t) r;
		}
	}
	return 0;
}

/* Whether len data bytes at sector make a valid transfer. */
static bool transfer_ok(const struct virtio_blk *b, uint64_t sector, uint64_t len)
{
	if (len % VIRTIO_BLK_SECTOR_SIZE || len > VIRTIO_BLK_MAX_REQUEST)
		return false;
	return sector <= b->capacity && len / VIRTIO_BLK_SECTOR_SIZE <= b->capacity - sector;
}

static uint8_t do_read(struct virtio_blk *b, struct virtq *vq, const struct virtq_chain *c,
		       uint64_t sector, uint32_t *used)
{
	uint64_t len = c->in_bytes - 1;
	unsigned n;

	if (!transfer_ok(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	n = virtq_chain_iov(c, true, 0, len, b->iov);
	if (transfer_all(b->fd, b->iov, n, (off_t) (sector * VIRTIO_BLK_SECTOR_SIZE), false) < 0)
		return VIRTIO_BLK_S_IOERR;
	vq->stats.bytes_written += len;
	*used += (uint32_t) len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct virtio_blk *b, struct virtq *vq, const struct virtq_chain *c, uint64_t sector)
{
	uint64_t len = c->out_bytes - HEADER_SIZE;
	unsigned n;

	if (b->readonly || !transfer_ok(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	n = virtq_chain_iov(c, false, HEADER_SIZE, len, b->iov);
	if (transfer_all(b->fd, b->iov, n, (off_t) (sector * VIRTIO_BLK_SECTOR_SIZE), true) < 0)
		return VIRTIO_BLK_S_IOERR;
	vq->stats.bytes_read += len;
	return VIRTIO_BLK_S_OK;
}

/* The serial, NUL-padded to 20 bytes, cut to what the driver gave room for. */
static uint8_t do_get_id(struct virtq *vq, const struct virtq_chain *c, uint32_t *used)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	uint64_t room = c->in_bytes - 1;
	size_t n = room < sizeof(id) ? (size_t) room : sizeof(id);

	memcpy(id, VIRTIO_BLK_SERIAL, sizeof(VIRTIO_BLK_SERIAL) - 1);
	virtq_chain_write(c, 0, id, n);
	vq->stats.bytes_written += n;
	*used += (uint32_t) n;
	return VIRTIO_BLK_S_OK;
}

static int handle(struct virtio_blk *b, struct virtq *vq, const struct virtq_chain *c)
{
	uint8_t header[HEADER_SIZE];
	uint32_t type, used = 1;
	uint64_t sector;
	uint8_t status;

	if (c->out_bytes < HEADER_SIZE || c->in_bytes < 1) {
		virtq_fail(vq);
		return -EINVAL;
	}
	/* A host copy: the guest may rewrite its header while we work. */
	virtq_chain_read(c, 0, header, sizeof(header));
	memcpy(&type, header, 4);
	memcpy(&sector, header + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		status = do_read(b, vq, c, sector, &used);
		break;
	case VIRTIO_BLK_T_OUT:
		status = do_write(b, vq, c, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = fdatasync(b->fd) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		status = do_get_id(vq, c, &used);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (status != VIRTIO_BLK_S_OK)
		vq->stats.request_errors++;
	virtq_chain_write(c, c->in_bytes - 1, &status, 1);
	return virtq_push(vq, c->head, used);
}

static int blk_process(void *opaque, unsigned queue, struct virtq *vq)
{
	struct virtio_blk *b = opaque;
	int r;

	while ((r = virtq_pop(vq, &b->chain)) > 0) {
		r = handle(b, vq, &b->chain);
		if (r < 0)
			return r;
	}
	return r;
}

int virtio_blk_new(const struct virtio_env *env, int fd, bool readonly, struct virtio_blk **ret)
{
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE] = { 0 };
	struct virtio_mmio_device dev = {
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = 1,
		.features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			    VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | (readonly ? VIRTIO_BIT(VIRTIO_BLK_F_RO) : 0),
		.config = config,
		.config_size = sizeof(config),
		.process = blk_process,
	};
	struct virtio_blk *b;
	uint64_t capacity;
	uint32_t v32;
	off_t size;
	int r;

	if (!env || fd < 0 || !ret)
		return -EINVAL;
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	capacity = (uint64_t) size / VIRTIO_BLK_SECTOR_SIZE;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = fd;
	b->readonly = readonly;
	b->capacity = capacity;

	capacity = htole64(capacity);
	memcpy(config, &capacity, 8);
	v32 = htole32(VIRTIO_BLK_SIZE_MAX);
	memcpy(config + 8, &v32, 4);
	v32 = htole32(VIRTIO_BLK_SEG_MAX);
	memcpy(config + 12, &v32, 4);
	dev.opaque = b;

	r = virtio_mmio_new(env, &dev, &b->mmio);
	if (r < 0) {
		free(b);
		return r;
	}
	*ret = b;
	return 0;
}

void virtio_blk_free(struct virtio_blk *b)
{
	if (!b)
		return;
	virtio_mmio_free(b->mmio);
	free(b);
}

struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *b)
{
	return b ? b->mmio : NULL;
}

uint64_t virtio_blk_capacity(const struct virtio_blk *b)
{
	return b ? b->capacity : 0;
}
