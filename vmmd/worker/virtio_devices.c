/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/macro.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_rng.h"
#include "vmmd/common/log.h"
#include "vmmd/worker/virtio_devices.h"
#include "vmmd/worker/vm.h"

/* The env's opaque is the slot: the irq callback must know whose irqfd to write. */
static void *gpa_ptr(void *opaque, uint64_t gpa, uint64_t len)
{
	struct virtio_slot *slot = opaque;
	return guest_memory_ptr(&slot->vm->mem, gpa, len);
}

static void notify_irq(void *opaque)
{
	struct virtio_slot *slot = opaque;
	uint64_t one = 1;
	ssize_t n = write(slot->irq_fd, &one, sizeof(one));
	(void) n;   /* a saturated counter still means "interrupt pending" */
}

static void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct vm *vm = opaque;
	vm_console_output(vm, buf, len);
}

/* The image's descriptor, as the supervisor handed it over (vm.h files). */
static int take_image(struct vm *vm, size_t i, const struct vm_device_config *cfg, const char **why)
{
	_cleanup_close_ int fd = TAKE_FD(vm->files[VM_FILE_DISK + i]);
	int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (flags < 0) {
		*why = "no virtio-blk image was given";
		return -EBADF;
	}
	if (!cfg->readonly && (flags & O_ACCMODE) != O_RDWR) {
		*why = "a writable virtio-blk image was given read-only";
		return -EBADF;
	}
	/* One writer per image, like QEMU's image locking: a second VM writing
	 * the same disk would corrupt it. Readers share. */
	if (flock(fd, (cfg->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		*why = "a virtio-blk image is in use by another VM (locked)";
		return -errno;
	}
	return TAKE_FD(fd);
}

static int create_model(struct vm *vm, struct virtio_slot *slot, size_t i, const struct vm_device_config *cfg,
			const char **why)
{
	struct virtio_env env = { .gpa_ptr = gpa_ptr, .notify_irq = notify_irq, .opaque = slot };
	int r;
	switch (cfg->type) {
	case VM_DEV_VIRTIO_BLK: {
		slot->image_fd = take_image(vm, i, cfg, why);
		if (slot->image_fd < 0)
			return slot->image_fd;
		struct virtio_blk *b;
		r = virtio_blk_new(&env, slot->image_fd, cfg->readonly, &b);
		if (r == 0) {
			slot->dev = b;
			slot->mmio = virtio_blk_mmio(b);
		}
		break;
	}
	case VM_DEV_VIRTIO_CONSOLE: {
		struct virtio_console *c;
		r = virtio_console_new(&env, console_tx, vm, &c);
		if (r == 0) {
			slot->dev = c;
			slot->mmio = virtio_console_mmio(c);
			if (!vm->virtio.console)
				vm->virtio.console = c;
		}
		break;
	}
	case VM_DEV_VIRTIO_RNG: {
		struct virtio_rng *g;
		r = virtio_rng_new(&env, &g);
		if (r == 0) {
			slot->dev = g;
			slot->mmio = virtio_rng_mmio(g);
		}
		break;
	}
	default:
		r = -EINVAL;
	}
	if (r < 0)
		*why = "cannot create a virtio device";
	return r;
}

/* KVM side: the irqfd for the device's pin, an ioeventfd per queue. */
static int wire_kvm(struct vm *vm, struct virtio_slot *slot, const char **why)
{
	slot->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (slot->irq_fd < 0)
		return -errno;
	struct kvm_irqfd irqfd = { .fd = (uint32_t) slot->irq_fd, .gsi = slot->irq };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		*why = "KVM_IRQFD failed";
		return -errno;
	}
	for (unsigned q = 0; q < slot->n_queues; q++) {
		slot->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (slot->notify_fd[q] < 0)
			return -errno;
		struct kvm_ioeventfd io = {
			.datamatch = q, .addr = slot->base + VIRTIO_MMIO_QUEUE_NOTIFY, .len = 4,
			.fd = slot->notify_fd[q], .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
			*why = "KVM_IOEVENTFD failed";
			return -errno;
		}
	}
	return 0;
}

int virtio_devices_setup(struct vm *vm, const char **why)
{
	struct virtio_devices *vd = &vm->virtio;
	vd->stop_fd = -1;
	if (vm->config->n_devices == 0)
		return 0;
	if (vm->config->paging == VM_PAGING_SHADOW) {
		*why = "virtio devices need paging \"hw\"";
		return -EINVAL;
	}
	vd->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vd->stop_fd < 0)
		return -errno;
	for (size_t i = 0; i < vm->config->n_devices && i < VM_DEVICES_MAX; i++) {
		const struct vm_device_config *cfg = &vm->config->devices[i];
		struct virtio_slot *slot = &vd->slots[vd->n++];
		*slot = (struct virtio_slot) {
			.vm = vm, .type = cfg->type, .base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE,
			.irq = VIRTIO_IRQ_BASE + (unsigned) i, .irq_fd = -1, .image_fd = -1,
			.notify_fd = { -1, -1 },
		};
		int r = create_model(vm, slot, i, cfg, why);
		if (r < 0)
			return r;
		slot->n_queues = virtio_mmio_num_queues(slot->mmio);
		if (slot->n_queues > VIRTIO_MAX_QUEUES) {
			*why = "a virtio device has more queues than vmmd wires";
			return -EINVAL;
		}
		r = bus_register(vm->bus, BUS_MMIO, slot->base, VIRTIO_MMIO_SIZE, vm_device_type_name(cfg->type),
				 virtio_mmio_io, slot->mmio);
		if (r < 0) {
			*why = "cannot register a virtio device on the bus";
			return r;
		}
		r = wire_kvm(vm, slot, why);
		if (r < 0)
			return r;
		char line[64];
		snprintf(line, sizeof(line), "virtio_mmio.device=%u@0x%llx:%u", (unsigned) VIRTIO_MMIO_SIZE,
			 (unsigned long long) slot->base, slot->irq);
		vm->virtio_cmdline[vm->n_virtio] = strdup(line);
		if (!vm->virtio_cmdline[vm->n_virtio])
			return -ENOMEM;
		vm->n_virtio++;
	}
	return 0;
}

/* The I/O thread: every queue's ioeventfd plus the stop eventfd. */
static void *io_thread(void *arg)
{
	struct vm *vm = arg;
	struct virtio_devices *vd = &vm->virtio;
	struct pollfd fds[1 + VM_DEVICES_MAX * VIRTIO_MAX_QUEUES];
	struct { unsigned slot, queue; } who[VM_DEVICES_MAX * VIRTIO_MAX_QUEUES];
	nfds_t n = 0;
	fds[n++] = (struct pollfd) { .fd = vd->stop_fd, .events = POLLIN };
	for (unsigned s = 0; s < vd->n; s++)
		for (unsigned q = 0; q < vd->slots[s].n_queues; q++) {
			who[n - 1].slot = s;
			who[n - 1].queue = q;
			fds[n++] = (struct pollfd) { .fd = vd->slots[s].notify_fd[q], .events = POLLIN };
		}
	for (;;) {
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error_errno(-errno, "virtio I/O thread: poll failed: %m");
			return NULL;
		}
		if (fds[0].revents)
			return NULL;
		for (nfds_t i = 1; i < n; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			uint64_t count;
			if (read(fds[i].fd, &count, sizeof(count)) != sizeof(count))
				continue;
			(void) virtio_mmio_queue_notify(vd->slots[who[i - 1].slot].mmio, who[i - 1].queue);
		}
	}
}

int virtio_devices_start(struct vm *vm)
{
	struct virtio_devices *vd = &vm->virtio;
	if (vd->n == 0)
		return 0;
	int r = -pthread_create(&vd->thread, NULL, io_thread, vm);
	vd->thread_started = r == 0;
	return r;
}

void virtio_devices_destroy(struct vm *vm)
{
	struct virtio_devices *vd = &vm->virtio;
	if (vd->thread_started) {
		uint64_t one = 1;
		ssize_t n = write(vd->stop_fd, &one, sizeof(one));
		(void) n;
		pthread_join(vd->thread, NULL);
		vd->thread_started = false;
	}
	for (unsigned s = 0; s < vd->n; s++) {
		struct virtio_slot *slot = &vd->slots[s];
		if (slot->dev) {
			if (slot->type == VM_DEV_VIRTIO_BLK)
				virtio_blk_free(slot->dev);
			else if (slot->type == VM_DEV_VIRTIO_CONSOLE)
				virtio_console_free(slot->dev);
			else
				virtio_rng_free(slot->dev);
		}
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			safe_close(slot->notify_fd[q]);
		safe_close(slot->irq_fd);
		safe_close(slot->image_fd);
	}
	vd->n = 0;
	vd->console = NULL;
	safe_close(vd->stop_fd);
	vd->stop_fd = -1;
	for (size_t i = 0; i < vm->n_virtio; i++)
		free(vm->virtio_cmdline[i]);
	vm->n_virtio = 0;
}

int virtio_devices_console_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	if (!vm->virtio.console)
		return -ENODEV;
	return virtio_console_input(vm->virtio.console, buf, len);
}

struct json_object *virtio_devices_stats(struct vm *vm)
{
	struct json_object *a = json_object_new_array();
	for (unsigned s = 0; vm && s < vm->virtio.n; s++) {
		struct virtio_slot *slot = &vm->virtio.slots[s];
		struct virtio_mmio_stats st;
		virtio_mmio_get_stats(slot->mmio, &st);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string(vm_device_type_name(slot->type)));
		json_object_object_add(o, "base", json_object_new_uint64(slot->base));
		json_object_object_add(o, "irq", json_object_new_int(slot->irq));
		json_object_object_add(o, "notifications", json_object_new_uint64(st.notifications));
		json_object_object_add(o, "interrupts", json_object_new_uint64(st.interrupts));
		json_object_object_add(o, "requests", json_object_new_uint64(st.requests));
		json_object_object_add(o, "bytes_read", json_object_new_uint64(st.bytes_read));
		json_object_object_add(o, "bytes_written", json_object_new_uint64(st.bytes_written));
		json_object_object_add(o, "request_errors", json_object_new_uint64(st.request_errors));
		json_object_object_add(o, "errors", json_object_new_uint64(st.errors));
		json_object_object_add(o, "needs_reset", json_object_new_boolean(st.needs_reset));
		if (slot->type == VM_DEV_VIRTIO_BLK)
			json_object_object_add(o, "sectors", json_object_new_uint64(virtio_blk_capacity(slot->dev)));
		json_object_array_add(a, o);
	}
	return a;
}
