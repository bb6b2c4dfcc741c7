/* SPDX-License-Identifier: MIT */
/*
 * A minimal printf to COM1 and into buffers.
 * Conversions: %d %i %u %x %X %c %s %p %%; length modifiers l, ll, z
 * (so %ld %lu %lx %llx %zu); flags '-' and '0'; a decimal field width.
 */
#ifndef GUEST_PRINTF_H
#define GUEST_PRINTF_H

#include "types.h"

int printf(const char *fmt, ...) __printf(1, 2);
int vprintf(const char *fmt, va_list ap) __printf(1, 0);
/* Always NUL-terminates when size > 0; returns the length it would have had. */
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __printf(3, 0);

#endif
