/* SPDX-License-Identifier: MIT */
/*
 * virtio-console, one port. Lock order: the transport's mutex, then ours
 * (which guards the input ring and the output buffer). Queue processing
 * runs under both; the tx callback under neither.
 *
 * Output is double-buffered: the transmit handler copies guest bytes into
 * tx_buf and gives the buffers back at once; the unlocked hook swaps tx_buf
 * with tx_out and calls tx. One thread at a time delivers (`draining`),
 * looping until nothing is left, so output keeps its order whichever thread
 * produced it, and a tx that comes back into the device finds the delivery
 * already under way instead of a lock it holds. When tx_buf is full the
 * handler leaves the next chain in the ring (`tx_stalled`) and the deliverer
 * processes the queue again once it has made room.
 */
#include "devices/virtio_console.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Config space: le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr;
 * no feature makes any of it meaningful, so it reads as zeros. */
#define CONFIG_SIZE 12

struct virtio_console {
	struct virtio_mmio *mmio;
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;

	pthread_mutex_t lock;
	uint8_t rx[VIRTIO_CONSOLE_RX_BUF];
	size_t rx_head, rx_len;
	uint8_t *tx_buf;                /* filled by the transmit handler */
	uint8_t *tx_out;                /* the deliverer's, while it calls tx */
	size_t tx_len;
	bool tx_stalled;
	bool draining;
	struct virtq_chain chain;       /* scratch: the transport serializes processing */
};

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* --- receive: host input into the guest's posted buffers ------------------------ */

static int rx_process(struct virtio_console *c, struct virtq *vq)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	while (c->rx_len > 0 && (r = virtq_pop(vq, &c->chain)) > 0) {
		size_t n = (size_t) min_size(c->rx_len, c->chain.in_bytes);
		size_t first = min_size(n, VIRTIO_CONSOLE_RX_BUF - c->rx_head);

		virtq_chain_write(&c->chain, 0, c->rx + c->rx_head, first);
		virtq_chain_write(&c->chain, first, c->rx, n - first);
		c->rx_head = (c->rx_head + n) % VIRTIO_CONSOLE_RX_BUF;
		c->rx_len -= n;
		vq->stats.bytes_written += n;
		r = virtq_push(vq, c->chain.head, (uint32_t) n);
		if (r < 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	return r < 0 ? r : 0;
}

int virtio_console_input(struct virtio_console *c, const uint8_t *buf, size_t len)
{
	size_t accepted = 0;

	if (!c || (!buf && len > 0))
		return -EINVAL;
	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		size_t n, tail, first, left;

		pthread_mutex_lock(&c->lock);
		n = min_size(len - accepted, VIRTIO_CONSOLE_RX_BUF - c->rx_len);
		tail = (c->rx_head + c->rx_len) % VIRTIO_CONSOLE_RX_BUF;
		first = min_size(n, VIRTIO_CONSOLE_RX_BUF - tail);
		if (n > 0) {
			memcpy(c->rx + tail, buf + accepted, first);
			memcpy(c->rx, buf + accepted + first, n - first);
		}
		c->rx_len += n;
		accepted += n;
		left = c->rx_len;
		pthread_mutex_unlock(&c->lock);

		virtio_mmio_queue_process(c->mmio, VIRTIO_CONSOLE_QUEUE_RX);
		if (accepted == len)
			break;
		/* Delivery made room: take more of the input; otherwise stop. */
		pthread_mutex_lock(&c->lock);
		n = c->rx_len;
		pthread_mutex_unlock(&c->lock);
		if (n >= left)
			break;
	}
	return (int) accepted;
}

size_t virtio_console_rx_room(struct virtio_console *c)
{
	size_t room;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	room = VIRTIO_CONSOLE_RX_BUF - c->rx_len;
	pthread_mutex_unlock(&c->lock);
	return room;
}

/* --- transmit: guest output to the tx callback ---------------------------------- */

static int tx_process(struct virtio_console *c, struct virtq *vq)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		size_t room = VIRTIO_CONSOLE_TX_BUF - c->tx_len;
		size_t n;

		if (room == 0) {
			c->tx_stalled = true;
			break;
		}
		r = virtq_pop(vq, &c->chain);
		if (r <= 0)
			break;
		if (c->chain.out_bytes > room && c->tx_len > 0) {
			virtq_unpop(vq);
			c->tx_stalled = true;
			r = 0;
			break;
		}
		n = min_size(c->chain.out_bytes, room);
		virtq_chain_read(&c->chain, 0, c->tx_buf + c->tx_len, n);
		c->tx_len += n;
		vq->stats.bytes_read += n;
		if (n < c->chain.out_bytes)
			vq->stats.request_errors++;     /* one buffer over VIRTIO_CONSOLE_TX_BUF: cut */
		r = virtq_push(vq, c->chain.head, 0);
		if (r < 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	return r < 0 ? r : 0;
}

static void console_unlocked(void *opaque)
{
	struct virtio_console *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (c->draining) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->draining = true;
	for (;;) {
		if (c->tx_len > 0) {
			uint8_t *out = c->tx_buf;
			size_t n = c->tx_len;

			c->tx_buf = c->tx_out;
			c->tx_out = out;
			c->tx_len = 0;
			pthread_mutex_unlock(&c->lock);
			if (c->tx)
				c->tx(c->opaque, out, n);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (c->tx_stalled) {
			c->tx_stalled = false;
			pthread_mutex_unlock(&c->lock);
			virtio_mmio_queue_process(c->mmio, VIRTIO_CONSOLE_QUEUE_TX);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		break;
	}
	c->draining = false;
	pthread_mutex_unlock(&c->lock);
}

static int console_process(void *opaque, unsigned queue, struct virtq *vq)
{
	struct virtio_console *c = opaque;

	return queue == VIRTIO_CONSOLE_QUEUE_RX ? rx_process(c, vq) : tx_process(c, vq);
}

/* --- life ------------------------------------------------------------------------- */

int virtio_console_new(const struct virtio_env *env,
		       void (*tx)(void *opaque, const uint8_t *buf, size_t len), void *opaque,
		       struct virtio_console **ret)
{
	static const uint8_t config[CONFIG_SIZE];
	struct virtio_mmio_device dev = {
		.device_id = VIRTIO_ID_CONSOLE,
		.num_queues = 2,
		.config = config,
		.config_size = sizeof(config),
		.process = console_process,
		.unlocked = console_unlocked,
	};
	struct virtio_console *c;
	int r;

	if (!env || !ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tx = tx;
	c->opaque = opaque;
	c->tx_buf = malloc(VIRTIO_CONSOLE_TX_BUF);
	c->tx_out = malloc(VIRTIO_CONSOLE_TX_BUF);
	if (!c->tx_buf || !c->tx_out) {
		r = -ENOMEM;
		goto err_free;
	}
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		r = -ENOMEM;
		goto err_free;
	}
	dev.opaque = c;
	r = virtio_mmio_new(env, &dev, &c->mmio);
	if (r < 0)
		goto err_mutex;
	*ret = c;
	return 0;

err_mutex:
	pthread_mutex_destroy(&c->lock);
err_free:
	free(c->tx_buf);
	free(c->tx_out);
	free(c);
	return r;
}

void virtio_console_free(struct virtio_console *c)
{
	if (!c)
		return;
	virtio_mmio_free(c->mmio);
	pthread_mutex_destroy(&c->lock);
	free(c->tx_buf);
	free(c->tx_out);
	free(c);
}

struct virtio_mmio *virtio_console_mmio(struct virtio_console *c)
{
	return c ? c->mmio : NULL;
}
