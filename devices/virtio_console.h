/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (virtio 1.2 section 5.3) with one port and no features
 * (no MULTIPORT, no SIZE): queue 0 is receiveq (host to guest), queue 1
 * transmitq (guest to host). Linux names it hvc0.
 *
 * Output: bytes the guest transmits are copied out of its buffers (at most
 * VIRTIO_CONSOLE_TX_BUF at a time: the transmit queue waits while they are
 * delivered) and handed to the tx callback with no lock held, in order, on
 * whichever thread is driving the device; tx may call back into the device
 * (an echo). A single buffer larger than VIRTIO_CONSOLE_TX_BUF is cut, the
 * rest counted as an error.
 * Input: virtio_console_input() fills the receive buffers the guest posted;
 * when there are none it keeps up to VIRTIO_CONSOLE_RX_BUF bytes and delivers
 * them when the guest posts buffers. Input survives a device reset.
 * virtio_console_free must not race with any other call.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"
#include "devices/virtio_mmio.h"

#define VIRTIO_CONSOLE_RX_BUF 4096
#define VIRTIO_CONSOLE_TX_BUF 65536
#define VIRTIO_CONSOLE_QUEUE_RX 0
#define VIRTIO_CONSOLE_QUEUE_TX 1

struct virtio_console;

/* tx may be NULL (output is dropped). -EINVAL, -ENOMEM. */
int virtio_console_new(const struct virtio_env *env,
		       void (*tx)(void *opaque, const uint8_t *buf, size_t len), void *opaque,
		       struct virtio_console **ret);
void virtio_console_free(struct virtio_console *c);

struct virtio_mmio *virtio_console_mmio(struct virtio_console *c);

/*
 * Host input for the guest. Returns the bytes accepted (0..len): what the
 * guest's posted buffers took plus what fits in the VIRTIO_CONSOLE_RX_BUF
 * buffer; the caller keeps the rest for later. -EINVAL for a bad argument.
 */
int virtio_console_input(struct virtio_console *c, const uint8_t *buf, size_t len);

/* Room left in the input buffer. */
size_t virtio_console_rx_room(struct virtio_console *c);
