/* SPDX-License-Identifier: MIT */
/*
 * Machine memory and the physmap (seed "address terms": virtual = guest
 * virtual, physical = guest physical, machine = what vmmd gives KVM).
 *
 * In shadow mode the KVM VM's physical address space is *machine* memory,
 * owned by vmmd: guest-physical frames placed through the physmap (identity
 * by default; `scatter` permutes them so that any path that forgets to
 * translate shows up in tests), then the monitor and the pool of shadow
 * page-table pages above the guest's frames.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE_4K 4096ULL

struct machine_memory {
	uint8_t *host;        /* host mapping of machine [0, size) */
	uint64_t size;
};

struct physmap {
	uint64_t guest_pages;     /* guest-physical memory is [0, guest_pages * 4 KiB) */
	uint32_t *to_machine;     /* guest pfn -> machine pfn */
	uint32_t *to_guest;       /* machine pfn -> guest pfn + 1 (0: not guest memory), machine_pages entries */
	uint64_t machine_pages;
};

/* Identity (seed = 0) or scattered over the first guest_pages machine frames. */
int physmap_init(struct physmap *pm, uint64_t guest_pages, uint64_t machine_pages, uint64_t scatter_seed);
void physmap_free(struct physmap *pm);

/* Machine address of a guest-physical address, or UINT64_MAX outside guest memory. */
uint64_t physmap_gpa_to_mpa(const struct physmap *pm, uint64_t gpa);
/* Guest-physical address of a machine address, or UINT64_MAX if not guest memory. */
uint64_t physmap_mpa_to_gpa(const struct physmap *pm, uint64_t mpa);

/* Host pointer to [gpa, gpa+len) — only within one guest page (frames may not be contiguous). */
void *physmap_guest_ptr(const struct physmap *pm, const struct machine_memory *mm, uint64_t gpa, size_t len);
/* Host pointer to machine [mpa, mpa+len), bounds-checked. */
void *machine_ptr(const struct machine_memory *mm, uint64_t mpa, size_t len);
