// SPDX-License-Identifier: MIT
/*
 * spin: never exits. Counts busy-loop iterations and prints "spin: N"
 * (N = 0, 1, 2, ...) every "interval=N" iterations.
 *
 * One iteration is two instructions (dec; jnz). The default is sized for
 * hosts without VT-x/AMD-V, where KVM emulates guest CPL0 code: measured
 * there in hw mode with a minimal KVM runner, 1.5-1.9 us per iteration, so
 * 100000 iterations print a line every ~150-190 ms (5-7 lines/s). Where
 * the loop runs natively (shadow mode, or a VT-x host) an interval takes
 * ~35 us and the rate is bounded by the serial port (two exits per byte,
 * ~0.5 ms per line on the slow host): use e.g. interval=300000000 there.
 */
#include "guest.h"

#define SPIN_DEFAULT_INTERVAL 100000

static void busy_loop(unsigned long n)
{
	if (!n)
		return;
	__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
}

void guest_main(const struct guest_boot *b)
{
	long interval = cmdline_int("interval", SPIN_DEFAULT_INTERVAL);
	unsigned long n;

	if (interval < 0)
		interval = SPIN_DEFAULT_INTERVAL;
	for (n = 0;; n++) {
		printf("spin: %lu\n", n);
		busy_loop((unsigned long)interval);
	}
}
