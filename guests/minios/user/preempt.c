// SPDX-License-Identifier: MIT
/*
 * preempt: timer preemption. A child spins in user mode and never enters
 * the kernel; the parent spins too, asking the kernel only for counters,
 * until 30 ticks have passed. Each gives up the CPU only when its quantum
 * (3 ticks) is over, so context switches while it spun mean the tick
 * preempted them. Then the parent kills the child.
 */
#include "ulib.h"

int main(const char *args)
{
	long t0, s0, s1;
	int pid, status = 0;

	if (!strcmp(args, "child"))
		for (;;)
			__asm__ volatile("pause");
	pid = spawn("preempt child");
	if (pid < 0) {
		printf("preempt: cannot start the child (error %d)\n", -pid);
		return 1;
	}
	s0 = info(INFO_SWITCHES);
	t0 = info(INFO_TICKS);
	while (info(INFO_TICKS) - t0 < 30)
		for (volatile int i = 0; i < 100000; i++)
			;
	s1 = info(INFO_SWITCHES);
	kill(pid);
	wait(pid, &status);
	if (s1 - s0 >= 2)
		printf("preempt: the tick preempted a CPU-bound parent and child in turn; the child was killed (status %d)\n",
		       status);
	else
		printf("preempt: no preemption in 30 ticks\n");
	return s1 - s0 >= 2 ? 0 : 1;
}
