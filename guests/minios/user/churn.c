// SPDX-License-Identifier: MIT
/*
 * churn N: spawn and reap N short processes, four at a time. Child i exits
 * with status i % 256. Every page a child had (image copies, stack, page
 * tables, PML4) must be back in the allocator afterwards.
 */
#include "ulib.h"

#define BATCH 4

static bool run_batch(long first, long count)
{
	int pids[BATCH];
	char cmd[40];
	bool ok = true;
	long i;

	for (i = 0; i < count; i++) {
		snprintf(cmd, sizeof(cmd), "churn child %ld", first + i);
		pids[i] = spawn(cmd);
		if (pids[i] < 0) {
			printf("churn: spawn failed (error %d)\n", -pids[i]);
			ok = false;
		}
	}
	for (i = 0; i < count; i++) {
		int status = -1;

		if (pids[i] < 0)
			continue;
		if (wait(pids[i], &status) != pids[i] || status != (int) ((first + i) % 256))
			ok = false;
	}
	return ok;
}

int main(const char *args)
{
	long n, done, free0, free1;
	bool ok;

	if (!strncmp(args, "child", 5))
		return (int) (parse_long(next_word(args), 0) % 256);
	n = parse_long(args, 20);
	if (n < 1 || n > 100000) {
		printf("usage: churn [N], 1 <= N <= 100000\n");
		return 2;
	}
	run_batch(0, 1);                /* warm up: this process's own pages settle */
	free0 = info(INFO_FREE_PAGES);
	ok = true;
	for (done = 0; done < n; done += BATCH)
		ok &= run_batch(done, n - done < BATCH ? n - done : BATCH);
	free1 = info(INFO_FREE_PAGES);
	printf("churn: %ld processes spawned and reaped, %d at a time\n", n, BATCH);
	printf("churn: exit statuses %s\n", ok ? "as expected" : "WRONG");
	printf("churn: pages leaked: %ld\n", free0 - free1);
	return ok && free0 == free1 ? 0 : 1;
}
