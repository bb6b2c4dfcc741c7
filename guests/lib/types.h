/* SPDX-License-Identifier: MIT */
/*
 * Freestanding basics for guests: fixed-width integers, size_t, bool,
 * varargs. Built with -nostdinc, so nothing comes from the host libc.
 * The 64/32-bit typedefs repeat abi/bootinfo.h's exactly (C11 allows
 * an identical typedef twice).
 */
#ifndef GUEST_TYPES_H
#define GUEST_TYPES_H

typedef unsigned char      uint8_t;
typedef unsigned short     uint16_t;
typedef unsigned int       uint32_t;
typedef unsigned long long uint64_t;
typedef signed char        int8_t;
typedef short              int16_t;
typedef int                int32_t;
typedef long long          int64_t;
typedef unsigned long      size_t;
typedef long               ssize_t;
typedef unsigned long      uintptr_t;

#define NULL ((void *)0)

#ifndef __cplusplus
typedef _Bool bool;
#define true  1
#define false 0
#endif

typedef __builtin_va_list va_list;
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, type)   __builtin_va_arg(ap, type)
#define va_end(ap)         __builtin_va_end(ap)

#define offsetof(type, member) __builtin_offsetof(type, member)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define __noreturn __attribute__((noreturn))
#define __packed   __attribute__((packed))
#define __printf(a, b) __attribute__((format(printf, a, b)))

#endif
