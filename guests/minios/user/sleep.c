// SPDX-License-Identifier: MIT
/*
 * sleep [N]: block for N timer ticks (MINIOS_HZ per second). With nothing
 * else runnable, the kernel starts the 8254 for the sleeper and halts until
 * the tick that wakes it.
 */
#include "ulib.h"

int main(const char *args)
{
	long n = parse_long(args, 10), t0, t1;

	if (n < 0 || n > 100000) {
		printf("usage: sleep [TICKS], 0 <= TICKS <= 100000\n");
		return 2;
	}
	t0 = info(INFO_TICKS);
	sleep((unsigned long) n);
	t1 = info(INFO_TICKS);
	printf("sleep: slept %ld ticks\n", n);
	return t1 - t0 >= n ? 0 : 1;
}
