// SPDX-License-Identifier: MIT
/*
 * nanobench [N]: Adams & Agesen's nanobenchmarks ("A Comparison of Software
 * and Hardware Techniques for x86 Virtualization", ASPLOS 2006) as user
 * programs, in cycles per operation (rdtsc; the numbers depend on the host
 * and the mode, the format does not):
 *
 *   syscall  getpid through `syscall` (sysretq back)
 *   int80    getpid through `int $0x80` (iretq back)
 *   in       a system call whose kernel side reads one port (COM1's LSR)
 *   callret  a call and a return, in user mode only
 *   pgfault  touching a demand-zero page: #PF, the kernel maps a page (at most 256)
 *   divzero  a divide by zero: #DE, the kernel skips the instruction
 *   ptemod   map + unmap of one page: two PTE changes (one invlpg)
 */
#include "ulib.h"

#define PGFAULT_VA (USER_MAP_BASE + 0x1000000)
#define PTEMOD_VA  (USER_MAP_BASE + 0x2000000)
#define PGFAULT_MAX 256         /* a process owns at most 512 pages (minios.h MAX_OWNED) */

static void report(const char *name, uint64_t cycles, long ops)
{
	printf("nanobench: %-8s %10llu cycles/op (%ld ops)\n", name, (unsigned long long) (cycles / (uint64_t) ops), ops);
}

static __attribute__((noinline)) long callee(long x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

int main(const char *args)
{
	long n = parse_long(args, 200), m, i, acc = 0;
	uint64_t t;

	if (n < 1 || n > 1000000) {
		printf("usage: nanobench [N], 1 <= N <= 1000000\n");
		return 2;
	}
	flush();

	t = rdtsc();
	for (i = 0; i < n; i++)
		sys0(SYS_GETPID);
	report("syscall", rdtsc() - t, n);

	t = rdtsc();
	for (i = 0; i < n; i++)
		int80_1(SYS_GETPID, 0);
	report("int80", rdtsc() - t, n);

	t = rdtsc();
	for (i = 0; i < n; i++)
		sys1(SYS_INB, 0x3fd);     /* COM1 LSR */
	report("in", rdtsc() - t, n);

	t = rdtsc();
	for (i = 0; i < n * 1000; i++)
		acc = callee(acc);
	report("callret", rdtsc() - t, n * 1000);

	m = n < PGFAULT_MAX ? n : PGFAULT_MAX;
	t = rdtsc();
	for (i = 0; i < m; i++)
		*(volatile char *) (PGFAULT_VA + (uint64_t) i * PAGE_SIZE) = 1;
	report("pgfault", rdtsc() - t, m);
	for (i = 0; i < m; i++)
		unmap(PGFAULT_VA + (uint64_t) i * PAGE_SIZE);

	sys1(SYS_DESKIP, 3);
	t = rdtsc();
	for (i = 0; i < n; i++)
		__asm__ volatile(".byte 0x48, 0xf7, 0xf1" : : "a"(1), "d"(0), "c"(0));    /* div %rcx: 3 bytes */
	report("divzero", rdtsc() - t, n);
	sys1(SYS_DESKIP, 0);

	t = rdtsc();
	for (i = 0; i < n; i++) {
		map(PTEMOD_VA);
		unmap(PTEMOD_VA);
	}
	report("ptemod", rdtsc() - t, n);
	return acc == n * 1000 ? 0 : 1;
}
