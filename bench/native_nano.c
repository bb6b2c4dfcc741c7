// SPDX-License-Identifier: MIT
/*
 * The host side of B7: host-process equivalents of minios's nanobench rows
 * (guests/minios/user/nanobench.c), timed the same way (rdtsc around N
 * operations, TSC cycles per operation). Built by bench/lib.py (native_tool)
 * with
 *     gcc -O2 -o $B/bench/native_nano bench/native_nano.c
 *
 *   native_nano N   prints one line per row: "row=NAME n=OPS cycles=C"
 *                   (rows it cannot run here say "row=NAME skipped=WHY")
 *
 * What each row is on the host, and how far it is from the guest's:
 *   syscall  getpid through the `syscall` instruction: the host kernel's
 *            system call path (minios: syscall + sysretq)
 *   int80    getpid through `int $0x80`: the host's ia32 compat entry
 *            (minios: int 0x80 + iretq); skipped without IA32_EMULATION
 *   callret  the same call/ret loop as nanobench, user mode only
 *   pgfault  first touch of an anonymous page: a demand-zero minor fault,
 *            like minios's (256 pages per mapping, as nanobench's cap)
 *   divzero  `div` by zero with a SIGFPE handler that skips it: Linux
 *            delivers a signal and returns by sigreturn, much more work
 *            than minios's in-kernel skip (not the same operation)
 *   ptemod   mmap(MAP_FIXED|MAP_POPULATE) + munmap of one page: two system
 *            calls, a fresh zeroed page, two PTE changes and a TLB flush,
 *            as minios's map + unmap
 * nanobench's "in" (a port read by the kernel) has no host-process
 * equivalent: a host process needs ioperm, and this host is itself a VM,
 * so the port read would time its own hypervisor. It is not run.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define PAGE 4096
#define PGFAULT_BATCH 256

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t) hi << 32) | lo;
}

static void report(const char *row, long ops, uint64_t cycles)
{
	printf("row=%s n=%ld cycles=%llu\n", row, ops, (unsigned long long) cycles);
	fflush(stdout);
}

static __attribute__((noinline)) long callee(long x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

static sigjmp_buf probe_jmp;

static void probe_handler(int sig)
{
	(void) sig;
	siglongjmp(probe_jmp, 1);
}

static long int80_getpid(void)
{
	long r = 20;                    /* __NR_getpid of the ia32 table */

	__asm__ volatile("int $0x80" : "+a"(r) : : "memory", "cc", "r8", "r9", "r10", "r11");
	return r;
}

static bool int80_works(void)
{
	struct sigaction sa, old_segv;
	bool ok = false;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_handler;
	sigaction(SIGSEGV, &sa, &old_segv);
	if (sigsetjmp(probe_jmp, 1) == 0)
		ok = int80_getpid() == getpid();
	sigaction(SIGSEGV, &old_segv, NULL);
	return ok;
}

static void skip_div(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	(void) sig;
	(void) si;
	uc->uc_mcontext.gregs[REG_RIP] += 3;     /* div %rcx: 48 f7 f1 */
}

int main(int argc, char **argv)
{
	long n, i, acc = 0;
	uint64_t t, total;

	if (argc != 2 || (n = strtol(argv[1], NULL, 0)) < 1) {
		fprintf(stderr, "usage: %s N\n", argv[0]);
		return 2;
	}

	t = rdtsc();
	for (i = 0; i < n; i++) {
		long r = 39;            /* __NR_getpid */

		__asm__ volatile("syscall" : "+a"(r) : : "rcx", "r11", "memory");
	}
	report("syscall", n, rdtsc() - t);

	if (int80_works()) {
		t = rdtsc();
		for (i = 0; i < n; i++)
			int80_getpid();
		report("int80", n, rdtsc() - t);
	} else {
		printf("row=int80 skipped=no-ia32-emulation\n");
	}

	t = rdtsc();
	for (i = 0; i < n * 1000; i++)
		acc = callee(acc);
	report("callret", n * 1000, rdtsc() - t);

	/* Demand-zero faults, 256 pages per mapping (nanobench's cap), until n
	 * faults; only the touches are timed. */
	total = 0;
	for (i = 0; i < n; i += PGFAULT_BATCH) {
		long m = n - i < PGFAULT_BATCH ? n - i : PGFAULT_BATCH;
		char *p = mmap(NULL, PGFAULT_BATCH * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		madvise(p, PGFAULT_BATCH * PAGE, MADV_NOHUGEPAGE);
		t = rdtsc();
		for (long j = 0; j < m; j++)
			*(volatile char *) (p + j * PAGE) = 1;
		total += rdtsc() - t;
		munmap(p, PGFAULT_BATCH * PAGE);
	}
	report("pgfault", n, total);

	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = skip_div;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigaction(SIGFPE, &sa, NULL);
		t = rdtsc();
		for (i = 0; i < n; i++)
			__asm__ volatile(".byte 0x48, 0xf7, 0xf1" : : "a"(1), "d"(0), "c"(0));
		report("divzero", n, rdtsc() - t);
		signal(SIGFPE, SIG_DFL);
	}

	{
		char *base = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (base == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		munmap(base, PAGE);     /* a free, page-aligned address to map at */
		t = rdtsc();
		for (i = 0; i < n; i++) {
			void *p = mmap(base, PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0);

			if (p != base) {
				perror("mmap");
				return 1;
			}
			munmap(p, PAGE);
		}
		report("ptemod", n, rdtsc() - t);
	}
	return acc == n * 1000 ? 0 : 1;
}
