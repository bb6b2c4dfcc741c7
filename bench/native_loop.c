// SPDX-License-Identifier: MIT
/*
 * The host side of B9 (and the TSC calibration of B6/B9): the same loop the
 * trapbench guest runs (guests/lib/bench_loop.h, included as is), in a host
 * process. Built by bench/lib.py (native_tool) with
 *     gcc -O2 -o $B/bench/native_loop bench/native_loop.c
 *
 *   native_loop N         N iterations: prints "n=N cycles=C ns=T check=X"
 *   native_loop --tsc-hz  TSC ticks per second against CLOCK_MONOTONIC_RAW
 *                         over ~200 ms: prints "tsc_hz=H"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../guests/lib/bench_loop.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int tsc_hz(void)
{
	double hz[3], t;

	for (int i = 0; i < 3; i++) {
		long long t0 = now_ns();
		unsigned long long c0 = bench_rdtsc();
		struct timespec d = { 0, 70 * 1000 * 1000 };
		nanosleep(&d, NULL);
		unsigned long long c1 = bench_rdtsc();
		long long t1 = now_ns();
		hz[i] = (double) (c1 - c0) * 1e9 / (double) (t1 - t0);
	}
	/* the median of three */
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (hz[j] < hz[i]) {
				t = hz[i];
				hz[i] = hz[j];
				hz[j] = t;
			}
	printf("tsc_hz=%.0f\n", hz[1]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--tsc-hz") == 0)
		return tsc_hz();
	if (argc != 2) {
		fprintf(stderr, "usage: %s N | --tsc-hz\n", argv[0]);
		return 2;
	}
	unsigned long n = strtoul(argv[1], NULL, 0);
	long long t0 = now_ns();
	unsigned long long c0 = bench_rdtsc();
	unsigned long x = bench_loop(n);
	unsigned long long c1 = bench_rdtsc();
	long long t1 = now_ns();
	printf("n=%lu cycles=%llu ns=%lld check=%lu\n", n, c1 - c0, t1 - t0, x);
	return 0;
}
