/* SPDX-License-Identifier: MIT */
/*
 * The B9 CPU-bound loop and a TSC read, shared word for word by the
 * trapbench guest (guests/trapbench.c) and the host reference
 * (bench/native_loop.c, built by bench/b9_cpu.py with gcc -O2), so both
 * run the same instruction sequence at the same alignment.
 *
 * One iteration: add, rol (a dependency chain through x: ~2 cycles), dec,
 * jnz. Plain integer instructions only (the slow-host rules of
 * guests/README.md: KVM emulates them when the guest kernel runs them in
 * hw mode on a host without VT-x). Needs no header: the guest has no libc.
 */
#ifndef GUEST_BENCH_LOOP_H
#define GUEST_BENCH_LOOP_H

static inline unsigned long bench_loop(unsigned long n)
{
	unsigned long x = 1;

	if (!n)
		return x;
	__asm__ volatile(".p2align 5\n"
			 "1:\n\t"
			 "add %1, %0\n\t"
			 "rol $7, %0\n\t"
			 "dec %1\n\t"
			 "jnz 1b"
			 : "+r"(x), "+r"(n) : : "cc");
	return x;
}

static inline unsigned long long bench_rdtsc(void)
{
	unsigned int lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return lo | (unsigned long long) hi << 32;
}

#endif
