// SPDX-License-Identifier: MIT
/*
 * faults: user-mode faults the kernel must survive. Each case runs in a
 * child that the kernel kills (status 128 + vector); then this process
 * touches unmapped memory itself and is killed too, and the shell goes on.
 */
#include "ulib.h"

#define UNMAPPED 0x8200000000ull        /* above every user region */

static const struct {
	const char *name, *what;
} cases[] = {
	{ "unmapped", "read an unmapped user address" },
	{ "kernel", "write kernel memory (present, supervisor-only)" },
	{ "readonly", "write its own code (a read-only page)" },
	{ "divide", "divide by zero" },
	{ "privileged", "execute cli at CPL3" },
	{ "invalid", "execute ud2" },
};

static void do_case(const char *name)
{
	if (!strcmp(name, "unmapped"))
		(void) *(volatile long *) UNMAPPED;
	else if (!strcmp(name, "kernel"))
		*(volatile long *) 0x100000 = 1;
	else if (!strcmp(name, "readonly"))
		*(volatile char *) (uintptr_t) main = 0;
	else if (!strcmp(name, "divide"))
		__asm__ volatile("div %%rcx" : : "a"(1), "d"(0), "c"(0));
	else if (!strcmp(name, "privileged"))
		__asm__ volatile("cli");
	else if (!strcmp(name, "invalid"))
		__asm__ volatile("ud2");
}

int main(const char *args)
{
	char cmd[48];
	unsigned i;

	if (*args) {
		do_case(args);
		return 1;       /* not killed: a kernel bug */
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int pid, status = -1;

		printf("faults: child %u will %s\n", i + 1, cases[i].what);
		snprintf(cmd, sizeof(cmd), "faults %s", cases[i].name);
		pid = spawn(cmd);
		if (pid < 0 || wait(pid, &status) != pid)
			printf("faults: child %u did not run\n", i + 1);
		else
			printf("faults: child %u exit status %d\n", i + 1, status);
	}
	printf("faults: now this process reads 0x%llx\n", UNMAPPED);
	flush();
	(void) *(volatile long *) (UNMAPPED + 8);
	printf("faults: still alive: the kernel did not kill it\n");
	return 1;
}
