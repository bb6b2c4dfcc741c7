/* SPDX-License-Identifier: MIT */
/*
 * The targets' checks: a violated one prints why, naming the target, and
 * aborts, which libFuzzer reports as a crash and tests/unit/test_fuzz_replay
 * as a failure. Each target wraps it: #define x_assert(c, ...) FUZZ_CHECK("fuzz_x", c, __VA_ARGS__)
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(target, cond, ...) do {                                \
		if (!(cond)) {                                            \
			fprintf(stderr, target ": " __VA_ARGS__);         \
			fputc('\n', stderr);                              \
			abort();                                          \
		}                                                         \
	} while (0)
