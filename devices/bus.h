/* SPDX-License-Identifier: MIT */
/*
 * The one dispatch bus for port I/O and MMIO (kvmtool mmio.c, Firecracker
 * Bus): device models register a [base, base+size) region with one handler
 * type that receives an offset into the region; overlapping registrations
 * are refused. Registration happens while the VM is built; after that the
 * table is read-only and dispatch is safe from every vCPU thread at once.
 * Access counters are atomic.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bus_space { BUS_PIO = 0, BUS_MMIO = 1 };

#define BUS_MAX_REGIONS 64

/*
 * Handler: `offset` from the region base, `data` points at `size` bytes
 * (1, 2, 4 or 8) to fill on read or to consume on write (little-endian).
 * Returns 0 or a negative errno (the access is then counted as failed).
 */
typedef int (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

struct bus_region {
	enum bus_space space;
	uint64_t base;
	uint64_t size;
	char device[32];
	bus_io_fn fn;
	void *opaque;
	uint64_t reads;     /* atomic */
	uint64_t writes;    /* atomic */
	uint64_t errors;    /* atomic: accesses (also in reads/writes) whose handler failed */
};

struct bus;

struct bus *bus_new(void);
void bus_free(struct bus *b);

/* -EINVAL: size 0, base+size overflows, PIO beyond 0x10000, no fn, no device
 * name, unknown space; -EEXIST: overlaps a registered region of the same space
 * (adjacent regions are fine); -ENOSPC: table full. The device name is copied,
 * truncated to 31 characters. Not safe against concurrent bus_dispatch. */
int bus_register(struct bus *b, enum bus_space space, uint64_t base, uint64_t size,
		 const char *device, bus_io_fn fn, void *opaque);

/*
 * Dispatch one access. -ENOENT when no region covers [addr, addr+size):
 * reads are then filled with 0xff (what an unclaimed bus returns) and the
 * miss is counted; an access straddling a region's end is a miss too.
 * -EINVAL (nothing counted, data untouched): size not 1, 2, 4 or 8, no data,
 * unknown space. Otherwise the handler's result.
 */
int bus_dispatch(struct bus *b, enum bus_space space, uint64_t addr, uint8_t *data,
		 unsigned size, bool is_write);

/* Snapshot of regions in address order (counters read atomically). Returns the
 * number of regions written to out, at most max. */
size_t bus_snapshot(struct bus *b, enum bus_space space, struct bus_region *out, size_t max);

/* Accesses that hit no region, per space. */
uint64_t bus_misses(struct bus *b, enum bus_space space);
