// SPDX-License-Identifier: MIT
/*
 * pingpong N: two processes yield to each other. Ping yields N times; pong
 * yields until ping kills it. With both runnable every yield() is a context
 * switch, and a page-table switch (each process has its own PML4): each of
 * ping's yields runs pong, whose yield comes back, so at least 2N CR3
 * writes happen meanwhile. (The tick may add a preemption where the host
 * stalls the VM for a few ticks: more switches, never fewer, so what this
 * prints does not change.)
 */
#include "ulib.h"

int main(const char *args)
{
	long n, i, switched = 0, c0, c1;
	int pid, status = -1;

	if (!strcmp(args, "pong"))
		for (;;)
			yield();
	n = parse_long(args, 100);
	if (n < 1 || n > 1000000) {
		printf("usage: pingpong [N], 1 <= N <= 1000000\n");
		return 2;
	}
	pid = spawn("pingpong pong");
	if (pid < 0) {
		printf("pingpong: cannot start pong (error %d)\n", -pid);
		return 1;
	}
	c0 = info(INFO_CR3_WRITES);
	for (i = 0; i < n; i++)
		switched += yield();
	c1 = info(INFO_CR3_WRITES);
	kill(pid);
	wait(pid, &status);
	printf("pingpong: ping yielded %ld times, %ld of them to pong; pong was killed (status %d)\n",
	       n, switched, status);
	printf("pingpong: %s\n", c1 - c0 >= 2 * n ? "every yield switched page tables there and back"
						    : "TOO FEW PAGE-TABLE SWITCHES");
	return 0;
}
