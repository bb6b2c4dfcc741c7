/* SPDX-License-Identifier: MIT */
/*
 * The user programs' library: system-call wrappers, a buffered printf
 * (lib/printf.c, with one write() per line), strings, rdtsc. Programs are
 * built with -fpie and linked at USER_BASE (user.ld): everything is
 * RIP-relative, so they run at 512 GiB with the small code model.
 */
#ifndef MINIOS_ULIB_H
#define MINIOS_ULIB_H

#include "abi.h"
#include "printf.h"
#include "string.h"
#include "types.h"

static inline long sys0(long n)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
	return r;
}

static inline long sys1(long n, long a)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
	return r;
}

static inline long sys2(long n, long a, long b)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

/* The same call through int $0x80 (iretq on the way back). */
static inline long int80_1(long n, long a)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "D"(a) : "memory");
	return r;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (uint64_t) hi << 32;
}

/* Every program defines it: args is its command line after the name. */
int main(const char *args);

/* Console output is buffered per line; every blocking call flushes first. */
void flush(void);
long write(const void *buf, size_t len);        /* unbuffered */
long read(void *buf, size_t len);
int getpid(void);
int yield(void);                        /* 1: another process ran */
void sleep(unsigned long ticks);
__noreturn void exit(int status);
int spawn(const char *cmdline);
int wait(int pid, int *status);
int kill(int pid);
long map(uint64_t va);
long unmap(uint64_t va);
long mapdev(uint64_t va, uint64_t pa);
long info(int what);
long programs(char *buf, size_t len);

/* Parsing helpers. */
const char *skip_spaces(const char *s);
const char *next_word(const char *s);   /* past the current word and the spaces after it */
size_t word_len(const char *s);
long parse_long(const char *s, long dflt);      /* the first word, decimal */

#endif
