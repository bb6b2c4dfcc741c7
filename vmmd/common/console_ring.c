/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmmd/common/console_ring.h"

#define HDR_SIZE 4096   /* the header owns a page so data is page-aligned */

static int map_ring(int fd, size_t capacity, bool writable, struct console_ring *ret)
{
	size_t size = HDR_SIZE + capacity;
	void *p = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	ret->hdr = p;
	ret->data = (uint8_t *) p + HDR_SIZE;
	ret->map_size = size;
	ret->writable = writable;
	return 0;
}

/*
 * Every block of the file, now: the ring is written through a shared map,
 * and a page of a sparse file that the filesystem cannot back when it is
 * first written is a SIGBUS in whichever thread wrote it (a vCPU's, with
 * the guest's output). A full disk is an error here, at creation, instead.
 */
static int allocate(int fd, size_t capacity)
{
	int e = posix_fallocate(fd, 0, (off_t) (HDR_SIZE + capacity));
	return -e;
}

int console_ring_create(const char *path, size_t capacity, struct console_ring *ret)
{
	if (capacity == 0 || capacity > CONSOLE_RING_MAX)
		return -EINVAL;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (ftruncate(fd, HDR_SIZE + capacity) < 0)
		r = -errno;
	if (r == 0)
		r = allocate(fd, capacity);
	if (r == 0)
		r = map_ring(fd, capacity, true, ret);
	close(fd);
	if (r < 0)
		return r;
	ret->hdr->magic = CONSOLE_RING_MAGIC;
	ret->hdr->capacity = capacity;
	__atomic_store_n(&ret->hdr->writing, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&ret->hdr->total, 0, __ATOMIC_RELEASE);
	return 0;
}

int console_ring_continue(const char *path, size_t capacity, struct console_ring *ret)
{
	if (capacity == 0 || capacity > CONSOLE_RING_MAX)
		return -EINVAL;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return console_ring_create(path, capacity, ret);
	struct console_ring_header hdr;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && pread(fd, &hdr, sizeof(hdr), 0) == (ssize_t) sizeof(hdr) &&
		  hdr.magic == CONSOLE_RING_MAGIC && hdr.capacity == capacity &&
		  (uint64_t) st.st_size >= HDR_SIZE + capacity;
	/* A ring from before allocate() may be sparse. */
	int r = ok ? allocate(fd, capacity) : 0;
	if (r == 0 && ok)
		r = map_ring(fd, capacity, true, ret);
	close(fd);
	if (!ok)
		return console_ring_create(path, capacity, ret);   /* not ours, or resized: start over */
	if (r == 0) {
		/* An append the previous writer left half done is complete as far
		 * as readers can tell: publish up to where it got. */
		uint64_t total = __atomic_load_n(&ret->hdr->total, __ATOMIC_ACQUIRE);
		__atomic_store_n(&ret->hdr->writing, total, __ATOMIC_RELAXED);
	}
	return r;
}

int console_ring_open(const char *path, struct console_ring *ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct console_ring_header hdr;
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t) sizeof(hdr) ||
		 hdr.magic != CONSOLE_RING_MAGIC || hdr.capacity == 0 ||
		 hdr.capacity > CONSOLE_RING_MAX || (uint64_t) st.st_size < HDR_SIZE + hdr.capacity)
		r = -EBADMSG;   /* the file is not trusted: it may be truncated or foreign */
	if (r == 0)
		r = map_ring(fd, hdr.capacity, false, ret);
	close(fd);
	return r;
}

void console_ring_close(struct console_ring *r)
{
	if (r->hdr)
		munmap(r->hdr, r->map_size);
	memset(r, 0, sizeof(*r));
}

uint64_t console_ring_total(const struct console_ring *r)
{
	return __atomic_load_n(&r->hdr->total, __ATOMIC_ACQUIRE);
}

/* The capacity this mapping was made for: the header's may change under a reader. */
static uint64_t ring_capacity(const struct console_ring *r)
{
	return r->map_size - HDR_SIZE;
}

void console_ring_append(struct console_ring *r, const uint8_t *buf, size_t len)
{
	uint64_t cap = ring_capacity(r);
	uint64_t total = r->hdr->total;
	if (len > cap) {   /* only the tail can survive */
		total += len - cap;
		buf += len - cap;
		len = cap;
	}
	if (len == 0)
		return;
	/* Announce the bytes about to be overwritten before touching them
	 * (seqlock write side; the fence orders this store before the copy). */
	__atomic_store_n(&r->hdr->writing, total + len, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (size_t i = 0; i < len; ) {
		size_t at = (total + i) % cap;
		size_t n = cap - at < len - i ? cap - at : len - i;
		memcpy(r->data + at, buf + i, n);
		i += n;
	}
	__atomic_store_n(&r->hdr->total, total + len, __ATOMIC_RELEASE);
}

size_t console_ring_read(const struct console_ring *r, uint64_t offset, uint8_t *buf, size_t max,
			 uint64_t *ret_start)
{
	uint64_t cap = ring_capacity(r);   /* never the header's: the writer may change it */
	uint64_t total = console_ring_total(r);
	uint64_t oldest = total > cap ? total - cap : 0;
	uint64_t start = offset < oldest ? oldest : offset;
	if (start >= total) {
		*ret_start = total < offset ? total : offset;
		return 0;
	}
	size_t n = total - start < max ? total - start : max;
	for (size_t i = 0; i < n; ) {
		size_t at = (start + i) % cap;
		size_t k = cap - at < n - i ? cap - at : n - i;
		memcpy(buf + i, r->data + at, k);
		i += k;
	}
	/* The writer may have lapped us while we copied: drop what it overwrote
	 * or is overwriting (`writing` is 0 in a ring from before that field). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	uint64_t after = __atomic_load_n(&r->hdr->writing, __ATOMIC_RELAXED);
	uint64_t published = __atomic_load_n(&r->hdr->total, __ATOMIC_RELAXED);
	if (after < published)
		after = published;
	uint64_t safe_from = after > cap ? after - cap : 0;
	if (safe_from > start) {
		uint64_t skip = safe_from - start;
		if (skip >= n) {
			/* Never past what is published: an append longer than the
			 * capacity announces an end beyond the bytes it skips. */
			n = 0;
			start = safe_from < published ? safe_from : published;
		} else {
			memmove(buf, buf + skip, n - skip);
			n -= skip;
			start += skip;
		}
	}
	*ret_start = start;
	return n;
}

uint64_t console_ring_capacity(const struct console_ring *r)
{
	return r->map_size - HDR_SIZE;
}
