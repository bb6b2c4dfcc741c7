// SPDX-License-Identifier: MIT
#include "ulib.h"

static char out[256];
static size_t out_len;

void flush(void)
{
	if (out_len)
		sys2(SYS_WRITE, (long) out, (long) out_len);
	out_len = 0;
}

/* lib/printf.c's output hook: printf in user mode fills the line buffer. */
void serial_putc(char c);
void serial_putc(char c)
{
	out[out_len++] = c;
	if (c == '\n' || out_len == sizeof(out))
		flush();
}

long write(const void *buf, size_t len)
{
	flush();
	return sys2(SYS_WRITE, (long) buf, (long) len);
}

long read(void *buf, size_t len)
{
	flush();
	return sys2(SYS_READ, (long) buf, (long) len);
}

int getpid(void)
{
	return (int) sys0(SYS_GETPID);
}

int yield(void)
{
	flush();
	return (int) sys0(SYS_YIELD);
}

void sleep(unsigned long ticks)
{
	flush();
	sys1(SYS_SLEEP, (long) ticks);
}

void exit(int status)
{
	flush();
	for (;;)
		sys1(SYS_EXIT, status);
}

int spawn(const char *cmdline)
{
	flush();
	return (int) sys2(SYS_SPAWN, (long) cmdline, (long) strlen(cmdline));
}

int wait(int pid, int *status)
{
	flush();
	return (int) sys2(SYS_WAIT, pid, (long) status);
}

int kill(int pid)
{
	return (int) sys1(SYS_KILL, pid);
}

long map(uint64_t va)
{
	return sys1(SYS_MAP, (long) va);
}

long unmap(uint64_t va)
{
	return sys1(SYS_UNMAP, (long) va);
}

long mapdev(uint64_t va, uint64_t pa)
{
	return sys2(SYS_MAPDEV, (long) va, (long) pa);
}

long info(int what)
{
	return sys1(SYS_INFO, what);
}

long programs(char *buf, size_t len)
{
	return sys2(SYS_PROGRAMS, (long) buf, (long) len);
}

const char *skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

size_t word_len(const char *s)
{
	size_t n = 0;

	while (s[n] && s[n] != ' ' && s[n] != '\t')
		n++;
	return n;
}

const char *next_word(const char *s)
{
	s = skip_spaces(s);
	return skip_spaces(s + word_len(s));
}

long parse_long(const char *s, long dflt)
{
	long v = 0;
	bool neg = false, any = false;

	s = skip_spaces(s);
	if (*s == '-') {
		neg = true;
		s++;
	}
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		any = true;
	}
	if (!any || (*s && *s != ' ' && *s != '\t'))
		return dflt;
	return neg ? -v : v;
}
