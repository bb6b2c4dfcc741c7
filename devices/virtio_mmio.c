/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio register file, version 2. The sequence Linux's virtio_mmio.c
 * drives: reset (status 0, then polls for 0), ACKNOWLEDGE, DRIVER, features
 * (high word first, each through its select register), FEATURES_OK and a
 * read back, per queue: QueueSel, QueueReady (must read 0), QueueNumMax,
 * QueueNum, the three ring addresses, QueueReady 1; then DRIVER_OK. Its
 * interrupt handler reads InterruptStatus and writes the same bits to
 * InterruptACK; a kick writes the queue index to QueueNotify.
 *
 * Every operation runs under the mutex and records its effects (an
 * interrupt to raise, queues processed); the interrupt callback and the
 * device's unlocked hook run once the mutex is dropped, so neither can
 * deadlock against a thread that comes back into the transport.
 *
 * Status bits, once set, stay set until a reset: a driver may only add bits
 * (2.1.1), and DEVICE_NEEDS_RESET is the device's alone. Queues are only
 * processed while DRIVER_OK is set and DEVICE_NEEDS_RESET is not; setting
 * DRIVER_OK processes every ready queue once, for kicks that came early.
 */
#include "devices/virtio_mmio.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TRANSPORT_FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC))

struct virtio_mmio {
	pthread_mutex_t lock;
	struct virtio_env env;
	struct virtio_mmio_device dev;
	uint8_t config[VIRTIO_MMIO_CONFIG_MAX];
	uint64_t offered;

	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;       /* as written so far */
	uint64_t negotiated;            /* driver_features when FEATURES_OK was accepted */
	uint32_t queue_sel;
	uint32_t interrupt_status;
	struct virtq vqs[VIRTIO_MMIO_MAX_QUEUES];

	/* The transport's own counters; the queues keep the rest. */
	uint64_t notifications;
	uint64_t interrupts;
	uint64_t errors;
};

/* What one locked operation leaves to do once the mutex is dropped. */
struct effects {
	bool irq;
	bool processed;
};

int virtio_mmio_new(const struct virtio_env *env, const struct virtio_mmio_device *dev,
		    struct virtio_mmio **ret)
{
	struct virtio_mmio *t;

	if (!env || !env->gpa_ptr || !dev || !dev->process || !ret)
		return -EINVAL;
	if (dev->num_queues == 0 || dev->num_queues > VIRTIO_MMIO_MAX_QUEUES)
		return -EINVAL;
	if (dev->config_size > VIRTIO_MMIO_CONFIG_MAX || (dev->config_size > 0 && !dev->config))
		return -EINVAL;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return -ENOMEM;
	}
	t->env = *env;
	t->dev = *dev;
	if (dev->config_size > 0)
		memcpy(t->config, dev->config, dev->config_size);
	t->dev.config = t->config;
	t->offered = dev->features | TRANSPORT_FEATURES;
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		t->vqs[q].env = &t->env;
	*ret = t;
	return 0;
}

void virtio_mmio_free(struct virtio_mmio *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

unsigned virtio_mmio_num_queues(const struct virtio_mmio *t)
{
	return t ? t->dev.num_queues : 0;
}

/* --- interrupts, errors, processing (mutex held) ------------------------------ */

static void raise_irq(struct virtio_mmio *t, uint32_t bits, struct effects *fx)
{
	t->interrupt_status |= bits;
	if (!fx->irq)
		t->interrupts++;
	fx->irq = true;
}

static void set_needs_reset(struct virtio_mmio *t, struct effects *fx)
{
	if (t->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	raise_irq(t, VIRTIO_MMIO_INT_CONFIG, fx);
}

static void process_locked(struct virtio_mmio *t, unsigned queue, struct effects *fx)
{
	struct virtq *vq = &t->vqs[queue];

	if (!(t->status & VIRTIO_STATUS_DRIVER_OK) || (t->status & VIRTIO_STATUS_NEEDS_RESET) || !vq->ready)
		return;
	vq->indirect_ok = t->negotiated & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	fx->processed = true;
	if (virtq_begin(vq) == 0 && t->dev.process(t->dev.opaque, queue, vq) < 0)
		virtq_fail(vq);
	if (virtq_should_notify(vq))
		raise_irq(t, VIRTIO_MMIO_INT_VRING, fx);
	if (vq->broken)
		set_needs_reset(t, fx);
}

static void reset_locked(struct virtio_mmio *t)
{
	t->status = 0;
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->driver_features = 0;
	t->negotiated = 0;
	t->queue_sel = 0;
	t->interrupt_status = 0;
	for (unsigned q = 0; q < t->dev.num_queues; q++) {
		struct virtq *vq = &t->vqs[q];

		virtq_disable(vq);
		vq->num = 0;
		vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	}
	if (t->dev.reset)
		t->dev.reset(t->dev.opaque);
}

/* Runs after every operation, with the mutex dropped. */
static void finish(struct virtio_mmio *t, const struct effects *fx)
{
	if (fx->irq && t->env.notify_irq)
		t->env.notify_irq(t->env.opaque);
	if (fx->processed && t->dev.unlocked)
		t->dev.unlocked(t->dev.opaque);
}

/* --- registers ------------------------------------------------------------------ */

/* The selected queue, NULL when QueueSel names none. */
static struct virtq *selected(struct virtio_mmio *t)
{
	return t->queue_sel < t->dev.num_queues ? &t->vqs[t->queue_sel] : NULL;
}

static void set_half(uint64_t *v, bool high, uint32_t half)
{
	if (high)
		*v = (*v & 0xffffffffULL) | (uint64_t) half << 32;
	else
		*v = (*v & ~0xffffffffULL) | half;
}

/* The driver may only accept what was offered, and must accept VERSION_1:
 * this transport has no legacy interface. */
static bool features_acceptable(const struct virtio_mmio *t)
{
	return !(t->driver_features & ~t->offered) &&
	       (t->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1));
}

static void write_status(struct virtio_mmio *t, uint32_t value, struct effects *fx)
{
	uint32_t old = t->status;
	uint32_t status;

	if (value == 0) {
		reset_locked(t);
		return;
	}
	status = old | (value & 0xff & ~VIRTIO_STATUS_NEEDS_RESET);
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		if (features_acceptable(t)) {
			t->negotiated = t->driver_features;
		} else {
			status &= ~VIRTIO_STATUS_FEATURES_OK;
			t->errors++;
		}
	}
	if ((status & VIRTIO_STATUS_DRIVER_OK) && !(status & VIRTIO_STATUS_FEATURES_OK)) {
		status &= ~VIRTIO_STATUS_DRIVER_OK;
		t->errors++;
	}
	t->status = status;
	if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		for (unsigned q = 0; q < t->dev.num_queues; q++)
			process_locked(t, q, fx);
}

static void write_queue_ready(struct virtio_mmio *t, struct virtq *vq, uint32_t value, struct effects *fx)
{
	if (!(value & 1)) {
		virtq_disable(vq);
		return;
	}
	if (vq->ready)
		return;
	if (virtq_enable(vq) < 0) {
		t->errors++;
		set_needs_reset(t, fx);
	}
}

static void write_queue_reg(struct virtio_mmio *t, uint64_t offset, uint32_t value, struct effects *fx)
{
	struct virtq *vq = selected(t);

	if (!vq) {
		t->errors++;
		return;
	}
	if (offset == VIRTIO_MMIO_QUEUE_READY) {
		write_queue_ready(t, vq, value, fx);
		return;
	}
	/* Queue registers are frozen while it is ready: the checks
	 * virtq_enable made must stay true. */
	if (vq->ready) {
		t->errors++;
		return;
	}
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM:
		vq->num = value;        /* checked when the queue is enabled */
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&vq->desc_gpa, offset & 4, value);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		set_half(&vq->avail_gpa, offset & 4, value);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		set_half(&vq->used_gpa, offset & 4, value);
		break;
	}
}

static void write_reg(struct virtio_mmio *t, uint64_t offset, uint32_t value, struct effects *fx)
{
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = value;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Frozen once FEATURES_OK was accepted. */
		if ((t->status & VIRTIO_STATUS_FEATURES_OK) || t->driver_features_sel > 1) {
			t->errors++;
			return;
		}
		set_half(&t->driver_features, t->driver_features_sel == 1, value);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = value;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = value;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		write_queue_reg(t, offset, value, fx);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		t->notifications++;
		if (value < t->dev.num_queues)
			process_locked(t, value, fx);
		else
			t->errors++;
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->interrupt_status &= ~value;
		return;
	case VIRTIO_MMIO_STATUS:
		write_status(t, value, fx);
		return;
	case VIRTIO_MMIO_SHM_SEL:
		return;         /* no shared memory regions: every one reads as absent */
	}
	t->errors++;            /* read-only or unknown register */
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t offset)
{
	struct virtq *vq = selected(t);

	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->dev.device_id;
	case VIRTIO_MMIO_VENDOR_ID_REG:
		return VIRTIO_MMIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t) (t->offered >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? VIRTQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq && vq->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffff;      /* length -1: no such region (4.2.2) */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return 0;               /* the config space never changes */
	}
	return 0;                       /* write-only or unknown */
}

/* The config space, in the driver's access sizes. An access not wholly
 * inside it reads as zeros; writes are ignored (no field is writable). */
static void config_access(struct virtio_mmio *t, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	if (is_write)
		return;
	if (offset > t->dev.config_size || size > t->dev.config_size - offset) {
		memset(data, 0, size);
		return;
	}
	memcpy(data, t->config + offset, size);
}

int virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct virtio_mmio *t = opaque;
	struct effects fx = { 0 };
	uint32_t value;
	int r = 0;

	if (!t || !data || (size != 1 && size != 2 && size != 4 && size != 8))
		return -EINVAL;
	if (offset >= VIRTIO_MMIO_SIZE || size > VIRTIO_MMIO_SIZE - offset)
		return -EINVAL;
	if (!is_write)
		memset(data, 0, size);

	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		config_access(t, offset - VIRTIO_MMIO_CONFIG, data, size, is_write);
	} else if (size != 4 || (offset & 3)) {
		t->errors++;
		r = -EINVAL;
	} else if (is_write) {
		memcpy(&value, data, 4);
		write_reg(t, offset, le32toh(value), &fx);
	} else {
		value = htole32(read_reg(t, offset));
		memcpy(data, &value, 4);
	}
	pthread_mutex_unlock(&t->lock);

	finish(t, &fx);
	return r;
}

static int process(struct virtio_mmio *t, unsigned queue, bool count)
{
	struct effects fx = { 0 };

	if (!t || queue >= t->dev.num_queues)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (count)
		t->notifications++;
	process_locked(t, queue, &fx);
	pthread_mutex_unlock(&t->lock);
	finish(t, &fx);
	return 0;
}

int virtio_mmio_queue_notify(struct virtio_mmio *t, unsigned queue)
{
	return process(t, queue, true);
}

int virtio_mmio_queue_process(struct virtio_mmio *t, unsigned queue)
{
	return process(t, queue, false);
}

void virtio_mmio_get_stats(struct virtio_mmio *t, struct virtio_mmio_stats *ret)
{
	struct virtio_mmio_stats s = { 0 };

	if (!t || !ret)
		return;
	pthread_mutex_lock(&t->lock);
	s.notifications = t->notifications;
	s.interrupts = t->interrupts;
	s.errors = t->errors;
	for (unsigned q = 0; q < t->dev.num_queues; q++) {
		const struct virtq_stats *qs = &t->vqs[q].stats;

		s.requests += qs->requests;
		s.bytes_read += qs->bytes_read;
		s.bytes_written += qs->bytes_written;
		s.request_errors += qs->request_errors;
		s.errors += qs->errors;
	}
	s.needs_reset = t->status & VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&t->lock);
	*ret = s;
}
