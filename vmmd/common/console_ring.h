/* SPDX-License-Identifier: MIT */
/*
 * A VM's console history: an append-only byte stream with absolute offsets,
 * of which the last `capacity` bytes are kept, in a file mapped shared.
 *
 * The worker appends (one writer); the supervisor maps the same file
 * read-only and serves vm.console.read without asking the worker. Because
 * the bytes live in the page cache, the history survives a worker that is
 * killed or crashes, and a supervisor restart — exactly when an operator
 * needs it. The writer publishes `writing` before it overwrites old bytes
 * and `total` with release order after the new ones; a reader re-checks
 * `writing` after copying and trims what may have been overwritten
 * meanwhile (a seqlock). The reader trusts nothing in the header after
 * open: it uses the capacity it validated and mapped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_RING_DEFAULT   (64u << 10)
#define CONSOLE_RING_MIN       (4u << 10)    /* smallest the daemon asks for (limits.console_buffer_kib) */
#define CONSOLE_RING_MAX       (16u << 20)
#define CONSOLE_RING_MAGIC     0x474e49524c4f4e43ULL  /* "CNOLRING" */

struct console_ring_header {
	uint64_t magic;
	uint64_t capacity;
	uint64_t total;      /* bytes ever written; atomic */
	uint64_t writing;    /* total once the append in progress is done; atomic,
	                      * stored before that append overwrites old bytes */
	uint64_t reserved[4];
};

struct console_ring {
	struct console_ring_header *hdr;
	uint8_t *data;
	size_t map_size;
	bool writable;
};

/* Create (truncate) path with the given capacity, every block allocated
 * (-ENOSPC on a full filesystem: never a SIGBUS later), mapped writable. */
int console_ring_create(const char *path, size_t capacity, struct console_ring *ret);
/* Map path writable and go on appending after what it holds (a guest
 * reboot keeps its history); creates it as console_ring_create does when it
 * is missing, not a ring, or of another capacity. */
int console_ring_continue(const char *path, size_t capacity, struct console_ring *ret);
/* Map an existing ring read-only; -ENOENT when absent, -EBADMSG when not a ring. */
int console_ring_open(const char *path, struct console_ring *ret);
void console_ring_close(struct console_ring *r);

void console_ring_append(struct console_ring *r, const uint8_t *buf, size_t len);
uint64_t console_ring_total(const struct console_ring *r);
/* Bytes kept, as mapped (never the header's possibly-changed copy). */
uint64_t console_ring_capacity(const struct console_ring *r);

/*
 * Copy up to max bytes from absolute offset `offset`. Bytes before the
 * oldest one held are skipped: *ret_start is the offset of the first byte
 * copied (≥ offset). Returns the number of bytes copied.
 */
size_t console_ring_read(const struct console_ring *r, uint64_t offset, uint8_t *buf, size_t max,
			 uint64_t *ret_start);
