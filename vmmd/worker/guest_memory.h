/* SPDX-License-Identifier: MIT */
/*
 * Guest-physical memory: one anonymous mapping in the worker, handed to KVM
 * as a memory slot at guest-physical 0. Every translation from a guest
 * address to a host pointer goes through guest_memory_ptr(), which checks
 * the whole range with overflow-safe arithmetic: guest values are hostile.
 */
#pragma once

#include <stdint.h>
#include <stddef.h>

/* vmmd's hw platform keeps RAM below the 32-bit MMIO hole for now. */
#define GUEST_MEMORY_MAX (3ULL << 30)

struct guest_memory {
	uint8_t *host;
	uint64_t size;
};

int guest_memory_map(uint64_t size, struct guest_memory *ret);
void guest_memory_unmap(struct guest_memory *m);

/* Host pointer for [gpa, gpa+len), or NULL if any byte lies outside memory. */
void *guest_memory_ptr(const struct guest_memory *m, uint64_t gpa, uint64_t len);
