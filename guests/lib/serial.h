/* SPDX-License-Identifier: MIT */
/* Polled output on the COM1 16550 (0x3f8): no interrupts, no input. */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

#include "types.h"

void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);
void serial_puts(const char *s);   /* no newline added */

#endif
