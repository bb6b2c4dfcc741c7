/* SPDX-License-Identifier: MIT */
/* Fixed-size bitmaps over uint64_t words (the shadow MMU's page sets). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define BITMAP_WORDS(n) (((n) + 63) / 64)

static inline void bitmap_set(uint64_t *b, uint64_t i) { b[i / 64] |= 1ULL << (i % 64); }
static inline void bitmap_clear(uint64_t *b, uint64_t i) { b[i / 64] &= ~(1ULL << (i % 64)); }
static inline bool bitmap_test(const uint64_t *b, uint64_t i) { return b[i / 64] >> (i % 64) & 1; }

/* The lowest set bit at or above `from` and below n, or n when there is none. */
static inline uint64_t bitmap_next(const uint64_t *b, uint64_t from, uint64_t n)
{
	uint64_t w = from / 64;

	if (from >= n)
		return n;
	for (uint64_t bits = b[w] & (~0ULL << (from % 64));; bits = b[w]) {
		if (bits) {
			uint64_t i = w * 64 + (uint64_t) __builtin_ctzll(bits);
			return i < n ? i : n;
		}
		if (++w >= BITMAP_WORDS(n))
			return n;
	}
}
