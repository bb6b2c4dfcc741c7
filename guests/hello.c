// SPDX-License-Identifier: MIT
/*
 * hello: the smallest useful guest. Prints two lines on COM1 and exits
 * through the debug-exit port with the code from "exit=N" (default 0).
 * With "reset=1" it resets the machine through the i8042 instead, as
 * Linux's reboot=k does (tests of on_reset).
 */
#include "guest.h"

void guest_main(const struct guest_boot *b)
{
	printf("Hello from vmmd guest!\n");
	printf("hello: vcpus=%u memory=%llu MiB mode=%s cmdline='%s'\n",
	       b->vcpus, (unsigned long long)(b->memory_bytes >> 20),
	       guest_mode_name(b->mode), b->cmdline);
	if (cmdline_int("reset", 0)) {
		outb(0x64, 0xfe);
		halt_forever();
	}
	vmm_exit((int)cmdline_int("exit", 0));
}
