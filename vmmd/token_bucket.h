/* SPDX-License-Identifier: MIT */
/*
 * A token bucket: at most `rate` takes a second on average, `rate` at
 * once after a quiet second. The supervisor keeps one per connection for
 * the calls that hold a guest's vCPU still (methods.c's costs_guest
 * column, limits.inspect_per_second): a client below admin cannot slow a
 * guest down by asking for its registers in a loop (issue 14, finding 14).
 * Pure: the caller passes the time, so it is tested without sleeping.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct token_bucket {
	double tokens;          /* < 0 never; starts full on the first take */
	uint64_t last_ns;       /* CLOCK_MONOTONIC of the last take; 0: never */
};

/* Take one token at now_ns (monotonic nanoseconds) from a bucket refilled
 * at rate a second. true when there was one; else false and, with
 * ret_wait_ms, how long until there is. rate 0: unlimited. */
bool token_bucket_take(struct token_bucket *b, unsigned rate, uint64_t now_ns, unsigned *ret_wait_ms);
