/* SPDX-License-Identifier: MIT */
/*
 * The VM's virtio-mmio devices (config "devices"): each gets a 4 KiB slot
 * from VIRTIO_MMIO_BASE and an IOAPIC pin from VIRTIO_IRQ_BASE, is put on
 * the bus and announced to Linux with virtio_mmio.device=512@BASE:IRQ.
 * In hw mode the guest's QueueNotify writes land on an ioeventfd per queue
 * (KVM completes the write without leaving the kernel) and one I/O thread
 * serves them; interrupts go in through an irqfd per device. Shadow mode
 * has no virtio devices (vmmd's own guests do not use them).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/vm_config.h"

#define VIRTIO_MMIO_BASE   0xd0000000ULL
#define VIRTIO_MMIO_STRIDE 0x1000ULL
#define VIRTIO_IRQ_BASE    5           /* 5..20 for 16 devices; COM1 is 4 */
#define VIRTIO_MAX_QUEUES  2

struct vm;
struct virtio_mmio;

struct virtio_slot {
	struct vm *vm;
	enum vm_device_type type;
	void *dev;                  /* struct virtio_blk / virtio_console / virtio_rng */
	struct virtio_mmio *mmio;
	uint64_t base;
	unsigned irq;
	int irq_fd;                 /* eventfd bound with KVM_IRQFD */
	int image_fd;               /* virtio-blk */
	unsigned n_queues;
	int notify_fd[VIRTIO_MAX_QUEUES];   /* eventfds bound with KVM_IOEVENTFD */
};

struct virtio_devices {
	unsigned n;
	struct virtio_slot slots[VM_DEVICES_MAX];
	struct virtio_console *console;     /* the first virtio-console, for console.write */
	pthread_t thread;
	bool thread_started;
	int stop_fd;
};

/* Create every configured device, register it, wire its eventfds and fill
 * vm->virtio_cmdline. 0, or negative errno with *why: -EWOULDBLOCK when a
 * disk image is locked by another VM (flock), which is not a config error. */
int virtio_devices_setup(struct vm *vm, const char **why);
/* Start the thread that serves queue notifications (after setup). */
int virtio_devices_start(struct vm *vm);
/* Stop the thread and free everything (safe on a half-built set). */
void virtio_devices_destroy(struct vm *vm);
/* Input for the guest's virtio console; -ENODEV when there is none. */
int virtio_devices_console_input(struct vm *vm, const uint8_t *buf, size_t len);
/* stats.get "devices": one object per device with its counters. */
struct json_object *virtio_devices_stats(struct vm *vm);
