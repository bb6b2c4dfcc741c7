/* SPDX-License-Identifier: MIT */
#include "vmmd/token_bucket.h"

bool token_bucket_take(struct token_bucket *b, unsigned rate, uint64_t now_ns, unsigned *ret_wait_ms)
{
	if (rate == 0)
		return true;
	if (b->last_ns == 0) {
		b->tokens = rate;
	} else if (now_ns > b->last_ns) {
		b->tokens += (double) (now_ns - b->last_ns) * rate / 1e9;
		if (b->tokens > rate)
			b->tokens = rate;
	}
	b->last_ns = now_ns;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	if (ret_wait_ms)
		*ret_wait_ms = (unsigned) ((1 - b->tokens) * 1000 / rate) + 1;   /* rounded up */
	return false;
}
