// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a hostile guest against vmmd's virtio-mmio devices.
 * The harness plays Linux's driver up to DRIVER_OK (so the fuzzer starts
 * where the attack surface is), then the input becomes the guest. Byte 0
 * picks the device (blk read-write, blk read-only, console, rng) and the
 * queue size; byte 1 counts the 6-byte ops that follow (register writes
 * and reads, queue notifications, console input); everything after them is
 * copied into guest RAM at 0x1000, where the descriptor table, the
 * available ring and the buffers live, and every queue is notified before
 * the ops run. Anything goes as long as the device stays inside guest RAM
 * (ASan), never loops (-timeout) and keeps its counters consistent.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_rng.h"

#define RAM_SIZE   0x4000u           /* 16 KiB of guest RAM: rings at 0x1000.. */
#define RING_BASE  0x1000u
#define IMAGE_SIZE (64u << 10)

static uint8_t ram[RAM_SIZE];
static unsigned irqs;

static void *gpa_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
	(void) opaque;
	return gpa < RAM_SIZE && len <= RAM_SIZE - gpa ? ram + gpa : NULL;
}

static void notify_irq(void *opaque)
{
	(void) opaque;
	irqs++;
}

static void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	(void) opaque;
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < len; i++)   /* touch every byte: ASan checks the span */
		sink ^= buf[i];
}

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint8_t b[4] = { 0 };
	(void) virtio_mmio_io(t, off, b, 4, false);
	return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
	(void) virtio_mmio_io(t, off, b, 4, true);
}

/* Linux's probe: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
static void drive_to_ok(struct virtio_mmio *t, unsigned qsize)
{
	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	for (unsigned sel = 0; sel < 2; sel++) {
		wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		uint32_t f = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
		wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		wr(t, VIRTIO_MMIO_DRIVER_FEATURES, f);
	}
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < virtio_mmio_num_queues(t); q++) {
		/* Queue q's table, avail and used rings in its own 0x1800 bytes. */
		uint32_t base = RING_BASE + q * 0x1800;
		wr(t, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(t, VIRTIO_MMIO_QUEUE_NUM, qsize);
		wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, base);
		wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, base + 16 * qsize);
		wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, base + 0x1000);
		wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				  VIRTIO_STATUS_DRIVER_OK);
}

static int image_fd(void)
{
	static int fd = -1;
	if (fd < 0) {
		fd = memfd_create("fuzz-virtio-blk", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0)
			abort();
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	memset(ram, 0, sizeof(ram));
	irqs = 0;
	struct virtio_env env = { .gpa_ptr = gpa_ptr, .notify_irq = notify_irq };
	unsigned kind = data[0] & 3;
	unsigned qsize = 1u << ((data[0] >> 2) & 7);   /* 1 .. 128 */
	void *dev = NULL;
	struct virtio_mmio *t = NULL;
	switch (kind) {
	case 0:
	case 1:
		if (virtio_blk_new(&env, image_fd(), kind == 1, (struct virtio_blk **) &dev) == 0)
			t = virtio_blk_mmio(dev);
		break;
	case 2:
		if (virtio_console_new(&env, console_tx, NULL, (struct virtio_console **) &dev) == 0)
			t = virtio_console_mmio(dev);
		break;
	default:
		if (virtio_rng_new(&env, (struct virtio_rng **) &dev) == 0)
			t = virtio_rng_mmio(dev);
		break;
	}
	if (!t)
		abort();
	drive_to_ok(t, qsize);

	size_t n_ops = size > 1 ? data[1] % 32 : 0;
	const uint8_t *ops = data + 2;
	if (size < 2 || (size_t) (size - 2) < n_ops * 6)
		n_ops = 0;
	const uint8_t *img = size >= 2 ? ops + n_ops * 6 : data + size;
	size_t ram_len = (size_t) (data + size - img);
	if (ram_len > RAM_SIZE - RING_BASE)
		ram_len = RAM_SIZE - RING_BASE;
	memcpy(ram + RING_BASE, img, ram_len);
	for (unsigned q = 0; q < virtio_mmio_num_queues(t); q++)
		(void) virtio_mmio_queue_notify(t, q);

	/* op & 3: 0 write a register, 1 read one (size 1 << (op >> 2 & 3)), 2 notify, 3 console input. */
	for (const uint8_t *p = ops; p < ops + n_ops * 6; p += 6) {
		uint64_t off = ((uint64_t) p[1] | (uint64_t) p[2] << 8) % VIRTIO_MMIO_SIZE;
		uint8_t b[8] = { p[2], p[3], p[4], p[5], p[2], p[3], p[4], p[5] };
		unsigned sz = 1u << ((p[0] >> 2) & 3);
		switch (p[0] & 3) {
		case 0:
			(void) virtio_mmio_io(t, off, b, sz, true);
			break;
		case 1:
			(void) virtio_mmio_io(t, off, b, sz, false);
			break;
		case 2:
			(void) virtio_mmio_queue_notify(t, p[1] % 4);   /* 2 and 3 do not exist for most */
			break;
		default:
			if (kind == 2)
				(void) virtio_console_input(dev, p + 1, 5);
			break;
		}
	}

	struct virtio_mmio_stats st;
	virtio_mmio_get_stats(t, &st);
	if (st.interrupts != irqs) {
		fprintf(stderr, "interrupt count %llu, notify_irq calls %u\n", (unsigned long long) st.interrupts, irqs);
		abort();
	}
	if (kind <= 1)
		virtio_blk_free(dev);
	else if (kind == 2)
		virtio_console_free(dev);
	else
		virtio_rng_free(dev);
	return 0;
}
