/* SPDX-License-Identifier: MIT */
/*
 * mov to and from DR0-DR7 on the virtual CPU (SDM vol. 3, 18.2): the
 * values a kernel writes and reads back. The registers live in the PCB;
 * vmmd arms no real breakpoint for them (docs/shadow.md: a hole), so a
 * guest that sets DR7 gets no #DB.
 */
#pragma once

#include <stdint.h>

#include "vmmd/shadow/pcb.h"

/* DR6 and DR7 as after RESET. */
void debugreg_reset(struct shadow_pcb *p);

/* n = 0..7. 0; -ENOSYS for DR4/DR5 with CR4.DE (#UD); -EAGAIN when DR7.GD
 * (general detect) is set: a #DB fault, DR6.BD set and GD cleared as the
 * CPU does on entering the handler; -EINVAL for bits 63:32 of DR6/DR7
 * (#GP(0)). CPL is the caller's to check first (#GP(0) at CPL3). */
int debugreg_write(struct shadow_pcb *p, unsigned n, uint64_t value);
int debugreg_read(struct shadow_pcb *p, unsigned n, uint64_t *ret);
