/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng: random bytes straight into the guest's buffers. getrandom
 * without flags never blocks once the kernel's pool is initialised (it is,
 * long before a VM starts) and returns short only when a signal interrupts
 * it, which is retried.
 */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

struct virtio_rng {
	struct virtio_mmio *mmio;
	struct virtq_chain chain;       /* scratch: the transport serializes processing */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Fills iov; the bytes written, or -errno. */
static ssize_t fill(const struct iovec *iov, unsigned n)
{
	size_t done = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t off = 0;

		while (off < iov[i].iov_len) {
			ssize_t r = getrandom((uint8_t *) iov[i].iov_base + off, iov[i].iov_len - off, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			off += (size_t) r;
		}
		done += off;
	}
	return (ssize_t) done;
}

static int rng_process(void *opaque, unsigned queue, struct virtq *vq)
{
	struct virtio_rng *rng = opaque;
	int r;

	while ((r = virtq_pop(vq, &rng->chain)) > 0) {
		uint64_t len = rng->chain.in_bytes < VIRTIO_RNG_MAX_REQUEST ? rng->chain.in_bytes
									: VIRTIO_RNG_MAX_REQUEST;
		unsigned n = virtq_chain_iov(&rng->chain, true, 0, len, rng->iov);
		ssize_t filled = fill(rng->iov, n);

		if (filled < 0) {
			vq->stats.request_errors++;
			filled = 0;
		}
		vq->stats.bytes_written += (uint64_t) filled;
		r = virtq_push(vq, rng->chain.head, (uint32_t) filled);
		if (r < 0)
			return r;
	}
	return r;
}

int virtio_rng_new(const struct virtio_env *env, struct virtio_rng **ret)
{
	struct virtio_mmio_device dev = {
		.device_id = VIRTIO_ID_RNG,
		.num_queues = 1,
		.process = rng_process,
	};
	struct virtio_rng *rng;
	int r;

	if (!env || !ret)
		return -EINVAL;
	rng = calloc(1, sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	dev.opaque = rng;
	r = virtio_mmio_new(env, &dev, &rng->mmio);
	if (r < 0) {
		free(rng);
		return r;
	}
	*ret = rng;
	return 0;
}

void virtio_rng_free(struct virtio_rng *rng)
{
	if (!rng)
		return;
	virtio_mmio_free(rng->mmio);
	free(rng);
}

struct virtio_mmio *virtio_rng_mmio(struct virtio_rng *rng)
{
	return rng ? rng->mmio : NULL;
}
