/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side. Layout in guest memory (virtio 1.2 2.7):
 *   descriptor table: num x { le64 addr; le32 len; le16 flags; le16 next; }
 *   available ring:   le16 flags; le16 idx; le16 ring[num]; le16 used_event;
 *   used ring:        le16 flags; le16 idx; { le32 id; le32 len; }[num]; le16 avail_event;
 *
 * Ordering: the available index is read with acquire semantics before the
 * entries and descriptors it publishes; a used entry is written before the
 * used index is published; that store and the read of the driver's
 * NO_INTERRUPT flag are both sequentially consistent (a full barrier between
 * them), so a driver that re-enables interrupts and then checks the used
 * index cannot miss both the entry and the interrupt.
 *
 * Ring pointers are re-translated at the start of every pass and used only
 * within it; descriptors are copied before use; rings are checked aligned at
 * their host addresses too, so every 16- and 32-bit access is aligned.
 */
#include "devices/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define DESC_SIZE 16

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint64_t desc_table_size(uint32_t num) { return (uint64_t) DESC_SIZE * num; }
static uint64_t avail_ring_size(uint32_t num) { return 6 + 2 * (uint64_t) num; }
static uint64_t used_ring_size(uint32_t num) { return 6 + 8 * (uint64_t) num; }

static uint16_t load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *) p, __ATOMIC_RELAXED));
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *) p, htole32(v), __ATOMIC_RELAXED);
}

/* One descriptor, copied out of guest memory before anything looks at it:
 * the barrier makes the compiler use the copy rather than read again. */
static void read_desc(const uint8_t *table, uint32_t idx, struct desc *ret)
{
	uint8_t raw[DESC_SIZE];

	memcpy(raw, table + (size_t) idx * DESC_SIZE, sizeof(raw));
	__asm__ volatile("" : : "r"(raw) : "memory");
	memcpy(&ret->addr, raw, 8);
	memcpy(&ret->len, raw + 8, 4);
	memcpy(&ret->flags, raw + 12, 2);
	memcpy(&ret->next, raw + 14, 2);
	ret->addr = le64toh(ret->addr);
	ret->len = le32toh(ret->len);
	ret->flags = le16toh(ret->flags);
	ret->next = le16toh(ret->next);
}

static int map_rings(struct virtq *vq)
{
	const struct virtio_env *env = vq->env;
	uint8_t *desc = env->gpa_ptr(env->opaque, vq->desc_gpa, desc_table_size(vq->num));
	uint8_t *avail = env->gpa_ptr(env->opaque, vq->avail_gpa, avail_ring_size(vq->num));
	uint8_t *used = env->gpa_ptr(env->opaque, vq->used_gpa, used_ring_size(vq->num));

	vq->desc = vq->avail = vq->used = NULL;
	if (!desc || !avail || !used)
		return -EFAULT;
	/* Guest addresses were checked aligned; so must the host ones be, or
	 * the 16/32-bit ring accesses below would be misaligned. */
	if (((uintptr_t) desc & 15) || ((uintptr_t) avail & 1) || ((uintptr_t) used & 3))
		return -EFAULT;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	return 0;
}

static int fail(struct virtq *vq, int r)
{
	virtq_fail(vq);
	return r;
}

void virtq_fail(struct virtq *vq)
{
	if (!vq->broken)
		vq->stats.errors++;
	vq->broken = true;
}

int virtq_enable(struct virtq *vq)
{
	int r;

	vq->ready = false;
	if (vq->num == 0 || vq->num > VIRTQ_MAX_SIZE || (vq->num & (vq->num - 1)))
		return -EINVAL;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return -EINVAL;
	r = map_rings(vq);
	if (r < 0)
		return r;
	vq->ready = true;
	vq->broken = false;
	vq->last_avail = 0;
	vq->avail_seen = 0;
	vq->used_idx = 0;
	vq->budget = 0;
	vq->pushed = false;
	return 0;
}

void virtq_disable(struct virtq *vq)
{
	vq->ready = false;
	vq->broken = false;
	vq->desc = vq->avail = vq->used = NULL;
	vq->budget = 0;
	vq->pushed = false;
}

int virtq_begin(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return -EIO;
	if (map_rings(vq) < 0)
		return fail(vq, -EFAULT);
	vq->budget = vq->num;
	return 0;
}

static int add_seg(struct virtq *vq, struct virtq_chain *c, const struct desc *d, bool *seen_write)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	unsigned n = c->n_out + c->n_in;
	uint8_t *ptr;

	/* Readable buffers first, then writable ones (2.7.4.2). */
	if (!writable && *seen_write)
		return -EINVAL;
	*seen_write |= writable;
	if (d->len == 0)
		return 0;
	if (n == VIRTQ_MAX_SEGS)
		return -E2BIG;
	ptr = vq->env->gpa_ptr(vq->env->opaque, d->addr, d->len);
	if (!ptr)
		return -EFAULT;
	c->seg[n] = (struct virtq_seg) { .ptr = ptr, .len = d->len };
	if (writable) {
		c->n_in++;
		c->in_bytes += d->len;
	} else {
		c->n_out++;
		c->out_bytes += d->len;
	}
	return 0;
}

/* Walks the chain at head. Each table is walked at most its length of
 * steps, so a loop ends as an error. An indirect descriptor must be the head
 * and alone: that is how Linux uses it, and it keeps a chain to one table. */
static int walk(struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	const uint8_t *table = vq->desc;
	uint32_t table_len = vq->num;
	uint32_t idx = head, steps = 0;
	bool in_indirect = false, seen_write = false;
	struct desc d;
	int r;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_bytes = c->in_bytes = 0;
	for (;;) {
		if (steps++ == table_len)
			return -ELOOP;
		read_desc(table, idx, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect_ok || in_indirect || steps != 1 || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EINVAL;
			if (d.len == 0 || d.len % DESC_SIZE || d.len / DESC_SIZE > VIRTQ_MAX_INDIRECT)
				return -EINVAL;
			table = vq->env->gpa_ptr(vq->env->opaque, d.addr, d.len);
			if (!table)
				return -EFAULT;
			table_len = d.len / DESC_SIZE;
			idx = 0;
			steps = 0;
			in_indirect = true;
			continue;
		}
		r = add_seg(vq, c, &d, &seen_write);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= table_len)
			return -EINVAL;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *ret)
{
	uint16_t head;
	int r;

	if (!vq->ready || vq->broken || !vq->avail)
		return -EIO;
	if (vq->budget == 0)
		return 0;
	if (vq->last_avail == vq->avail_seen) {
		uint16_t idx = le16toh(__atomic_load_n((const uint16_t *) (vq->avail + 2), __ATOMIC_ACQUIRE));

		/* More than a queue's worth outstanding cannot be a real ring. */
		if ((uint16_t) (idx - vq->last_avail) > vq->num)
			return fail(vq, -EINVAL);
		vq->avail_seen = idx;
		if (idx == vq->last_avail)
			return 0;
	}
	head = load16(vq->avail + 4 + 2 * (vq->last_avail % vq->num));
	if (head >= vq->num)
		return fail(vq, -EINVAL);
	r = walk(vq, head, ret);
	if (r < 0)
		return fail(vq, r);
	vq->last_avail++;
	vq->budget--;
	return 1;
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
	vq->budget++;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *entry;

	if (!vq->ready || !vq->used || head >= vq->num)
		return -EINVAL;
	entry = vq->used + 4 + 8 * (size_t) (vq->used_idx % vq->num);
	store32(entry, head);
	store32(entry + 4, len);
	vq->used_idx++;
	/* Release for the entry and data before it; sequentially consistent so
	 * that virtq_should_notify's flag read cannot pass it. */
	__atomic_store_n((uint16_t *) (vq->used + 2), htole16(vq->used_idx), __ATOMIC_SEQ_CST);
	vq->pushed = true;
	vq->stats.requests++;
	return 0;
}

bool virtq_should_notify(struct virtq *vq)
{
	if (!vq->pushed || !vq->avail)
		return false;
	vq->pushed = false;
	return !(le16toh(__atomic_load_n((const uint16_t *) vq->avail, __ATOMIC_SEQ_CST)) &
		 VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* --- copying to and from a chain ---------------------------------------------- */

/* The readable or writable bytes [offset, offset+len) as at most max iovecs. */
static unsigned for_range(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
			  struct iovec *iov, unsigned max)
{
	unsigned first = writable ? c->n_out : 0;
	unsigned end = writable ? c->n_out + c->n_in : c->n_out;
	unsigned n = 0;

	for (unsigned i = first; i < end && len > 0 && n < max; i++) {
		uint64_t seg_len = c->seg[i].len;
		uint64_t take;

		if (offset >= seg_len) {
			offset -= seg_len;
			continue;
		}
		take = seg_len - offset < len ? seg_len - offset : len;
		iov[n++] = (struct iovec) { .iov_base = c->seg[i].ptr + offset, .iov_len = take };
		len -= take;
		offset = 0;
	}
	return n;
}

unsigned virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
			 struct iovec *iov)
{
	return for_range(c, writable, offset, len, iov, VIRTQ_MAX_SEGS);
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	unsigned n = for_range(c, false, offset, len, iov, VIRTQ_MAX_SEGS);
	size_t done = 0;

	for (unsigned i = 0; i < n; i++) {
		memcpy((uint8_t *) dst + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, size_t len)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	unsigned n = for_range(c, true, offset, len, iov, VIRTQ_MAX_SEGS);
	size_t done = 0;

	for (unsigned i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, (const uint8_t *) src + done, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done;
}
