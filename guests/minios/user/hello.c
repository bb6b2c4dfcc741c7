// SPDX-License-Identifier: MIT
/* hello: the smallest program: one line through write(), exit status 0. */
#include "ulib.h"

int main(const char *args)
{
	printf("hello: Hello from minios user mode! (pid %d%s%s)\n", getpid(), *args ? ", args: " : "", args);
	return 0;
}
