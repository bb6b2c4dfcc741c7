// SPDX-License-Identifier: MIT
/*
 * minios: the 8254's channel 0, the scheduler's tick (MINIOS_HZ, IRQ 0).
 *
 * The tick only runs while something needs it: two or more runnable
 * processes (round-robin preemption) or a sleeping one (proc.c decides).
 * With one runnable process, or none, it is stopped ("tickless", as
 * Linux's NO_HZ): no interrupt disturbs a lone process in user mode, which
 * is what makes the ptswitch scenario's counts exact, and an idle VM costs
 * no exits. Starting writes a fresh count (mode 2), so the first tick comes
 * a whole period later; stopping selects mode 5, which waits for a gate edge
 * that channel 0 (gate tied high) never sees: KVM's PIT and vmmd's
 * (devices/pit8254.c) both stop counting.
 */
#include "minios.h"

#define PIT_CH0     0x40
#define PIT_CMD     0x43
#define PIT_HZ      1193182u
#define PIT_DIVISOR ((PIT_HZ + MINIOS_HZ / 2) / MINIOS_HZ)

static bool running;

void pit_init(void)
{
	running = true;         /* whatever the loader left: stop it */
	pit_set(false);
}

void pit_set(bool on)
{
	if (on == running)
		return;
	running = on;
	if (on) {
		outb(PIT_CMD, 0x34);                    /* channel 0, lobyte/hibyte, mode 2 */
		outb(PIT_CH0, PIT_DIVISOR & 0xff);
		outb(PIT_CH0, PIT_DIVISOR >> 8);
	} else {
		outb(PIT_CMD, 0x1a);                    /* channel 0, lobyte, mode 5 */
		outb(PIT_CH0, 0xff);
	}
}

bool pit_running(void)
{
	return running;
}
