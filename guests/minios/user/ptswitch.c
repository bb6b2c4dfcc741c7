// SPDX-License-Identifier: MIT
/*
 * ptswitch: the seed's worked example ("how many page table switches"),
 * made reproducible. Process A (this one) reads the console; the kernel
 * switches to process B, which runs in user mode; a key arrives by
 * interrupt; the kernel switches back to A and A's read() returns.
 *
 *   A: "press a key to start"      read()            <- key 1 (A is alone: no switch)
 *   A: spawn B, read()             A blocks: switch A -> B    (guest switch 1)
 *   B: "B runs in user mode ..."   B spins in user mode
 *                                  <- key 2: COM1 interrupt in B's user mode,
 *                                     A is woken: switch B -> A (guest switch 2)
 *   A: kill B, read()              A is alone: idle, no switch <- key 3
 *   A: reports what happened, exits.
 *
 * Nothing else switches page tables meanwhile: the shell is blocked in
 * wait(), the tick is stopped while at most one process is runnable
 * (pit.c), and idling keeps the CR3 of whoever ran last (proc.c). So
 * between key 1 and key 3 the kernel writes CR3 exactly twice, which A
 * reads back from the kernel's counter (INFO_CR3_WRITES) and vmmd, in
 * shadow mode, counts as pt_switches.guest (docs/seed.md).
 */
#include "ulib.h"

int main(const char *args)
{
	long before, after;
	char got = 0, c;
	int b;

	if (!strncmp(args, "other", 5)) {
		/* One write(), no other system call: B's part of the count stays small. */
		printf("ptswitch: B runs in user mode while A waits in read(); press a key\n");
		for (;;)
			__asm__ volatile("pause");
	}

	before = info(INFO_CR3_WRITES);
	printf("ptswitch: A (pid %d) will call read(); press a key to start\n", getpid());
	read(&c, 1);
	b = spawn("ptswitch other");
	if (b < 0) {
		printf("ptswitch: cannot start B (error %d)\n", -b);
		return 1;
	}
	read(&got, 1);
	kill(b);
	read(&c, 1);
	after = info(INFO_CR3_WRITES);
	wait(b, NULL);
	printf("ptswitch: A's read() returned '%c' after the kernel ran B and switched back\n",
	       got >= ' ' && got < 0x7f ? got : '?');
	printf("ptswitch: guest page-table switches while A waited: %ld (A -> B, B -> A)\n", after - before);
	return after - before == 2 ? 0 : 1;
}
