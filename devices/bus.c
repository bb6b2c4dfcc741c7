/* SPDX-License-Identifier: MIT */
/*
 * One sorted region table per address space. Registration keeps it sorted and
 * overlap-free, so dispatch is a binary search for the last region starting at
 * or below the address. Registration is only done while the VM is built (it
 * moves entries around without locking); dispatch never writes the table,
 * only the counters, with atomic adds, so any number of vCPU threads may
 * dispatch at once.
 */
#include "devices/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUS_SPACES 2
#define BUS_PIO_LIMIT 0x10000ULL

struct bus {
	struct bus_region regions[BUS_SPACES][BUS_MAX_REGIONS];
	size_t count[BUS_SPACES];
	uint64_t misses[BUS_SPACES];   /* atomic */
};

static bool space_valid(enum bus_space space)
{
	return space == BUS_PIO || space == BUS_MMIO;
}

static bool size_valid(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

struct bus *bus_new(void)
{
	return calloc(1, sizeof(struct bus));
}

void bus_free(struct bus *b)
{
	free(b);
}

/* Index of the first region whose base is above addr (0..count). */
static size_t upper_bound(const struct bus *b, enum bus_space space, uint64_t addr)
{
	size_t lo = 0, hi = b->count[space];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->regions[space][mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, enum bus_space space, uint64_t base, uint64_t size,
		 const char *device, bus_io_fn fn, void *opaque)
{
	struct bus_region *table, *reg;
	uint64_t end;
	size_t i, n, name_len;

	if (!b || !space_valid(space) || !fn || !device || size == 0)
		return -EINVAL;
	/* end is exclusive, so a region may not reach the very top of the
	 * 64-bit space; nothing on this platform lives there. */
	if (__builtin_add_overflow(base, size, &end))
		return -EINVAL;
	if (space == BUS_PIO && end > BUS_PIO_LIMIT)
		return -EINVAL;

	table = b->regions[space];
	n = b->count[space];
	i = upper_bound(b, space, base);
	/* Sorted and overlap-free: only the neighbours can collide. Their ends
	 * were checked for overflow when they were registered. */
	if (i > 0 && table[i - 1].base + table[i - 1].size > base)
		return -EEXIST;
	if (i < n && end > table[i].base)
		return -EEXIST;
	if (n == BUS_MAX_REGIONS)
		return -ENOSPC;

	memmove(&table[i + 1], &table[i], (n - i) * sizeof(*table));
	reg = &table[i];
	*reg = (struct bus_region) {
		.space = space,
		.base = base,
		.size = size,
		.fn = fn,
		.opaque = opaque,
	};
	name_len = strnlen(device, sizeof(reg->device) - 1);
	memcpy(reg->device, device, name_len);
	reg->device[name_len] = '\0';
	b->count[space] = n + 1;
	return 0;
}

/* The region covering all of [addr, addr+size), or NULL. */
static struct bus_region *lookup(struct bus *b, enum bus_space space, uint64_t addr, unsigned size)
{
	struct bus_region *reg;
	uint64_t offset;
	size_t i = upper_bound(b, space, addr);

	if (i == 0)
		return NULL;
	reg = &b->regions[space][i - 1];
	offset = addr - reg->base;
	/* Written so that nothing overflows, whatever addr the guest used. */
	if (offset >= reg->size || size > reg->size - offset)
		return NULL;
	return reg;
}

int bus_dispatch(struct bus *b, enum bus_space space, uint64_t addr, uint8_t *data,
		 unsigned size, bool is_write)
{
	struct bus_region *reg;
	int r;

	if (!b || !space_valid(space) || !data || !size_valid(size))
		return -EINVAL;

	reg = lookup(b, space, addr, size);
	if (!reg) {
		__atomic_fetch_add(&b->misses[space], 1, __ATOMIC_RELAXED);
		if (!is_write)
			memset(data, 0xff, size);
		return -ENOENT;
	}

	__atomic_fetch_add(is_write ? &reg->writes : &reg->reads, 1, __ATOMIC_RELAXED);
	r = reg->fn(reg->opaque, addr - reg->base, data, size, is_write);
	if (r < 0)
		__atomic_fetch_add(&reg->errors, 1, __ATOMIC_RELAXED);
	return r;
}

size_t bus_snapshot(struct bus *b, enum bus_space space, struct bus_region *out, size_t max)
{
	size_t i, n;

	if (!b || !space_valid(space) || !out)
		return 0;

	n = b->count[space] < max ? b->count[space] : max;
	for (i = 0; i < n; i++) {
		const struct bus_region *reg = &b->regions[space][i];

		/* Field by field: a plain struct copy would race with the
		 * counters' atomic adds. */
		out[i] = (struct bus_region) {
			.space = reg->space,
			.base = reg->base,
			.size = reg->size,
			.fn = reg->fn,
			.opaque = reg->opaque,
			.reads = __atomic_load_n(&reg->reads, __ATOMIC_RELAXED),
			.writes = __atomic_load_n(&reg->writes, __ATOMIC_RELAXED),
			.errors = __atomic_load_n(&reg->errors, __ATOMIC_RELAXED),
		};
		memcpy(out[i].device, reg->device, sizeof(out[i].device));
	}
	return n;
}

uint64_t bus_misses(struct bus *b, enum bus_space space)
{
	if (!b || !space_valid(space))
		return 0;
	return __atomic_load_n(&b->misses[space], __ATOMIC_RELAXED);
}
